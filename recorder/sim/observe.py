"""The sampling observers: kube-proxy-probe (every P s per node) and lb-poller (every Q s).

Both emit only when an answer changed, with `previous_observed_at` = the previous sample (which
still saw the old answer), plus a full sample every `heartbeat_s`. Samples are taken on a fixed grid
(multiples of the period), lazily: a sample is computed only at the first grid instant after
something may have changed, which gives exactly what polling every period would have emitted.
When the prober drops a node (its watch delivered the deletion) it emits the node's last look
(`look: "last"`) if that look was not emitted, as the recorder's prober does
(recorder/sources/kubeproxy/tracker.py, `forget`): the last grid instant whose look ended by
then, with the answer last emitted (nothing changed since, or a sample would have followed) and
that look's latency (no new draw).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.emit import POLLER, PROBE

if TYPE_CHECKING:
    from gapwatch.recorder.sim.healthz import NodeHealthz
    from gapwatch.recorder.sim.world import World

_REASONS = {
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
}


#: How long a health check that answered takes, in ms, where the NodePort probe beside it timed
#: out (gapwatch's choice: a round trip inside one VPC; no published figure): its answer is
#: stored at its own end, not held up by the other probe's timeout.
HEALTH_ANSWER_MS = 1.0

#: Marks a weight-0 target's state in the poller's memory (never written out).
_W0 = "/weight0"


def _next_tick(now: int, period: int) -> int:
    return (now // period + 1) * period


def last_tick(now: int, took_us: int, period: int) -> int:
    """The last grid instant whose look, taking `took_us`, ended by `now`."""
    return (now - took_us) // period * period


class Prober:
    """kube-proxy-probe: ProxyHealth (health-check node port) and NodePortProbe per node."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.period = us(world.s.observe.kube_proxy_period_s)
        self.last: dict[str, tuple[Any, Any]] = {}
        #: the last emitted answer without kube-proxy's own health (see `sample`)
        self.last_by_endpoints: dict[str, tuple[Any, Any]] = {}
        #: latencies of the looks only kube-proxy's own health changed (see `sample`)
        self.health_rng = random.Random(f"prober-proxier-health-{world.seed}")
        self.first_us: dict[str, int] = {}
        self.last_emit_us: dict[str, int] = {}
        #: per (node, kind), when the look last emitted was taken; per node, the latency (ms)
        #: drawn for the last answer emitted: a last look's (`forget`)
        self.looked_us: dict[tuple[str, str], int] = {}
        self.latency_ms: dict[str, float] = {}
        self.touched: set[str] = set()
        #: deleted nodes the prober still looks at: its watch has not delivered the deletion
        self.leaving: set[str] = set()
        self._scheduled = False
        self.healthz: NodeHealthz | None = None
        if world.s.observe.kube_proxy_healthz:
            from gapwatch.recorder.sim.healthz import NodeHealthz

            self.healthz = NodeHealthz(world)

    def add(self, node: str) -> None:
        self.touch(node)

    def leave(self, node: str, seen_us: int) -> None:
        """A deleted node: still probed (it no longer answers) until `seen_us`, when the
        prober's watch delivers the deletion and it drops the node, as the recorder's prober
        does."""
        self.leaving.add(node)
        self.touch(node)
        self.w.loop.at(seen_us, self.forget, node)

    def forget(self, node: str) -> None:
        self._last_looks(node)
        self.leaving.discard(node)
        if self.healthz is not None:
            self.healthz.forget(node)
        self.last.pop(node, None)
        self.last_by_endpoints.pop(node, None)
        self.first_us.pop(node, None)
        self.touched.discard(node)
        self.latency_ms.pop(node, None)
        for kind in ("ProxyHealth", "NodePortProbe"):
            self.looked_us.pop((node, kind), None)

    def _last_looks(self, node: str) -> None:
        """Emit the node's last looks that were not emitted (module docstring). Every change
        before the last grid instant was sampled by it (`touch`), so that look saw the answer
        last emitted."""
        answer, first = self.last.get(node), self.first_us.get(node)
        if answer is None or first is None or node not in self.latency_ms:
            return
        w = self.w
        now = w.loop.now
        health, port, health_us, port_us = self._payloads(answer, self.latency_ms[node])
        ns, name = w.s.service.namespace, w.s.service.name
        looks = [("NodePortProbe", port, port_us)]
        if w.s.service.type == "LoadBalancer":
            looks.insert(0, ("ProxyHealth", health, health_us))
        for kind, payload, took_us in looks:
            at = last_tick(now, took_us, self.period)
            if at < first or at <= self.looked_us.get((node, kind), -1):
                continue
            prev = at - self.period if at - self.period >= first else None
            w.emit.push(
                at + took_us,
                PROBE,
                kind,
                "OBSERVED",
                {**payload, "look": "last"},
                namespace=ns,
                name=name,
                node=node,
                previous_us=prev,
            )

    def touch(self, node: str) -> None:
        self.touched.add(node)
        if not self._scheduled:
            self._scheduled = True
            self.w.loop.at(_next_tick(self.w.loop.now, self.period), self.sample)

    def sample(self, *, everything: bool = False) -> None:
        self._scheduled = False
        now = self.w.loop.now
        nodes = self.w.live_nodes() if everything else self.w.sort_nodes(self.touched)
        self.touched = set()
        for node in nodes:
            if not self.w.nodes[node].exists and node not in self.leaving:
                continue
            answer, by_endpoints = self._answer(node)
            if self.healthz is not None:
                self.healthz.sample(node, now, full=everything)
            if not everything and self.last.get(node) == answer:
                continue
            if everything and self.last_emit_us.get(node) == now:
                continue
            # A look that only kube-proxy's own health changed (serviceProxyHealthy, v1.27+)
            # takes its latency from a generator of its own: every other draw of the run stays
            # what it was before the simulator modelled that health, so seeds compare.
            only_health = not everything and self.last_by_endpoints.get(node) == by_endpoints
            self._emit(
                node,
                answer,
                now,
                full=everything,
                rng=self.health_rng if only_health else self.w.rng,
            )
            self.last_by_endpoints[node] = by_endpoints
            if not only_health:
                self.last_emit_us[node] = now

    def heartbeat(self) -> None:
        self.sample(everything=True)
        self.w.loop.after(us(self.w.s.observe.heartbeat_s), self.heartbeat)

    def _answer(self, node: str) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        """((status, local endpoints or error, serviceProxyHealthy), NodePort result), and the
        same answer as the local endpoints alone would give it ((status, count), result)."""
        proxy = self.w.proxy
        status = proxy.health(node)
        if not proxy.up(node):
            port_result = "timeout"
        elif proxy.serves(node):
            port_result = "connected"
        elif proxy.refuses(node):
            port_result = "refused"
        else:
            port_result = "timeout"
        if status is None:
            # a machine that is down answers nothing: only a running node refuses (its
            # kube-proxy restarting, the health port closed)
            error = "refused" if proxy.up(node) and proxy.restarting(node) else "timeout"
            return ((None, error, None), port_result), ((None, error), port_result)
        count = proxy.local_ready(node)
        healthy = proxy.proxier_healthy(node) if proxy.service_check_reads_health else None
        by_endpoints = (200 if count > 0 else 503, count)
        return ((status, count, healthy), port_result), (by_endpoints, port_result)

    def _emit(
        self, node: str, answer: tuple[Any, Any], now: int, *, full: bool, rng: random.Random
    ) -> None:
        w = self.w
        s = w.s
        first = self.first_us.setdefault(node, now)
        prev = now - self.period if now - self.period >= first else None
        port_result = answer[1]
        if port_result == "connected":
            latency = round(rng.uniform(0.3, 2.5), 3)
        elif port_result == "refused":
            latency = round(rng.uniform(0.1, 0.6), 3)
        else:
            latency = s.observe.probe_timeout_s * 1000.0
        self.latency_ms[node] = latency
        health, port, health_us, port_us = self._payloads(answer, latency)
        ns, name = s.service.namespace, s.service.name
        old = self.last.get(node)
        has_hc_port = s.service.type == "LoadBalancer"
        if has_hc_port and (full or old is None or old[0] != answer[0]):
            self.looked_us[(node, "ProxyHealth")] = now
            w.emit.push(
                now + health_us,
                PROBE,
                "ProxyHealth",
                "OBSERVED",
                health,
                namespace=ns,
                name=name,
                node=node,
                previous_us=prev,
            )
        if full or old is None or old[1] != answer[1]:
            self.looked_us[(node, "NodePortProbe")] = now
            w.emit.push(
                now + port_us,
                PROBE,
                "NodePortProbe",
                "OBSERVED",
                port,
                namespace=ns,
                name=name,
                node=node,
                previous_us=prev,
            )
        self.last[node] = answer

    def _payloads(
        self, answer: tuple[Any, Any], latency: float
    ) -> tuple[dict[str, Any], dict[str, Any], int, int]:
        """The ProxyHealth and NodePortProbe payloads of a look that got `answer`, the NodePort
        probe taking `latency` ms, and how long after the look's start each is stored."""
        s = self.w.s
        (status, count, healthy), port_result = answer
        error = count if status is None else None
        body: dict[str, Any] | None = None
        if status is not None:
            body = {
                "service": {"namespace": s.service.namespace, "name": s.service.name},
                "localEndpoints": count,
            }
            if healthy is not None:  # v1.27+ (kubernetes/kubernetes#111661)
                body["serviceProxyHealthy"] = healthy
        health = {
            "status": status,
            "body": body,
            "error": error,
            "port": s.service.health_check_node_port,
        }
        port = {"port": s.service.node_port, "result": port_result, "latency_ms": latency}
        observed = us(latency / 1000.0)
        # each answer is stored at its own look's end, as the real prober does
        # (recorder/sources/kubeproxy/tracker.py): a health check that answered is not held up
        # by the NodePort probe's timeout
        answered = us(HEALTH_ANSWER_MS / 1000.0)
        health_at = answered if port_result == "timeout" and error != "timeout" else observed
        return health, port, health_at, observed


class LbPoller:
    """lb-poller: DescribeTargetHealth every Q s; ADDED/MODIFIED/DELETED on change."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.period = us(world.s.observe.lb_poll_period_s)
        self.last: dict[str, str] = {}
        self.first_us: int | None = None
        self._scheduled = False
        s = world.s
        tg = f"k8s-{s.service.namespace[:8]}-{s.service.name[:8]}-{world.rng.getrandbits(40):010x}"
        self.arn = (
            f"arn:aws:elasticloadbalancing:{s.lb.region}:{s.lb.account}:targetgroup/"
            f"{tg}/{world.rng.getrandbits(64):016x}"
        )

    def touch(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.w.loop.at(_next_tick(self.w.loop.now, self.period), self.poll)

    def poll(self, *, heartbeat: bool = False) -> None:
        self._scheduled = False
        w = self.w
        now = w.loop.now
        if self.first_us is None:
            self.first_us = now
        prev = now - self.period if now - self.period >= self.first_us else None
        # a weight-0 backend is `draining` too, but a change from or to it is a change
        current = {n: t.state + _W0 * t.weight0 for n, t in w.lb.targets.items()}
        for node in w.sort_nodes(set(current) | set(self.last)):
            state, old = current.get(node), self.last.get(node)
            if state is None:
                op, state = "DELETED", old
            elif old is None:
                op = "ADDED"
            elif old != state:
                op = "MODIFIED"
            elif heartbeat:
                op = "OBSERVED"
            else:
                continue
            assert state is not None
            self._emit(node, state.removesuffix(_W0), op, now, prev)
        self.last = current

    def heartbeat(self) -> None:
        if self.first_us is None:
            self._attributes()
        self.poll(heartbeat=True)
        self.w.loop.after(us(self.w.s.observe.heartbeat_s), self.heartbeat)

    def _attributes(self) -> None:
        """The first look reads the group's settings (`DescribeTargetGroups` health-check
        fields and `DescribeTargetGroupAttributes`), as the real poller stores them once."""
        w = self.w
        s = w.s
        hc = s.lb.health_check
        node_driven = s.ccm.mode == "node-driven"
        port = s.service.health_check_node_port if node_driven else s.service.node_port
        attributes = {
            "HealthCheckIntervalSeconds": f"{hc.interval_s:g}",
            "HealthCheckProtocol": "HTTP" if node_driven else "TCP",
            "HealthCheckTimeoutSeconds": f"{min(hc.interval_s, 10.0):g}",
            "HealthyThresholdCount": str(hc.healthy_threshold),
            "UnhealthyThresholdCount": str(hc.unhealthy_threshold),
            "deregistration_delay.timeout_seconds": f"{s.lb.deregistration_delay_s:g}",
        }
        payload = {
            "TargetGroupArn": self.arn,
            "Attributes": dict(sorted(attributes.items())),
            "Cloud": "aws",
            "HealthCheckPort": str(port),
        }
        w.emit.push(
            w.loop.now,
            POLLER,
            "TargetGroupAttributes",
            "ADDED",
            payload,
            namespace=s.service.namespace,
            name=s.service.name,
        )

    def _emit(self, node: str, state: str, op: str, now: int, prev: int | None) -> None:
        w = self.w
        s = w.s
        health: dict[str, Any] = {"State": state}
        target = w.lb.targets.get(node)
        weight0 = target is not None and target.weight0
        if weight0:  # how gapwatch's Tencent poller writes a weight-0 backend
            health["Reason"] = "Target.WeightZero"
            health["Description"] = "Target weight is 0: no new connections"
        elif state in _REASONS:
            health["Reason"], health["Description"] = _REASONS[state]
        hc_port = s.service.health_check_node_port if s.ccm.mode == "node-driven" else None
        payload: dict[str, Any] = {
            "Target": {"Id": w.nodes[node].instance_id, "Port": s.service.node_port},
            "HealthCheckPort": str(hc_port or s.service.node_port),
            "TargetHealth": health,
            "TargetGroupArn": self.arn,
        }
        if weight0:
            payload["Weight"] = 0
        w.emit.push(
            now,
            POLLER,
            "TargetHealth",
            op,
            payload,
            namespace=s.service.namespace,
            name=s.service.name,
            node=node,
            previous_us=prev,
        )
