"""kube-proxy's own /healthz (port 10256) as the prober sees it: `ProxyNodeHealth` looks,
stored on change and at heartbeats (observe.Prober drives them; docs/observation.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.emit import PROBE

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


class NodeHealthz:
    """kube-proxy's own /healthz on port 10256 (`ProxyNodeHealth`), sampled with the prober's
    looks. With KEP-3836 in force (recorder.sim.autoscaler.draining_nodes_gate) it answers 503
    and `nodeEligible: false` for a node tainted ToBeDeletedByClusterAutoscaler; before, the
    body has no `nodeEligible`."""

    PORT = 10256

    def __init__(self, world: World) -> None:
        from gapwatch.recorder.sim.autoscaler import draining_nodes_gate

        self.w = world
        self.gate = draining_nodes_gate(world)
        self.last: dict[str, tuple[int | None, bool | None]] = {}
        self.first_us: dict[str, int] = {}

    def _answer(self, node: str) -> tuple[int | None, bool | None]:
        proxy = self.w.proxy
        if not proxy.up(node) or proxy.restarting(node):
            return None, None
        eligible = not self.w.nodes[node].to_be_deleted if self.gate else None
        return (503 if eligible is False else 200), eligible

    def sample(self, node: str, now: int, *, full: bool) -> None:
        answer = self._answer(node)
        old = self.last.get(node)
        if not full and old == answer:
            return
        w = self.w
        self.last[node] = answer
        first = self.first_us.setdefault(node, now)
        period = us(w.s.observe.kube_proxy_period_s)
        prev = now - period if now - period >= first else None
        status, eligible = answer
        body: dict[str, Any] | None = None
        error = None
        if status is None:
            error = "refused" if w.proxy.restarting(node) else "timeout"
        else:
            stamp = w.clock.micro(now)
            body = {"lastUpdated": stamp, "currentTime": stamp}
            if eligible is not None:
                body["nodeEligible"] = eligible
        latency = w.s.observe.probe_timeout_s * 1000.0 if status is None else 0.5
        payload = {
            "path": "/healthz",
            "status": status,
            "body": body,
            "error": error,
            "port": self.PORT,
            "latency_ms": latency,
        }
        w.emit.push(
            now + us(latency / 1000.0),
            PROBE,
            "ProxyNodeHealth",
            "OBSERVED",
            payload,
            node=node,
            previous_us=prev,
        )
