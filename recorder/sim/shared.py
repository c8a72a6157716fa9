"""Several `externalTrafficPolicy: Local` Services whose pods share nodes.

Each Service has its own workload, healthCheckNodePort, NodePort and target group (its own CCM
view and LB), on the same nodes. The simulator's world holds one Service, so a shared cluster is
simulated as one run per Service over the same node set, merged into one log: the first run's
Node objects (and kube-proxy /healthz looks) stand for the cluster, the later runs' nodes take
their identity (uid, instance id, address), and each run adds its own Service, workload, pods,
EndpointSlices, probes of its ports, target group and Events.

That is exact for what the Services do not share (their endpoints, health-check answers, LB
membership) and requires the nodes to behave the same in every run: node events must be
deterministic and name their node (drain, cordon, uncordon, delete_node, add_node, node_down);
events whose timing depends on one Service's pods or on sampled lags (scale_down,
restart_kube_proxy) and `@random` nodes are refused. Truth: each run's windows, per Service.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim.result import Simulation, Truth, _truth, drive
from gapwatch.recorder.sim.scenario import App, Event, Scenario
from gapwatch.recorder.sim.state import NodeState
from gapwatch.recorder.sim.world import World

#: Node events whose timing is the same in every run (fixed times, no sampled lag).
NODE_ACTIONS = frozenset({"drain", "cordon", "uncordon", "delete_node", "add_node", "node_down"})
#: Node events a shared cluster cannot split into runs.
REFUSED = frozenset({"scale_down", "restart_kube_proxy"})
#: Kinds only the first run writes (the cluster's, not a Service's).
CLUSTER_KINDS = frozenset({"Node", "ProxyNodeHealth"})
#: resourceVersions of run k start at k times this (one counter per cluster in reality).
RV_STRIDE = 10_000_000


def another_service(
    base: Scenario,
    *,
    name: str,
    node_port: int,
    health_check_node_port: int,
    replicas: int | None = None,
    events: Sequence[Event] = (),
) -> Scenario:
    """`base` with a second Service: its own name, ports and ingress workload (same namespace,
    same nodes and node events), plus its own workload `events`; no backend app."""
    svc = replace(
        base.service, name=name, node_port=node_port, health_check_node_port=health_check_node_port
    )
    workload = replace(base.ingress, name=name, replicas=replicas or base.ingress.replicas)
    node_events = tuple(e for e in base.events if e.action in NODE_ACTIONS)
    return replace(
        base,
        service=svc,
        ingress=workload,
        app=App(enabled=False),
        events=tuple(sorted((*node_events, *events), key=lambda e: e.at_s)),
    )


def check_shared(scenarios: Sequence[Scenario]) -> None:
    first = scenarios[0]
    names: set[tuple[str, str]] = set()
    workloads: set[str] = set()
    ports: set[int] = set()
    for i, s in enumerate(scenarios):
        where = f"service {i + 1} ({s.service.namespace}/{s.service.name})"
        same = (s.cluster, s.start, s.duration_s, s.nodes) == (
            first.cluster,
            first.start,
            first.duration_s,
            first.nodes,
        )
        if not same:
            raise ConfigError(f"{where}: cluster, start, duration and nodes must be the first's")
        nodes = [e for e in s.events if e.action in NODE_ACTIONS | REFUSED]
        if nodes != [e for e in first.events if e.action in NODE_ACTIONS | REFUSED]:
            raise ConfigError(f"{where}: node events must be the first Service's")
        for e in nodes:
            if e.action in REFUSED or (e.node or "").startswith("@"):
                raise ConfigError(f"{where}: {e.action} on {e.node}: not deterministic per node")
        key = (s.service.namespace, s.service.name)
        if key in names or s.ingress.name in workloads:
            raise ConfigError(f"{where}: Service and workload names must differ")
        names.add(key)
        workloads.add(s.ingress.name)
        mine = {s.service.node_port, s.service.health_check_node_port}
        if mine & ports:
            raise ConfigError(f"{where}: node ports must differ from the other Services'")
        ports |= mine
        if i and s.app.enabled:
            raise ConfigError(f"{where}: only the first Service has the backend app")


def _observations(w: World) -> Iterator[Observation]:
    yield from drive(w)
    yield from w.emit.release(None)


@dataclass(frozen=True, slots=True)
class SharedRun:
    observations: list[Observation]
    #: one per Service, in the order given
    truths: list[Truth]


def run_shared(scenarios: Sequence[Scenario], seed: int = 1) -> SharedRun:
    """Simulate every Service over the same nodes and merge their logs (in observed order)."""
    if not scenarios:
        raise ConfigError("run_shared: no Service given")
    check_shared(scenarios)
    streams: list[list[Observation]] = []
    truths: list[Truth] = []
    identity: dict[str, NodeState] = {}
    for k, scenario in enumerate(scenarios):
        w = World(scenario, seed + k)
        w.node_identity = dict(identity)
        w.api._rv += k * RV_STRIDE
        obs = list(_observations(w))
        if k:
            obs = [o for o in obs if o.kind not in CLUSTER_KINDS]
        else:
            identity = dict(w.nodes)
        streams.append(obs)
        truths.append(_truth(w, seed + k))
    merged = list(heapq.merge(*streams, key=lambda o: o.observed_at))
    return SharedRun(merged, truths)


def random_pair(seed: int) -> list[Scenario]:
    """A randomized shared cluster (recorder.sim.generate's scenario for `seed`, its node events
    made deterministic: `@random` replaced by a named node, scale-downs and kube-proxy restarts
    dropped) and a second Service on the same nodes with a rollout of its own."""
    import random

    from gapwatch.recorder.sim.config import from_dict
    from gapwatch.recorder.sim.generate import random_scenario

    rng = random.Random(f"gapwatch-random-shared-{seed}")
    data = random_scenario(seed)
    nodes = data["nodes"]["names"]
    kept = []
    for ev in data["events"]:
        if ev["action"] in REFUSED:
            continue
        if str(ev.get("node", "")).startswith("@"):
            ev = {**ev, "node": rng.choice(nodes)}
        kept.append(ev)
    data["events"] = kept
    base = from_dict(data, f"random {seed}")
    at = round(rng.uniform(40.0, base.duration_s * 0.7), 1)
    second = another_service(
        base,
        name="second-gateway",
        node_port=base.service.node_port + 1,
        health_check_node_port=base.service.health_check_node_port + 1,
        replicas=rng.randint(1, max(1, len(nodes) - 1)),
        events=[Event(at_s=at, action="rollout")],
    )
    return [base, second]


def merged_truth(truths: Sequence[Truth]) -> Truth:
    """One truth for the shared cluster: the first run's params, every run's records."""
    return Truth(
        params=truths[0].params,
        windows=tuple(w for t in truths for w in t.windows),
        requests=tuple(q for t in truths for q in t.requests),
        rollouts=tuple(r for t in truths for r in t.rollouts),
    )


def with_second_service(base: Scenario, name: str) -> list[Scenario]:
    """`base` and a second Service `name` on its nodes (`gapwatch simulate --second-service`):
    the next free NodePort and healthCheckNodePort, the same replicas, and a rollout 30 s after
    each of the first Service's ingress rollouts."""
    own = [
        replace(e, at_s=e.at_s + 30.0)
        for e in base.events
        if e.action == "rollout" and e.workload == "ingress"
    ]
    second = another_service(
        base,
        name=name,
        node_port=base.service.node_port + 1,
        health_check_node_port=base.service.health_check_node_port + 1,
        events=own,
    )
    return [base, second]


class SharedSimulation(Simulation):
    """A Simulation of several Services on shared nodes (`run_shared`, in memory); `truth` is
    every Service's (merged_truth) once iterated."""

    def __init__(self, scenarios: Sequence[Scenario], seed: int = 1) -> None:
        super().__init__(scenarios[0], seed)
        self.scenarios = list(scenarios)

    def __iter__(self) -> Iterator[Observation]:
        result = run_shared(self.scenarios, self.seed)
        if self.on_progress is not None:
            self.on_progress(self.scenario.duration_s)
        self.truth = merged_truth(result.truths)
        yield from result.observations
