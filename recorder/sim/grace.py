"""Tencent TKE's graceful CLB changes for a terminating pod (endpoint-driven CCM only).

- `ccm.grace_shutdown` (`service.cloud.tencent.com/enable-grace-shutdown`): the CCM watches Pods
  and, once a node's last ready ingress pod starts terminating, sets the node's CLB weight to 0
  (after its deregistration lag) instead of waiting for the endpoint to leave: the backend stays
  bound but gets no new connections (the poller shows `draining` with `Weight: 0`,
  `Target.WeightZero`). It is unbound as usual when the node has no ready endpoint.
- `ccm.grace_deletion` (`enable-grace-deletion`): the pod's deletion is held until that weight
  is 0, so the pod keeps serving until the LB has stopped sending to it (an admission webhook in
  TKE; here the deletion request waits for the CCM).
Both per DESIGN.md section 6 (Tencent TKE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gapwatch.recorder.sim.state import PodState

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


class GraceShutdown:
    def __init__(self, world: World) -> None:
        self.w = world
        c = world.s.ccm
        on = c.mode == "endpoint-driven"
        self.shutdown = on and (c.grace_shutdown or c.grace_deletion)
        self.deletion = on and c.grace_deletion
        self._holding: set[str] = set()
        self._released: set[str] = set()

    def _last_ready(self, p: PodState) -> bool:
        """Whether `p` is its node's last ready ingress pod that is not terminating."""
        return not any(
            q is not p
            and q.node == p.node
            and q.workload == "ingress"
            and q.ready
            and q.deletion_us is None
            and not q.gone
            for q in self.w.pods.values()
        )

    def holds(self, p: PodState) -> bool:
        """The deletion of `p` waits for the CLB weight (grace deletion); True while held."""
        if not self.deletion or p.workload != "ingress" or p.uid in self._released:
            return False
        if p.uid in self._holding:
            return True
        if not p.ready:
            return False
        self._holding.add(p.uid)
        lag = self.w.s.ccm.deregister_lag_s.sample_us(self.w.rng)
        self.w.loop.after(lag, self._release, p)
        return True

    def _release(self, p: PodState) -> None:
        self._holding.discard(p.uid)
        self._released.add(p.uid)
        if self._last_ready(p):
            self._weight_zero(p.node)
        self.w.kubelet.delete(p)

    def on_deleting(self, p: PodState) -> None:
        """`p` got its deletionTimestamp: the CCM sees it and zeroes the node's weight."""
        if not self.shutdown or p.workload != "ingress" or p.uid in self._released:
            return
        if self._last_ready(p):
            lag = self.w.s.ccm.deregister_lag_s.sample_us(self.w.rng)
            self.w.loop.after(lag, self._weight_zero_if_still, p)

    def _weight_zero_if_still(self, p: PodState) -> None:
        if self._last_ready(p):
            self._weight_zero(p.node)

    def _weight_zero(self, node: str) -> None:
        if self.w.lb.set_weight_zero(node):
            self.w.api.lb_event("UpdatedLoadBalancer", "Updated load balancer with new hosts")
