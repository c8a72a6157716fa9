"""The cloud load balancer's target group: membership, target states and health checks.

States follow ELBv2: `initial` (registered, health not yet established), `healthy`, `unhealthy`,
`draining` (deregistered, for the deregistration delay, then gone). With health checks (node-driven
CCM) the LB asks every target's health-check node port each interval; `healthy_threshold`
consecutive successes make it healthy, `unhealthy_threshold` failures unhealthy. Checks run lazily:
only while a target's state disagrees with its answer, which gives the same states at the same
instants as checking forever. Without health checks (endpoint-driven CCM) a registered target is
healthy at once. Routing (R): healthy targets, or every registered one when all are unhealthy
(fail-open).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gapwatch.recorder.sim.core import us

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


@dataclass(slots=True)
class Target:
    node: str
    state: str
    ok: int = 0
    fail: int = 0
    checking: bool = False
    phase_us: int = 0
    drain_token: int = 0
    #: bound with weight 0 (Tencent's grace shutdown): no new connections, not deregistered
    weight0: bool = False


class TargetGroup:
    def __init__(self, world: World, *, health_checks: bool) -> None:
        self.w = world
        self.health_checks = health_checks
        self.targets: dict[str, Target] = {}
        self.changes = 0
        #: membership calls as the CCM made them: (time us, node, "register" | "deregister"),
        #: what CloudTrail would record (recorder.sim.formats writes them)
        self.calls: list[tuple[int, str, str]] = []

    # -- membership ------------------------------------------------------------------------
    def register(self, node: str, *, state: str | None = None) -> None:
        t = self.targets.get(node)
        initial = state or ("initial" if self.health_checks else "healthy")
        if t is None:
            phase = self.w.rng.randrange(us(self.w.s.lb.health_check.interval_s))
            t = Target(node, initial, phase_us=phase)
            self.targets[node] = t
        elif t.state == "draining":
            t.state = initial
            t.drain_token += 1
            t.ok = t.fail = 0
            t.weight0 = False
        else:
            return
        self.w.on_lb_call(node, "register")
        self._changed(node)
        self.check_soon(node)

    def set_weight_zero(self, node: str) -> bool:
        """Keep the target bound with weight 0 (no new connections); False if not bound."""
        t = self.targets.get(node)
        if t is None or t.state == "draining":
            return False
        t.state, t.weight0 = "draining", True
        self._changed(node)
        return True

    def bound(self, node: str) -> bool:
        """Registered, or kept with weight 0."""
        t = self.targets.get(node)
        return t is not None and (t.state != "draining" or t.weight0)

    def deregister(self, node: str) -> None:
        t = self.targets.get(node)
        if t is None or (t.state == "draining" and not t.weight0):
            return
        t.weight0 = False
        t.state = "draining"
        t.drain_token += 1
        self.w.on_lb_call(node, "deregister")
        self._changed(node)
        delay = us(self.w.s.lb.deregistration_delay_s)
        self.w.loop.after(delay, self._drained, node, t.drain_token)

    def _drained(self, node: str, token: int) -> None:
        t = self.targets.get(node)
        if t is not None and t.state == "draining" and t.drain_token == token:
            del self.targets[node]
            self._changed(node)

    def _changed(self, node: str) -> None:
        self.changes += 1
        self.w.mark_all()
        self.w.poller.touch()

    # -- health checks ---------------------------------------------------------------------
    def check_soon(self, node: str) -> None:
        """The node's answer may have changed: check at its next interval tick until settled."""
        if not self.health_checks:
            return
        t = self.targets.get(node)
        if t is None or t.checking or t.state == "draining":
            return
        if self._settled(t):
            return
        t.checking = True
        interval = us(self.w.s.lb.health_check.interval_s)
        now = self.w.loop.now
        k = (now - t.phase_us) // interval + 1
        self.w.loop.at(t.phase_us + k * interval, self._check, node)

    def _answer_ok(self, node: str) -> bool:
        return self.w.proxy.health(node) == 200

    def _settled(self, t: Target) -> bool:
        ok = self._answer_ok(t.node)
        return (ok and t.state == "healthy") or (not ok and t.state == "unhealthy")

    def _check(self, node: str) -> None:
        t = self.targets.get(node)
        if t is None:
            return
        t.checking = False
        if t.state == "draining":
            return
        hc = self.w.s.lb.health_check
        if self._answer_ok(node):
            t.ok, t.fail = t.ok + 1, 0
            if t.state != "healthy" and t.ok >= hc.healthy_threshold:
                t.state = "healthy"
                self._changed(node)
        else:
            t.ok, t.fail = 0, t.fail + 1
            if t.state != "unhealthy" and t.fail >= hc.unhealthy_threshold:
                t.state = "unhealthy"
                self._changed(node)
        self.check_soon(node)

    # -- routing ---------------------------------------------------------------------------
    def fail_open(self) -> bool:
        active = [t for t in self.targets.values() if t.state != "draining"]
        return bool(active) and all(t.state == "unhealthy" for t in active)

    def routed_nodes(self) -> list[str]:
        if self.fail_open():
            return [n for n, t in self.targets.items() if t.state == "unhealthy"]
        return [n for n, t in self.targets.items() if t.state == "healthy"]
