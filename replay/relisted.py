"""Stretches a watch relist passed over: the lanes fed by that kind are unknown there. Pure.

After 410 Gone a Kubernetes watch relists (recorder/sources/k8s/relist_gap.py stores the
stretch as a `relist` fact). The relist brings back each object's state at its end, not what
happened in between: a pod that turned not-ready, terminating and was deleted is one DELETED at
the relist; an EndpointSlice that lost its ready endpoint and got it back shows nothing. So over
such a stretch of EndpointSlices or Pods (of the Service's namespace, or of every namespace):

- F (the node serves) is unknown wherever it rests on those lanes: it is never *surely* true
  there (an excursion of the endpoints may hide between two probe looks), and where it comes
  from the health check under ProxyTerminatingEndpoints (a 503 does not say whether a
  serving-terminating endpoint still forwards), from the pods (IP targets) or from the lanes
  alone (no probe), it is possibly true there too. A NodePort probe's failure, or a 503 without
  PTE, still proves F false: those are measured without the endpoints lane.
- R (the LB routes) is unknown there where it is inferred from the endpoints (no LB data), and
  never surely true where an endpoint-driven CCM may have moved the node between two polls.
- A window that touches a stretch is uncertain (`certain` False): its cause and its extent may
  lie in what nobody saw. One that begins inside a stretch is classed from what was measured
  there, not from the stale endpoints lane: the LB began routing to the node inside it (R
  surely false just before) - `registered-before-forwarding`; else the health check answered
  non-200 inside it while the LB routed - `closed-before-deregistered` (kube-proxy closed
  before the node was deregistered; whether the pod was already gone the pods lane would have
  said); else, or for `node-not-ready`, the detector's class. Never a certain class.

Only a Service some of whose EndpointSlices or pods (the pods its slices named) changed in the
stretch is affected (the record names the objects whose resourceVersion moved; a record that
names none, for more than recorder.sources.k8s.relist_gap.MAX_CHANGED, affects every one): an
object not written then hid nothing.

A stretch of **Nodes** (`node_stretches`) leaves each Node that changed in it (every Node, for
a record that names none) with its Ready condition unknown there: a node that went NotReady and
back, or was deleted and re-registered, shows only its state at the relist. Where F rests on
that condition (no probe: the endpoints, the pods and a Ready node) it is never surely true
there and possibly true; a probed node's F is measured without it and keeps its samples. Every
window of such a node that touches the stretch is uncertain and keeps the detector's class (the
EndpointSlices and pods were seen; only `node-not-ready` may hide there: a window whose start
range meets the stretch names it in `also`, replay.undecided.hidden_not_ready). Other nodes keep
theirs.

A stretch starts `watch_skew_s` before the watch's last sign of being in sync (an event
committed just before it may have been on its way) and ends at the relist's end; one whose start
is unknown (null: the recorder resumed from a checkpoint without a stamp and had no stored row
of that stream; recorder/sources/k8s/storeio.py) reaches back to the start of the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.context import ccm_mode
from gapwatch.replay.fold import FoldState, RelistRow, Sample
from gapwatch.replay.membership import pod_targeted
from gapwatch.replay.model import ServiceRef, Window, WindowClass
from gapwatch.replay.signals import LO, Iv, Tri, complement, intersect, union

#: The watched kinds whose relist leaves the endpoints and pods lanes unknown.
LANE_KINDS = frozenset({"EndpointSlice", "Pod"})
#: The watched kind whose relist leaves a node's Ready condition unknown (`node_stretches`).
NODE_KIND = "Node"


def stretches(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> list[Iv]:
    """The stretches over which `svc`'s endpoints and pods lanes are unknown, merged."""
    rows = [
        row
        for row in state.relists.get(svc.cluster, ())
        if row.kind in LANE_KINDS
        and row.namespace in (None, svc.namespace)
        and (row.changed is None or _touches_service(state, svc, row))
    ]
    return _merged(rows, settings)


def node_stretches(state: FoldState, cluster: str, node: str, settings: DetectSettings) -> list[Iv]:
    """The stretches over which `node`'s Ready condition is unknown (a Node relist passed over
    them and the node changed in it, or the record names none), merged."""
    rows = [
        row
        for row in state.relists.get(cluster, ())
        if row.kind == NODE_KIND and (row.changed is None or node in row.changed)
    ]
    return _merged(rows, settings)


def _merged(rows: Iterable[RelistRow], settings: DetectSettings) -> list[Iv]:
    """The stretches of `rows`, each from the watch skew before its start, merged."""
    skew = seconds_us(settings.watch_skew_s)
    out: list[Iv] = []
    for row in rows:
        start = LO if row.since_us is None else row.since_us - skew
        if start < row.until_us:
            out = union(out, [Iv(start, row.until_us, 0, row.event_id)])
    return out


def _touches_service(state: FoldState, svc: ServiceRef, row: RelistRow) -> bool:
    """Some object the Service's lanes read changed in the stretch `row` passed over."""
    assert row.changed is not None
    names: Iterable[str] = (
        state.slices.get(svc, {})
        if row.kind == "EndpointSlice"
        else state.service_pods.get(svc, {})
    )
    return any(f"{svc.namespace}/{name}" in row.changed for name in names)


def unknown_over(tri: Tri, over: Sequence[Iv], *, possible: bool) -> Tri:
    """`tri` never surely true over `over`; also possibly true there when `possible`."""
    if not over:
        return tri
    definite = intersect(tri.definite, complement(over))
    return Tri(union(tri.possible, over) if possible else tri.possible, definite)


def unknown_lanes(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    signals: tuple[Tri, Tri],
    *,
    r_measured: bool,
    pte: bool,
    over: Sequence[Iv],
) -> tuple[Tri, Tri]:
    """(R, F) of one (service, node) with the stretches `over` applied (module docstring)."""
    routed, serves = signals
    key = (svc, node)
    measured_off = bool(state.probes["nodeport"].get(key)) or (
        bool(state.probes["health"].get(key)) and not pte
    )
    serves = unknown_over(serves, over, possible=pod_targeted(state, key) or not measured_off)
    if not r_measured:
        routed = unknown_over(routed, over, possible=True)
    elif ccm_mode(state, svc, settings) == "endpoint":
        routed = unknown_over(routed, over, possible=False)
    return routed, serves


def touching(
    windows: Sequence[Window],
    over: Sequence[Iv],
    routed: Tri | None = None,
    health: Sequence[Sample] = (),
) -> list[Window]:
    """`windows` with those that touch a stretch made uncertain, and those that begin inside
    one classed from the measured lanes `routed` and `health` (module docstring)."""
    if not over:
        return list(windows)
    out = []
    for w in windows:
        if not any(iv.start <= w.end_latest_us and w.start_earliest_us <= iv.end for iv in over):
            out.append(w)
            continue
        began = any(iv.start <= w.start_earliest_us <= iv.end for iv in over)
        cls = _measured_class(w, routed, health) if began and routed is not None else w.cls
        out.append(replace(w, certain=False, cls=cls))
    return out


def _measured_class(w: Window, routed: Tri, health: Sequence[Sample]) -> WindowClass:
    if w.cls == "node-not-ready":
        return w.cls
    before = w.start_earliest_us - 1
    if not any(iv.start <= before < iv.end for iv in routed.possible):
        return "registered-before-forwarding"
    for s in health:
        inside = w.start_earliest_us <= s.at_us <= w.end_latest_us
        if inside and s.value.isdigit() and s.value != "200":
            return "closed-before-deregistered"
    return w.cls
