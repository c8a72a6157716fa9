"""The cluster-autoscaler's scale-down of one node, in its real order.

1. Taint the node `ToBeDeletedByClusterAutoscaler` (NoSchedule, value the Unix time): nothing new
   lands on it, the AWS Load Balancer Controller's instance mode stops registering it (the
   node-driven CCM's `exclude_to_be_deleted`), and from kube-proxy 1.30 (KEP-3836, beta; alpha
   in 1.28-1.29) kube-proxy's own /healthz answers 503 with `nodeEligible: false`. The
   per-Service healthCheckNodePort ignores the taint: an `externalTrafficPolicy: Local` Service
   keeps answering by its local endpoints (DESIGN.md section 6).
2. Evict every pod but DaemonSet pods (graceful deletion: preStop and grace period apply).
3. Once the evicted pods are gone, the machine is terminated
   (`nodes.scale_down_delete_after_s` later): the Node object is deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gapwatch.recorder.sim.core import us

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World

#: How often the autoscaler looks whether the evicted pods are gone (seconds).
POLL_S = 1.0


def draining_nodes_gate(w: World) -> bool:
    """Whether kube-proxy's /healthz reports node eligibility (KEP-3836) in this scenario."""
    explicit = w.s.kube_proxy.draining_terminating_nodes
    if explicit is not None:
        return explicit
    from gapwatch.recorder.sim.proxyhealth import kube_proxy_minor

    return kube_proxy_minor(w.s) >= 30


def scale_down(w: World, node: str) -> None:
    n = w.nodes.get(node)
    if n is None or not n.exists or n.to_be_deleted:
        return
    n.to_be_deleted = True
    w.api.node(n, "MODIFIED")
    w.ccm.on_nodes()
    w.prober.touch(node)
    for ctl in w.workloads.values():
        ctl.trigger()
    evicted = [p for p in w.pods.values() if p.node == node and p.owner_kind != "DaemonSet"]
    for p in sorted(evicted, key=lambda q: q.name):
        if p.live:
            w.kubelet.delete(p)
    _wait_for_pods(w, node)


def _wait_for_pods(w: World, node: str) -> None:
    n = w.nodes.get(node)
    if n is None or not n.exists:
        return
    left = [p for p in w.pods.values() if p.node == node and p.owner_kind != "DaemonSet"]
    if any(not p.gone for p in left):
        w.loop.after(us(POLL_S), _wait_for_pods, w, node)
        return
    from gapwatch.recorder.sim.actions import delete_node

    w.loop.after(us(w.s.nodes.scale_down_delete_after_s), _terminate, w, node, delete_node)


def _terminate(w: World, node: str, delete_node: object) -> None:
    n = w.nodes.get(node)
    if n is not None and n.exists and callable(delete_node):
        delete_node(w, node)
