"""The cloud-controller-manager's load-balancer half, in two modes.

- endpoint-driven (Alibaba, Huawei, the seed): watches EndpointSlices and registers a node when it
  has a ready local endpoint (after `register_delay_s` plus its lag), deregisters it when it has
  none (after its deregistration lag); no health checks.
- node-driven (upstream service controller, AWS): registers every eligible node (exists, Ready
  unless its controller and release keep NotReady nodes (recorder.sim.ccmnodes), and - if
  `exclude_unschedulable` - not cordoned; not tainted ToBeDeletedByClusterAutoscaler when
  `exclude_to_be_deleted`, as the AWS LB Controller's instance mode) after its lag and lets the
  LB health check on the health-check node port decide. Where NotReady nodes stay, a new node is
  synced in when it appears, before it is Ready.
Each change to the target group is announced with an `UpdatedLoadBalancer` Event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gapwatch.recorder.sim.ccmnodes import scenario_keeps_not_ready
from gapwatch.recorder.sim.core import us

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


class Ccm:
    def __init__(self, world: World) -> None:
        self.w = world
        self.endpoint_driven = world.s.ccm.mode == "endpoint-driven"
        self._pending: dict[str, bool] = {}
        self._node_sync_pending = False
        #: node-driven: a NotReady node stays eligible (recorder.sim.ccmnodes)
        self.keeps_not_ready = scenario_keeps_not_ready(world.s)

    # -- endpoint-driven -------------------------------------------------------------------
    def on_endpoints(self, nodes: list[str]) -> None:
        if not self.endpoint_driven:
            return
        for node in nodes:
            want = self.w.slices.ready_local(node)
            if self._pending.get(node) == want:
                continue
            if self._done(node, want):
                self._pending.pop(node, None)
                continue
            self._pending[node] = want
            c = self.w.s.ccm
            if want:
                delay = us(c.register_delay_s) + c.register_lag_s.sample_us(self.w.rng)
            else:
                delay = c.deregister_lag_s.sample_us(self.w.rng)
            self.w.loop.after(delay, self._apply_endpoint, node, want)

    def _apply_endpoint(self, node: str, want: bool) -> None:
        if self._pending.get(node) != want:
            return
        del self._pending[node]
        now_wants = self.w.slices.ready_local(node)
        if now_wants != want:
            self.on_endpoints([node])
            return
        self._set(node, want)

    def _registered(self, node: str) -> bool:
        t = self.w.lb.targets.get(node)
        return t is not None and t.state != "draining"

    def _done(self, node: str, want: bool) -> bool:
        """Registered (want) or unbound (not want): a weight-0 backend is neither."""
        return self._registered(node) if want else not self.w.lb.bound(node)

    def _set(self, node: str, want: bool) -> None:
        if self._done(node, want):
            return
        if want:
            self.w.lb.register(node)
        else:
            self.w.lb.deregister(node)
        self.w.api.lb_event("UpdatedLoadBalancer", "Updated load balancer with new hosts")

    # -- node-driven -----------------------------------------------------------------------
    def eligible(self, node: str) -> bool:
        n = self.w.nodes.get(node)
        if n is None or not n.exists or not (n.ready or self.keeps_not_ready):
            return False
        if self.w.s.ccm.exclude_to_be_deleted and n.to_be_deleted:
            return False
        return not (self.w.s.ccm.exclude_unschedulable and n.unschedulable)

    def on_nodes(self) -> None:
        if self.endpoint_driven or self._node_sync_pending:
            return
        self._node_sync_pending = True
        lag = self.w.s.ccm.register_lag_s.sample_us(self.w.rng)
        self.w.loop.after(us(self.w.s.ccm.register_delay_s) + lag, self._sync_nodes)

    def on_node_added(self) -> None:
        """A Node appeared (not Ready yet): a controller that keeps NotReady nodes syncs it in;
        one that registers Ready nodes only waits for its Ready (`on_nodes` then)."""
        if self.keeps_not_ready:
            self.on_nodes()

    def _sync_nodes(self) -> None:
        self._node_sync_pending = False
        changed = False
        for name in list(self.w.nodes):
            want = self.eligible(name)
            if want != self._registered(name):
                if want:
                    self.w.lb.register(name)
                else:
                    self.w.lb.deregister(name)
                changed = True
        for name in list(self.w.lb.targets):
            if name not in self.w.nodes and self._registered(name):
                self.w.lb.deregister(name)
                changed = True
        if changed:
            self.w.api.lb_event("UpdatedLoadBalancer", "Updated load balancer with new hosts")
