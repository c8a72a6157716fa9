"""The LB's own failed requests from access logs (recorder.accessfields: a 502, 503 or 504 with no
answer from the target): tied to (Service, node) lanes by what the observation named, else by the
target's address and NodePort, and counted inside each window's bounds. Lines tied to no node are
counted apart, never guessed onto a window. Pure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

from gapwatch.replay.fold import FoldState
from gapwatch.replay.model import ServiceRef, Window


class Impact(NamedTuple):
    """The LB's own failed requests from access logs, tied to lanes where the fields allow."""

    #: request times (us) of failed requests per (Service, node)
    lanes: dict[tuple[ServiceRef, str], list[int]]
    #: Services some access-log line was tied to (their windows get a count, maybe 0)
    covered: set[ServiceRef]
    #: failed requests that could not be tied to a node, per Service (None: Service unknown too)
    unknown: dict[ServiceRef | None, int]
    #: their request times (us) in time order, per (cluster, Service or None)
    unknown_at: dict[tuple[str, ServiceRef | None], list[int]]
    #: per lane that an update (`access_impact` with `since`) added lines to: the list it had
    #: and the times added (the lane's list holds both)
    grown: dict[tuple[ServiceRef, str], tuple[list[int], list[int]]] | None = None


def _tie(state: FoldState, cluster: str, target: str) -> tuple[ServiceRef | None, str | None]:
    """The (Service, node) of a target ip:port: the node by its addresses, the Service by its
    NodePort (instance-mode targets are node:NodePort)."""
    ip, _, port = target.rpartition(":")
    svc = state.node_ports.get((cluster, int(port))) if port.isdigit() else None
    return svc, state.node_addresses.get((cluster, ip.strip("[]")))


def access_impact(
    state: FoldState,
    since: Impact | None = None,
    had: Mapping[tuple[ServiceRef, str], int] | None = None,
) -> Impact:
    """Failed requests per lane: lines whose Service and node the observation named (the
    simulator), else tied through the target's address and NodePort; the rest is unknown.
    With `since`: the impact of this state when each of its access lanes held `had` lines
    (they only grow), the Nodes' addresses and the Services' NodePorts as they are now; only
    the lines after those are added (into new lists: `since` is left as it was)."""
    base = since if since is not None else Impact({}, set(), {}, {})
    lanes, covered = dict(base.lanes), set(base.covered)
    unknown, unknown_at = dict(base.unknown), dict(base.unknown_at)
    fresh: set[tuple[ServiceRef, str]] = set()
    fresh_unknown: set[tuple[str, ServiceRef | None]] = set()
    grown: dict[tuple[ServiceRef, str], tuple[list[int], list[int]]] = {}
    for key, samples in state.access.items():
        first = had.get(key, 0) if had is not None and since is not None else 0
        if first >= len(samples):
            continue
        svc, node = key
        named = bool(svc.name)
        if named:
            covered.add(svc)
        for s in samples[first:]:
            owner: ServiceRef | None = svc if named else None
            where = node or None
            if not named or not where:
                tied_svc, tied_node = _tie(state, svc.cluster, s.value)
                owner = owner or tied_svc
                where = where or tied_node
                if owner is not None:
                    covered.add(owner)
            if not s.num:
                continue
            if owner is None or where is None:
                unknown[owner] = unknown.get(owner, 0) + 1
                at = (svc.cluster, owner)
                if at not in fresh_unknown:
                    unknown_at[at] = list(unknown_at.get(at, ()))
                    fresh_unknown.add(at)
                unknown_at[at].append(s.at_us)
            else:
                lane = (owner, where)
                if lane not in fresh:
                    lanes[lane] = list(lanes.get(lane, ()))
                    fresh.add(lane)
                    if since is not None and lane in base.lanes:
                        grown[lane] = (base.lanes[lane], [])
                lanes[lane].append(s.at_us)
                if lane in grown:
                    grown[lane][1].append(s.at_us)
    for lane in fresh:
        lanes[lane].sort()
    for at in fresh_unknown:
        unknown_at[at].sort()
    return Impact(lanes, covered, unknown, unknown_at, grown if since is not None else None)


def failed_requests(
    state: FoldState, windows: Sequence[Window], impact: Impact | None = None
) -> list[Window]:
    """Count the LB's failed requests (access-log lines that are the LB's own 502/503/504 with
    no answer from the target, recorder.accessfields) inside each window's bounds, for the
    Services that have impact data; the others keep None. Lines tied to no node are counted by
    `access_impact(state).unknown`, never guessed onto a window. `impact`: that of `state`,
    when the caller keeps it (replay.checkpoint)."""
    if impact is None:
        impact = access_impact(state)
    out: list[Window] = []
    for w in windows:
        if w.service not in impact.covered:
            out.append(w)
            continue
        lane = impact.lanes.get((w.service, w.node), [])
        count = bisect_right(lane, w.end_latest_us) - bisect_left(lane, w.start_earliest_us)
        out.append(replace(w, failed_requests=count))
    return out
