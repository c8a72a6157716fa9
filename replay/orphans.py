"""A local pod the API removed after its Node was deleted: the node was gone by that removal.

When a Node object is deleted (the cloud node controller removing a terminated instance's
Node, a scale-down, `kubectl delete node`), the pods bound to it are left orphaned, and the pod
garbage collector (kube-controller-manager's PodGC, `gcOrphaned`) deletes each pod whose node no
longer exists, with no grace period: the Pod leaves the API in one step, with no update marking
it terminating before (a graceful deletion shows `deletionTimestamp` first) and no container
stop reported by its kubelet (no `finishedAt`: the kubelet that could write it is the one gone).
PodGC acts only on a Node already deleted, so such a removal was written after the Node's
deletion; the recorder watches Pods and Nodes on separate streams, so it may see the removal
first and the deletion (which carries no write time of its own, replay.owntime) some seconds
later. Where the Node's next change after such a removal is its deletion, the node was gone by
the removal. Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

from gapwatch.replay.fold import AT_US, PodSample, Sample


def _removed_at_once(lane: Sequence[PodSample], lo_us: int, hi_us: int) -> list[int]:
    """When the pod of `lane` (time-ordered) was seen removed in [`lo_us`, `hi_us`] straight from
    a state that was not being deleted (no update marking it terminating) and with no container
    stop newer than its last update's (its kubelet reported none)."""
    out = []
    for before, sample in pairwise(lane):
        if not lo_us <= sample.at_us <= hi_us or sample.state != "gone":
            continue
        if before.state in ("terminating", "gone") or before.deletion_us is not None:
            continue
        stopped = sample.finished_us is not None and (
            before.finished_us is None or sample.finished_us > before.finished_us
        )
        if not stopped:
            out.append(sample.at_us)
    return out


def orphaned_by(
    pods: Sequence[Sequence[PodSample]],
    node_lane: Sequence[Sample],
    lo_us: int,
    hi_us: int,
    deleted_by_us: int,
) -> int | None:
    """The earliest instant in [`lo_us`, `hi_us`] a local pod (`pods`: each one's lane) was seen
    removed at once (`_removed_at_once`) where the Node's next change after it (`node_lane`,
    time-ordered) is its deletion, seen by `deleted_by_us`: the node was deleted by then (PodGC
    removes only the pods of a Node already gone). None where there is no such removal."""
    found = None
    for lane in pods:
        for at in _removed_at_once(lane, lo_us, hi_us):
            k = bisect_right(node_lane, at, key=AT_US)
            if k >= len(node_lane) or (k and node_lane[k - 1].value == "Deleted"):
                continue
            nxt = node_lane[k]
            if nxt.value == "Deleted" and nxt.at_us <= deleted_by_us:
                found = at if found is None else min(found, at)
    return found


def removed_with_node(lane: Sequence[PodSample], node_lane: Sequence[Sample]) -> list[int]:
    """When the pod of `lane` (time-ordered) that was alive was seen removed with no container
    stop newer than its earlier updates' (its kubelet reported none: the update that removed
    it carries no `finishedAt` of this stop), where its Node (`node_lane`, time-ordered) was
    seen deleted before the removal or next after it: PodGC removing the pods of a deleted
    Node (module docstring; a pod being deleted gracefully too: the kubelet that would finish
    that deletion is the one gone). That removal is no kubelet status write. PodGC's own
    marks read the same: with the PodDisruptionConditions gate (KEP-3329, on by default from
    Kubernetes 1.26) it patches the orphan's status to phase `Failed`, with the `DisruptionTarget`
    condition (reason `DeletionByPodGC`, "node no longer exists"), before it deletes it
    (`markFailedAndDeletePodWithCondition`, pkg/controller/podgc/gc_controller.go); the
    `Failed` phase reads as `gone` (replay.facts_k8s), the deletion after it as gone again.
    Older versions delete at once (grace period 0). Either after a quarantine (`quarantineTime`,
    40 s) from the Node's absence in PodGC's informer."""
    out = []
    reported: int | None = None
    for before, sample in pairwise(lane):
        if before.finished_us is not None:
            reported = max(before.finished_us, reported or before.finished_us)
        if sample.state != "gone" or before.state == "gone":
            continue
        if sample.finished_us is not None and (reported is None or sample.finished_us > reported):
            continue
        k = bisect_right(node_lane, sample.at_us, key=AT_US)
        deleted = (k and node_lane[k - 1].value == "Deleted") or (
            k < len(node_lane) and node_lane[k].value == "Deleted"
        )
        if deleted:
            out.append(sample.at_us)
    return out
