"""The node lifecycle controller's mark on the pods of a node it found NotReady.

Upstream (kube-controller-manager, `monitorNodeHealth` in
pkg/controller/nodelifecycle/node_lifecycle_controller.go): a node whose kubelet has posted no
status and renewed no lease for `--node-monitor-grace-period` (40 s; 50 s from 1.32,
kubernetes/kubernetes#126287; assumption `node_grace_s`) gets its Ready condition written
`Unknown` (`tryUpdateNodeHealth`, one UpdateStatus of the Node). In the same pass, the Ready
condition having left True, the controller records the `NodeNotReady` event and calls
`MarkPodsNotReady` (pkg/controller/util/node/controller_utils.go), which sets the Ready
condition of every pod bound to the node False, one UpdateStatus per pod, and changes nothing
else: the container statuses stay as the kubelet last wrote them (running, ready), since the
kubelet that could say more is the one not heard from. So each pod's mark is written after
the Node's NotReady. The recorder watches Pods and Nodes on separate streams, each delivering a
change up to the watch skew late (`watch_skew_s`, measured from the objects' own write times
where they carry them: replay.measure), so a mark may be seen up to that skew before
the NotReady, and the Pod's mark then sits at the window start's latest instant with the Node
still Ready there.

In the log a mark is a pod update read `pending` (replay.podstate: a Ready False while every
container still reports ready is not the kubelet's) right after the pod was seen alive, that
reports no container stop newer than the pod's earlier updates did (a kubelet's report of a
crash or an exit carries one), seen within the watch skew of the Node's turn to NotReady or
Unknown. Such a not-ready says the node stopped, not a pod: where the fall that left no local
pod alive inside a window start's range is a mark, the window is `node-not-ready`
(replay.detect.classify), unless a kube-proxy look was answered from the start's latest
instant until the NotReady was seen: a probe that saw the node answer says it was up then,
and the mark is then only the node's Kubernetes side (a kubelet cut off from the API server),
which the other rules read (docs/semantics.md, "node-not-ready without probes"). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.context import pod_lanes
from gapwatch.replay.fold import FoldState, PodSample, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.observed import newest_looks
from gapwatch.replay.opener import answered_in
from gapwatch.replay.podstate import ALIVE

#: the node controller's own Ready states (a deletion is another writer's: replay.orphans)
_MARKED_BY = ("NotReady", "Unknown")


def marked(lane: Sequence[PodSample], i: int) -> bool:
    """Whether the pod's update `lane[i]` may be MarkPodsNotReady's: `pending` right after
    an update that saw the pod alive, reporting no container stop newer than any of the pod's
    earlier updates did."""
    p = lane[i]
    if p.state != "pending" or i == 0 or lane[i - 1].state not in ALIVE:
        return False
    if p.finished_us is None:
        return True
    before = [q.finished_us for q in lane[:i] if q.finished_us is not None]
    return bool(before) and p.finished_us <= max(before)


def _fall(state: FoldState, svc: ServiceRef, node: str, lo_us: int, hi_us: int) -> int | None:
    """When the local pods' last one alive fell in [`lo_us`, `hi_us`] (the first such fall),
    where that fall was a mark (`marked`); None where none fell so, or where a stop some other
    writer reported (the kubelet's, a deletion) left no pod alive. A pod that stopped while
    another stayed alive opened nothing (F held by the other)."""
    falls: list[tuple[int, bool]] = []
    for _, lane, n in pod_lanes(state, svc, node):
        for i in range(1, n):
            p = lane[i]
            if p.at_us > hi_us:
                break
            if p.at_us >= lo_us and p.state not in ALIVE and lane[i - 1].state in ALIVE:
                falls.append((p.at_us, marked(lane, i)))
    for at_us, mark in sorted(falls):
        if not _alive_after(state, svc, node, at_us):
            return at_us if mark else None
    return None


def _alive_after(state: FoldState, svc: ServiceRef, node: str, at_us: int) -> bool:
    """Whether a local pod was still seen alive at `at_us`."""
    for _, lane, n in pod_lanes(state, svc, node):
        last = next((lane[i] for i in range(n - 1, -1, -1) if lane[i].at_us <= at_us), None)
        if last is not None and last.state in ALIVE:
            return True
    return False


def _turned_down(node_lane: Sequence[Sample], lo_us: int, hi_us: int) -> int | None:
    """When the Node was seen turning NotReady or Unknown in [`lo_us`, `hi_us`] (from a state
    that was neither: the transition MarkPodsNotReady follows), else None."""
    for k, s in enumerate(node_lane):
        if s.at_us > hi_us:
            break
        turned = k == 0 or node_lane[k - 1].value not in _MARKED_BY
        if s.at_us >= lo_us and s.value in _MARKED_BY and turned:
            return s.at_us
    return None


def marked_down(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    span: tuple[int, int],
    settings: DetectSettings,
    looks: Sequence[Sequence[Sample]] = (),
) -> bool:
    """The local pods' fall inside a window start's range `span` (since, at: each end widened
    by the watch skew, as the Pod updates may be seen that late) was the node controller's
    mark of a NotReady node (module docstring): the fall that left no local pod alive there a
    mark, the Node seen turning NotReady or Unknown within the watch skew of it, and no look
    of `looks` or of the node's probe lanes answered from the start's latest instant until
    then (a node seen answering was up: not read here)."""
    node_lane = state.nodes.get((svc.cluster, node))
    if not node_lane:
        return False
    skew = seconds_us(settings.watch_skew_s)
    since, at = span
    if _turned_down(node_lane, since - 2 * skew, at + 2 * skew) is None:
        return False  # the usual case, read first: no turn near the range, no mark to read
    last = _fall(state, svc, node, since - skew, at + skew)
    if last is None:
        return False
    down = _turned_down(node_lane, last - skew, last + skew)
    if down is None:
        return False
    newest = newest_looks(state, svc, node, settings)
    lo = min(at, down)
    return not any(answered_in(lane, lo, down) for lane in (*looks, newest))
