"""kube-proxy's own /healthz (port 10256) as the prober sees it: `ProxyNodeHealth` looks,
stored on change and at heartbeats (observe.Prober drives them; docs/observation.md).

The body's times are Go's time.Time.String() text, as kube-proxy prints them (recorder.gotime):
a 200 says `lastUpdated` = `currentTime` (kube-proxy sets it so on every 200,
kubernetes/kubernetes#83498), a 503 the real end of the last rules sync (Go's zero time when
there was none since kube-proxy started). 503 when kube-proxy is unhealthy (a change received
and not programmed for its health timeout: recorder.sim.proxyhealth) or, with KEP-3836, the
node is not eligible.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from gapwatch.recorder.gotime import ZERO_US, format_go_time
from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.emit import PROBE
from gapwatch.recorder.sim.kubeproxy import RESYNC_US
from gapwatch.recorder.sim.observe import last_tick
from gapwatch.recorder.timefmt import to_micros

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
        self.last: dict[str, tuple[int | None, bool | None, str | None]] = {}
        self.first_us: dict[str, int] = {}
        #: per node, when the look last emitted was taken, and when its kube-proxy process
        #: started as of the last sample (a restart since is a change: sampled)
        self.looked_us: dict[str, int] = {}
        self.started_us: dict[str, int] = {}

    def _answer(self, node: str) -> tuple[int | None, bool | None, str | None]:
        """(status, nodeEligible, error): no answer from a node that is down (a timeout,
        whatever its kube-proxy was doing), a refused connection from a restarting kube-proxy
        on a node that runs."""
        proxy = self.w.proxy
        if not proxy.up(node):
            return None, None, "timeout"
        if proxy.restarting(node):
            return None, None, "refused"
        eligible = not self.w.nodes[node].to_be_deleted if self.gate else None
        healthy = eligible is not False and proxy.proxier_healthy(node)
        return (200 if healthy else 503), eligible, None

    def _go_time(self, node: str, t_us: int) -> str:
        """`t_us` as kube-proxy on `node` prints a time.Now() reading (no node clock skew)."""
        started = self.started_us.get(node, 0)
        return format_go_time(to_micros(self.w.clock.dt(t_us)), monotonic_us=t_us - started)

    def _last_sync(self, node: str, at_us: int) -> int | None:
        """KubeProxies.last_sync as of `at_us`, from the syncs it keeps after kube-proxy stops
        (a look taken before its node went away, emitted when the prober dropped the node)."""
        proxy = self.w.proxy
        state = proxy.nodes.get(node)
        if state is not None and (state.last_sync_us is None or state.last_sync_us <= at_us):
            return proxy.last_sync(node, at_us)
        synced = proxy.synced_us.get(node, [])
        i = bisect.bisect_right(synced, at_us)
        return at_us - (at_us - synced[i - 1]) % RESYNC_US if i else None

    def sample(self, node: str, now: int, *, full: bool) -> None:
        state = self.w.proxy.nodes.get(node)
        self.started_us[node] = 0 if state is None else state.started_us
        answer = self._answer(node)
        old = self.last.get(node)
        if not full and old == answer:
            return
        self.last[node] = answer
        self.first_us.setdefault(node, now)
        self.looked_us[node] = now
        self._push(node, answer, now, None)

    def forget(self, node: str) -> None:
        """The prober drops `node`: its last look, if not emitted (observe.Prober.forget)."""
        answer, first = self.last.get(node), self.first_us.get(node)
        if answer is not None and first is not None:
            period = us(self.w.s.observe.kube_proxy_period_s)
            at = last_tick(self.w.loop.now, us(self._latency(answer) / 1000.0), period)
            if at >= first and at > self.looked_us.get(node, -1):
                self._push(node, answer, at, "last")
        for known in (self.last, self.first_us, self.looked_us, self.started_us):
            known.pop(node, None)

    def _latency(self, answer: tuple[int | None, bool | None, str | None]) -> float:
        return self.w.s.observe.probe_timeout_s * 1000.0 if answer[0] is None else 0.5

    def _push(
        self,
        node: str,
        answer: tuple[int | None, bool | None, str | None],
        now: int,
        look: str | None,
    ) -> None:
        """Emit the look taken at `now` that got `answer` (`look`: why, when not a sample)."""
        w = self.w
        first = self.first_us.get(node, now)
        period = us(w.s.observe.kube_proxy_period_s)
        prev = now - period if now - period >= first else None
        status, eligible, error = answer
        body: dict[str, Any] | None = None
        if status is not None:
            stamp = self._go_time(node, now)
            last = self._last_sync(node, now) if status == 503 else now
            synced = format_go_time(ZERO_US) if last is None else self._go_time(node, last)
            body = {"lastUpdated": synced, "currentTime": stamp}
            if eligible is not None:
                body["nodeEligible"] = eligible
        latency = self._latency(answer)
        payload: dict[str, Any] = {
            "path": "/healthz",
            "status": status,
            "body": body,
            "error": error,
            "port": self.PORT,
            "latency_ms": latency,
        }
        if look is not None:
            payload["look"] = look
        w.emit.push(
            now + us(latency / 1000.0),
            PROBE,
            "ProxyNodeHealth",
            "OBSERVED",
            payload,
            node=node,
            previous_us=prev,
        )
