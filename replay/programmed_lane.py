"""The proxy lane of a node without probes, drawn as detection reads kube-proxy there.

Without NodePort or health-check probes, F on a node is inferred (replay.lanes
`inferred_forwarding`, then the Node's Ready condition): kube-proxy forwards to a serving
local pod from when it programmed the endpoints it forwards to (ready ones, and
serving-terminating ones where ProxyTerminatingEndpoints is on: replay.proxy.pte_enabled) and
the local pods' changes, each within the assumed kube-proxy lag of the change, narrowed by the
node's own sync metrics where they were scraped (replay.syncs.programmed). That reading is a
three-valued signal: surely forwarding, surely not, or either (a change not yet surely
programmed). The segments draw exactly it: `OPEN` where F's kube-proxy part is definite,
`CLOSED` where it is impossible, `UNKNOWN` where it is only possible; a state after an
`UNKNOWN` stretch began somewhere in it (`start_earliest_us` is that stretch's start). So the
lane under a window never says more than the window's samples do. `measured` where the node's
syncs bound the changes (as the windows call them), else `inferred`. Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import AT_US, FoldState, Sample
from gapwatch.replay.lanes import inferred_forwarding
from gapwatch.replay.measure import measured_settings
from gapwatch.replay.model import Provenance, Segment, ServiceRef
from gapwatch.replay.proxy import proxy_lag_hi, pte_enabled
from gapwatch.replay.signals import HI, Iv, Tri
from gapwatch.replay.sync_index import indexed
from gapwatch.replay.unseen import listed_at

_ACCEPT = {True: ("ready", "serving-terminating"), False: ("ready",)}
#: the lane's value where F's kube-proxy part is only possible
UNKNOWN = "UNKNOWN"


def programmed_segments(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    eps: Sequence[Sample],
    settings: DetectSettings,
) -> list[Segment]:
    """The node's proxy lane from its endpoints lane `eps` on (module docstring)."""
    if not eps:
        return []
    mine = measured_settings(state, svc, settings)  # as detection reads the Service
    accept = _ACCEPT[pte_enabled(state, svc.cluster, node, mine)]
    looks = indexed(state, (svc.cluster, node))  # carried on (replay.sync_index)
    lag_hi = proxy_lag_hi(state, svc, mine)
    tri, synced = inferred_forwarding(state, svc, node, mine, eps, accept, lag_hi, looks)
    provenance: Provenance = "measured" if synced else "inferred"
    first = eps[0]
    out: list[Segment] = []
    began = first.prev_us if first.prev_us is not None else first.at_us
    for value, start, end in _stretches(tri, first.at_us):
        eid = eps[max(0, bisect_right(eps, start, key=AT_US) - 1)].event_id
        earliest = min(began, start)
        out.append(Segment(svc, node, "proxy", value, start, end, earliest, start, provenance, eid))
        began = start if value == UNKNOWN else HI
    return out


def _stretches(tri: Tri, since: int) -> list[tuple[str, int, int | None]]:
    """The signal's values from `since` on, each (value, start, end; None: still at the end)."""
    cuts = {since}
    for iv in (*tri.possible, *tri.definite):
        cuts.update(t for t in (iv.start, iv.end) if since < t < HI)
    times = sorted(cuts)
    out: list[tuple[str, int, int | None]] = []
    for t in times:
        value = _value_at(tri, t)
        if out and out[-1][0] == value:
            continue
        if out:
            out[-1] = (out[-1][0], out[-1][1], t)
        out.append((value, t, None))
    return out


def _value_at(tri: Tri, t: int) -> str:
    if _inside(tri.definite, t):
        return "OPEN"
    return UNKNOWN if _inside(tri.possible, t) else "CLOSED"


def _inside(ivs: Sequence[Iv], t: int) -> bool:
    i = bisect_right(ivs, t, key=lambda iv: iv.start) - 1
    return i >= 0 and ivs[i].start <= t < ivs[i].end


def programmed_inputs(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings
) -> Any:
    """What `programmed_segments` reads besides the node's endpoints and pods' lanes (a lane
    version: replay.checkpoint.lane_versions): its sync looks' count, whether
    ProxyTerminatingEndpoints is on there, the Service's kube-proxy lag bound, first listing
    and measured watch skew (replay.measure.measured_settings: detection's settings)."""
    mine = measured_settings(state, svc, settings)
    return (
        len(state.syncs.get((svc.cluster, node), ())),
        pte_enabled(state, svc.cluster, node, mine),
        proxy_lag_hi(state, svc, mine),
        listed_at(state, svc),
        mine.watch_skew_s,
    )
