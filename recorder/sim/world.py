"""The simulated cluster: every component wired together, the scenario's events, the bootstrap.

Components talk through the World: a pod write reaches the EndpointSlice and workload
controllers, a slice publication reaches kube-proxy and the CCM, a kube-proxy sync reaches the
prober and the LB health check. Anything that can change R or F marks the node dirty; after each
event the truth tracker re-evaluates the dirty nodes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from gapwatch.recorder.sim import ids, providers
from gapwatch.recorder.sim.api import Api
from gapwatch.recorder.sim.ccm import Ccm
from gapwatch.recorder.sim.clock import Clock
from gapwatch.recorder.sim.core import Loop, us
from gapwatch.recorder.sim.emit import POLLER, PROBE, Emitter
from gapwatch.recorder.sim.endpointslice import EndpointSliceController
from gapwatch.recorder.sim.evidence import ConfigReader, MetricsScraper, emit_call
from gapwatch.recorder.sim.grace import GraceShutdown
from gapwatch.recorder.sim.kubelet import Kubelet
from gapwatch.recorder.sim.kubeproxy import KubeProxies
from gapwatch.recorder.sim.lb import TargetGroup
from gapwatch.recorder.sim.observe import LbPoller, Prober
from gapwatch.recorder.sim.scenario import PodSpec, Scenario, Workload
from gapwatch.recorder.sim.state import NodeState, PodState
from gapwatch.recorder.sim.truth import TruthTracker
from gapwatch.recorder.sim.workload import WorkloadController
from gapwatch.recorder.timefmt import parse_time


class World:
    def __init__(self, scenario: Scenario, seed: int) -> None:
        s = self.s = scenario
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = Clock(parse_time(s.start))
        self.loop = Loop(after_event=self.after_event)
        offsets = {
            PROBE: us(s.observe.prober_clock_offset_s),
            POLLER: us(s.observe.poller_clock_offset_s),
        }
        self.emit = Emitter(self.clock, s.cluster, offsets)
        self.nodes: dict[str, NodeState] = {}
        self.pods: dict[str, PodState] = {}
        self.pods_by_uid: dict[str, PodState] = {}
        self._dirty: set[str] = set()
        self._all_dirty = False
        self._pod_ip = 0
        #: nodes another Service's simulation of the same cluster created (recorder.sim.shared):
        #: a node of that name takes their identity (uid, instance id, address, zone)
        self.node_identity: dict[str, NodeState] = {}
        self.booting = True
        self.api = Api(self)
        self.kubelet = Kubelet(self)
        app = Workload(
            kind="Deployment",
            namespace=s.app.namespace,
            name=s.app.name,
            replicas=s.app.replicas,
            place_on=s.app.place_on,
            pod=PodSpec(),
        )
        self.workloads = {"ingress": WorkloadController(self, "ingress", s.ingress, 8080)}
        if s.app.enabled:
            self.workloads["app"] = WorkloadController(self, "app", app, s.app.port)
        self.slices = EndpointSliceController(self)
        self.proxy = KubeProxies(self)
        self.lb = TargetGroup(self, health_checks=s.ccm.mode == "node-driven")
        self.ccm = Ccm(self)
        self.grace = GraceShutdown(self)
        self.prober = Prober(self)
        self.metrics: MetricsScraper | None = None
        if s.observe.kube_proxy_metrics:
            self.metrics = MetricsScraper(self)
        self.configz = ConfigReader(self) if s.observe.kube_proxy_configz else None
        self.poller = LbPoller(self)
        self.truth = TruthTracker(self, random.Random(f"traffic-{seed}"))

    # -- notifications -----------------------------------------------------------------------
    def mark(self, node: str) -> None:
        self._dirty.add(node)
        self.prober.touch(node)

    def mark_all(self) -> None:
        """The LB's routing may have changed: R of any node may have flipped."""
        self._all_dirty = True

    def after_event(self) -> None:
        if self._all_dirty:
            self._all_dirty = False
            nodes = self.sort_nodes(self._dirty)
            self._dirty = set()
            self.truth.evaluate(nodes, routing=True)
        elif self._dirty:
            nodes = self.sort_nodes(self._dirty)
            self._dirty = set()
            self.truth.evaluate(nodes)

    def on_pod_written(self, p: PodState) -> None:
        if self.booting:
            return
        if p.workload == "ingress":
            self.slices.on_pod(p)
        self.workloads[p.workload].trigger()

    def forget_pod(self, p: PodState) -> None:
        self.pods.pop(p.name, None)
        self.pods_by_uid.pop(p.uid, None)
        self.workloads[p.workload].forget(p)

    def on_endpoints(self, nodes: list[str]) -> None:
        for node in nodes:
            self.proxy.changed(node)
        self.proxy.published(nodes)
        self.ccm.on_endpoints(nodes)

    def on_proxy_metrics(self, node: str, *, started: bool = False) -> None:
        """kube-proxy on `node` ended a sync, queued a change or (`started`) began answering."""
        if started and self.configz is not None:
            self.configz.answers(node)
        if self.metrics is not None:
            if started:
                self.metrics.answers(node)
            else:
                self.metrics.changed(node)

    def on_lb_call(self, node: str, call: str) -> None:
        """The CCM called RegisterTargets / DeregisterTargets for `node` now."""
        self.lb.calls.append((self.loop.now, node, call))
        # CloudTrail is AWS's: an LB that sets weight 0 (Tencent's grace shutdown or deletion)
        # logs its calls elsewhere (CloudAudit), and its weight-0 drain is no call CloudTrail has
        tencent = self.s.ccm.grace_shutdown or self.s.ccm.grace_deletion
        if self.s.observe.cloudtrail and not tencent:
            emit_call(self, self.loop.now, node, call)

    def on_proxy(self, node: str) -> None:
        self.lb.check_soon(node)

    # -- helpers ---------------------------------------------------------------------------
    def live_nodes(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.exists]

    def sort_nodes(self, names: Iterable[str]) -> list[str]:
        nodes = self.nodes
        return sorted(names, key=lambda n: (nodes[n].index if n in nodes else 1 << 30, n))

    def next_pod_ip(self) -> str:
        self._pod_ip += 1
        i = self._pod_ip
        return f"100.64.{(i >> 8) & 255}.{i & 255}"

    def new_node(self, name: str, *, created_us: int) -> NodeState:
        i = len(self.nodes)
        zones = self.s.nodes.zones
        n = NodeState(
            name=name,
            index=i,
            uid=ids.uid(self.rng),
            instance_id=providers.instance_id(
                self.s.nodes.cloud, ids.instance_bits(self.rng), name
            ),
            zone=zones[i % len(zones)],
            ip=f"10.0.{(i // 250) % 256}.{i % 250 + 10}",
            created_us=created_us,
        )
        same = self.node_identity.get(name)
        if same is not None:
            n.uid, n.instance_id, n.zone, n.ip = same.uid, same.instance_id, same.zone, same.ip
        self.nodes[name] = n
        return n

    # -- start -----------------------------------------------------------------------------
    def bootstrap(self) -> None:
        """t=0: a steady cluster, listed by every observer as a recorder starting up would."""
        for name in self.s.node_names():
            self.api.node(self.new_node(name, created_us=-us(86400)), "ADDED")
        self.api.service()
        for ctl in self.workloads.values():
            ctl.bootstrap()
        self.slices.sync(initial=True)
        for name in self.nodes:
            self.proxy.start(name, immediately=True)
        for name in self.nodes:
            if self.lb.health_checks:
                if self.ccm.eligible(name):
                    ok = self.proxy.health(name) == 200
                    self.lb.register(name, state="healthy" if ok else "unhealthy")
            elif self.slices.ready_local(name):
                self.lb.register(name)
        self.booting = False
        self.prober.heartbeat()
        if self.metrics is not None:
            self.metrics.heartbeat()
        self.poller.heartbeat()
        self.truth.evaluate(self.live_nodes(), routing=True)
        from gapwatch.recorder.sim.actions import schedule_events

        schedule_events(self)
