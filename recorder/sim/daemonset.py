"""The DaemonSet controller's rolling update (the Deployment's is in workload.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gapwatch.recorder.sim.state import PodState

if TYPE_CHECKING:
    from gapwatch.recorder.sim.workload import WorkloadController


def reconcile_daemonset(ctl: WorkloadController) -> None:
    """One pod per eligible node; a new revision replaces pods node by node.

    maxSurge 1: the new pod starts beside the old one, which goes once the new one is ready.
    maxSurge 0: the old pod goes first (at most maxUnavailable nodes without a ready pod), and
    the new one is created as soon as the node has no live pod.
    """
    cur = ctl.current.revision
    by_node: dict[str, list[PodState]] = {}
    for p in ctl.pods.values():
        if not p.gone:
            by_node.setdefault(p.node, []).append(p)
    eligible = ctl.eligible_nodes()
    unavailable = sum(
        1 for n in eligible if not any(p.live and p.ready for p in by_node.get(n, []))
    )
    for node in eligible:
        pods = by_node.get(node, [])
        live = [p for p in pods if p.live]
        new = [p for p in live if p.revision == cur]
        old = [p for p in live if p.revision != cur]
        if not live:
            ctl.make_pod(ctl.current, node)
            continue
        if not old:
            continue
        if ctl.spec.max_surge > 0:
            if not new:
                ctl.make_pod(ctl.current, node)
            elif all(p.ready for p in new):
                for p in old:
                    ctl.delete(p)
        elif unavailable < ctl.spec.max_unavailable or not any(p.ready for p in old):
            for p in old:
                ctl.delete(p)
            unavailable += 1
