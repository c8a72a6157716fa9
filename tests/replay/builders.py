"""Literal observations for replay tests: real shapes (docs/observation.md), tiny clusters."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import count, pairwise
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay import node_cache
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import Fact, derive
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.model import Window

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CLUSTER = "c1"
NS, SVC = "istio-system", "istio-ingressgateway"
_rv = count(1000)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _k8s(t: float, kind: str, op: str, payload: dict[str, Any], **kw: Any) -> Observation:
    meta = payload["metadata"]
    return Observation(
        observed_at=at(t),
        cluster=CLUSTER,
        source="k8s-watch",
        kind=kind,
        op=op,
        payload=payload,
        namespace=meta.get("namespace"),
        name=meta["name"],
        resource_version=str(next(_rv)),
        **kw,
    )


def service(t: float = 0.0) -> Observation:
    return _k8s(
        t,
        "Service",
        "ADDED",
        {
            "metadata": {"name": SVC, "namespace": NS},
            "spec": {
                "type": "LoadBalancer",
                "externalTrafficPolicy": "Local",
                "healthCheckNodePort": 31805,
                "ports": [{"port": 80, "nodePort": 32999}],
            },
        },
    )


def node(t: float, name: str, ready: bool = True, version: str = "v1.29.3") -> Observation:
    return _k8s(
        t,
        "Node",
        "MODIFIED",
        {
            "metadata": {"name": name},
            "spec": {"providerID": f"aws:///eu-west-1a/i-{name}"},
            "status": {
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "nodeInfo": {"kubeletVersion": version, "kubeProxyVersion": version},
            },
        },
        node=name,
    )


def node_unknown(t: float, name: str, version: str = "v1.29.3") -> Observation:
    """The Node as the node controller writes it once the kubelet posted nothing for
    node-monitor-grace-period: its Ready condition Unknown, `Kubelet stopped posting node
    status.` (kube-controller-manager, pkg/controller/nodelifecycle `tryUpdateNodeHealth`)."""
    condition = {
        "type": "Ready",
        "status": "Unknown",
        "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status.",
        "lastTransitionTime": at(t).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    payload = {
        "metadata": {"name": name},
        "spec": {"providerID": f"aws:///eu-west-1a/i-{name}"},
        "status": {
            "conditions": [condition],
            "nodeInfo": {"kubeletVersion": version, "kubeProxyVersion": version},
        },
    }
    return _k8s(t, "Node", "MODIFIED", payload, node=name)


def node_deleted(t: float, name: str, ready: str = "Unknown") -> Observation:
    """The Node's deletion (`ready`: its Ready condition's status as the deletion carries it)."""
    payload: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {"providerID": f"aws:///eu-west-1a/i-{name}"},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }
    return _k8s(t, "Node", "DELETED", payload, node=name)


def eps(
    t: float, endpoints: Sequence[tuple[str, str, str]], name: str = SVC + "-abc"
) -> Observation:
    """endpoints: (pod, node, state) with state ready / terminating / stopped (terminating and
    no longer serving) / unready (not terminating, not ready: a container restarting)."""
    items = []
    for pod, node_name, state in endpoints:
        cond = {
            "ready": {"ready": True, "serving": True, "terminating": False},
            "terminating": {"ready": False, "serving": True, "terminating": True},
            "stopped": {"ready": False, "serving": False, "terminating": True},
            "unready": {"ready": False, "serving": False, "terminating": False},
        }[state]
        items.append(
            {
                "addresses": ["10.0.0.1"],
                "conditions": cond,
                "nodeName": node_name,
                "targetRef": {"kind": "Pod", "name": pod, "namespace": NS},
            }
        )
    return _k8s(
        t,
        "EndpointSlice",
        "MODIFIED",
        {
            "metadata": {
                "name": name,
                "namespace": NS,
                "labels": {"kubernetes.io/service-name": SVC},
            },
            "endpoints": items,
        },
    )


def pod(
    t: float,
    name: str,
    node_name: str,
    state: str,
    *,
    revision: str = "aaa",
    deleted_at: float | None = None,
    grace: int = 30,
    prestop: float | None = None,
    finished: float | None = None,
) -> Observation:
    """`finished`: when the container stopped, as a kubelet writes it (finishedAt, whole
    seconds): state.terminated of a gone pod, lastState.terminated of a pending (restarting) one."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": NS,
        "labels": {"pod-template-hash": revision},
        "ownerReferences": [
            {"kind": "ReplicaSet", "name": f"{SVC}-{revision}", "controller": True}
        ],
    }
    if deleted_at is not None:
        meta["deletionTimestamp"] = at(deleted_at).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta["deletionGracePeriodSeconds"] = grace
    container: dict[str, Any] = {"name": "istio-proxy"}
    if prestop is not None:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": prestop}}}
    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if state == "ready" else "False"}],
    }
    stopped: dict[str, Any] = {}
    if finished is not None:
        stopped = {
            "exitCode": 0,
            "reason": "Completed",
            "startedAt": at(0).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finishedAt": at(finished).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    if state == "gone":
        status["containerStatuses"] = [{"name": "istio-proxy", "state": {"terminated": stopped}}]
    elif state == "pending" and stopped:
        status["containerStatuses"] = [
            {
                "name": "istio-proxy",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": dict(stopped, exitCode=1, reason="Error")},
            }
        ]
    return _k8s(
        t,
        "Pod",
        "DELETED" if state == "deleted" else "MODIFIED",
        {
            "metadata": meta,
            "spec": {
                "nodeName": node_name,
                "terminationGracePeriodSeconds": grace,
                "containers": [container],
            },
            "status": status,
        },
        node=node_name,
    )


def _sample(
    t: float,
    prev: float | None,
    kind: str,
    source: str,
    node_name: str,
    payload: dict[str, Any],
    op: str = "OBSERVED",
) -> Observation:
    return Observation(
        observed_at=at(t),
        cluster=CLUSTER,
        source=source,
        kind=kind,
        op=op,
        payload=payload,
        namespace=NS,
        name=SVC,
        node=node_name,
        previous_observed_at=None if prev is None else at(prev),
    )


def nodeport(
    t: float, prev: float | None, node_name: str, result: str, latency_ms: float = 0.0
) -> Observation:
    payload = {"port": 32999, "result": result, "latency_ms": latency_ms}
    return _sample(t, prev, "NodePortProbe", "kube-proxy-probe", node_name, payload)


def health(t: float, prev: float | None, node_name: str, local: int | None) -> Observation:
    if local is None:
        payload: dict[str, Any] = {"status": None, "body": None, "error": "timeout", "port": 31805}
    else:
        payload = {
            "status": 200 if local else 503,
            "body": {
                "service": {"namespace": NS, "name": SVC},
                "localEndpoints": local,
                "serviceProxyHealthy": True,
            },
            "error": None,
            "port": 31805,
        }
    return _sample(t, prev, "ProxyHealth", "kube-proxy-probe", node_name, payload)


def proxy_metrics(t: float, node_name: str, pte_gate: bool | None) -> Observation:
    """A scrape of kube-proxy's /metrics as the prober stores it: its last sync 1 s before the
    scrape, nothing queued since, and ProxyTerminatingEndpoints' feature-gate sample where
    `pte_gate` is not None (stage BETA, as 1.26-1.27 print it)."""
    synced = at(t - 1).timestamp()
    metrics: dict[str, float] = {
        "kubeproxy_sync_proxy_rules_last_timestamp_seconds": synced,
        "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds": synced,
    }
    if pte_gate is not None:
        key = 'kubernetes_feature_enabled{name="ProxyTerminatingEndpoints",stage="BETA"}'
        metrics[key] = float(pte_gate)
    payload = {"port": 10249, "address": "127.0.0.1", "latency_ms": 2.0, "status": 200,
               "error": None, "metrics": metrics, "derived": None, "look": "sample"}  # fmt: skip
    return Observation(at(t), CLUSTER, "kube-proxy-probe", "ProxyMetrics", "OBSERVED", payload,
                       node=node_name)  # fmt: skip


def proxy_config(t: float, node_name: str, gates: dict[str, bool]) -> Observation:
    """kube-proxy's /configz as the prober stores it (recorder/sources/kubeproxy/configz.py):
    the FeatureGates its configuration names (of ProxyTerminatingEndpoints, AllAlpha, AllBeta)
    and its mode."""
    payload = {"port": 10249, "address": "127.0.0.1", "latency_ms": 2.0, "status": 200,
               "error": None, "feature_gates": gates, "mode": "iptables",
               "look": "first"}  # fmt: skip
    return Observation(at(t), CLUSTER, "kube-proxy-probe", "ProxyConfig", "OBSERVED", payload,
                       node=node_name)  # fmt: skip


def gate_off_pair(version: str, configz: bool) -> list[Observation]:
    """The Service and two nodes n1 and n2 of kube-proxy `version` with ProxyTerminatingEndpoints
    off, stated by each node's /configz only where `configz` (else off by the version's default
    alone): the start of the scenarios that read a close from the health check without NodePort
    probes."""
    gates = [proxy_config(0.5, name, {"ProxyTerminatingEndpoints": False}) for name in ("n1", "n2")]
    return [
        service(0),
        *[node(0, name, version=version) for name in ("n1", "n2")],
        *(gates if configz else []),
    ]


def health_pair(
    version: str,
    counted: Callable[[float], int],
    drained: tuple[float, float],
    last: int,
    check_port: int,
) -> list[Observation]:
    """Two nodes on kube-proxy `version`, the health check every second to `last` s (n1's
    counting `counted(t)` ready local endpoints), an endpoint-driven LB (its health check on
    the traffic port `check_port`) polled every second. n2 serves q1 throughout; p1 on n1 is
    ready at 0.3 s and listed at 0.5 s; the LB drains n1 from `drained[0]` to before
    `drained[1]` and routes to it otherwise."""
    every = [k + 0.001 for k in range(1, last)]
    polls = [float(k) for k in range(1, last)]
    lo, hi = drained
    return [
        service(0),
        *[node(0, name, version=version) for name in ("n1", "n2")],
        *health_looks("n2", every, lambda t: 1),
        *health_looks("n1", every, counted),
        pod(0.2, "q1", "n2", "ready"),
        pod(0.3, "p1", "n1", "ready"),
        eps(0.5, [("q1", "n2", "ready"), ("p1", "n1", "ready")]),
        *polled_healthy("n2", polls, check_port),
        target(polls[0], None, "n1", "healthy", "ADDED", check_port=check_port),
        *polled("n1", polls, lambda t: "draining" if lo <= t < hi else "healthy", check_port),
    ]


def target(
    t: float,
    prev: float | None,
    node_name: str,
    state: str,
    op: str = "MODIFIED",
    *,
    check_port: int = 31805,
) -> Observation:
    """`check_port`: the group's HealthCheckPort (the healthCheckNodePort: a node-driven LB;
    the NodePort, 32999, for one that checks the traffic port: endpoint-driven)."""
    payload = {
        "Target": {"Id": f"i-{node_name}", "Port": 32999},
        "HealthCheckPort": str(check_port),
        "TargetHealth": {"State": state},
        "TargetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/tg/1",
    }
    return _sample(t, prev, "TargetHealth", "lb-poller", node_name, payload, op)


def facts_of(observations: Sequence[Observation]) -> list[Fact]:
    """Facts as the writer would derive them, event ids 1..n in the given order."""
    out: list[Fact] = []
    for event_id, obs in enumerate(observations, start=1):
        out.extend(derive(event_id, obs))
    return out


def grown(
    history: Sequence[Observation], more: Sequence[Observation], per: int, rounds: int
) -> Iterator[tuple[FoldState, list[Fact]]]:
    """A state folded from `history`, then from `per` more of `more` each of `rounds` rounds:
    the state after each (the first time as `history` left it) and the facts folded so far,
    for a fresh state's answer to compare with."""
    facts = facts_of([*history, *more])
    head = len(history)
    state = fold(FoldState(), [f for f in facts if f.event_id <= head])
    yield state, [f for f in facts if f.event_id <= head]
    for _ in range(rounds):
        head += per
        fold(state, [f for f in facts if head - per < f.event_id <= head])
        yield state, [f for f in facts if f.event_id <= head]


def refreshed_at(
    observations: Sequence[Observation], cut: float
) -> tuple[list[Window], list[Window], list[Window]]:
    """The windows replay.node_cache finds from the observations (in time order) up to `cut`
    (filling its cache), those it gives once the rest is folded, and what detect gives for
    the whole history: a refresh in two steps against a rebuild."""
    facts = facts_of(observations)
    bound = to_micros(at(cut))
    first = [f for f in facts if f.at_us <= bound]
    state, cache = fold(FoldState(), first), {}  # type: ignore[var-annotated]
    (svc,) = lb_facing(state)
    before = node_cache.windows(state, svc, DEFAULTS, cache)
    fold(state, facts[len(first) :])
    after = node_cache.windows(state, svc, DEFAULTS, cache)
    return before, after, detect(state, [svc], DEFAULTS)


def windows_of(
    observations: Sequence[Observation], settings: DetectSettings = DEFAULTS
) -> list[Window]:
    """Every window replay finds (observations in time order or not)."""
    ordered = sorted(observations, key=lambda o: o.observed_at)
    return detect(fold(FoldState(), facts_of(ordered)), settings=settings)


def window_on(
    observations: Sequence[Observation], node_name: str, settings: DetectSettings = DEFAULTS
) -> Window:
    """The one window replay finds on `node_name` (observations in time order or not)."""
    (window,) = [w for w in windows_of(observations, settings) if w.node == node_name]
    return window


def windows_holding(observations: Sequence[Observation], node_name: str, t: float) -> list[Window]:
    """The windows replay finds on `node_name` that may hold the instant `t` (seconds)."""
    us = to_micros(at(t))
    return [
        w
        for w in windows_of(observations)
        if w.node == node_name and w.start_earliest_us <= us <= w.end_latest_us
    ]


def covers(windows: Sequence[Window], start: float, end: float) -> bool:
    """Whether one of `windows` may begin by `start` and end no sooner than `end` (seconds)."""
    return any(
        w.start_earliest_us <= to_micros(at(start)) and w.end_latest_us >= to_micros(at(end))
        for w in windows
    )


def look_times(first: float, last: float, every: float) -> list[float]:
    """Look instants from `first` to `last` (inclusive) every `every` seconds, rounded to the
    millisecond (no float drift across hundreds of looks)."""
    out, t = [], first
    while t <= last + 1e-9:
        out.append(round(t, 3))
        t += every
    return out


def looks(
    node_name: str,
    first: float,
    last: float,
    every: float,
    result: Callable[[float], str] = lambda t: "connected",
) -> list[Observation]:
    """NodePort probes of one node (by default all connected; else each look's `result(t)`),
    every look stored with the one before."""
    out: list[Observation] = []
    t, prev = first, None
    while t <= last:
        out.append(nodeport(t, prev, node_name, result(t)))
        t, prev = t + every, t
    return out


def unseen_excursion(last_look: float | None) -> list[Observation]:
    """kube-proxy 1.25; the NodePort connected at 1 s and at 60 s (that sample names its
    previous look `last_look`); the LB saw the target healthy from 1 s; the node had no ready
    endpoint from 30 to 32 s (p1 terminating, p2 not yet ready), which no look saw."""
    return [
        service(0),
        node(0, "n1", version="v1.25.0"),
        nodeport(1, None, "n1", "connected"),
        target(1, None, "n1", "healthy", "ADDED"),
        eps(1, [("p1", "n1", "ready")]),
        eps(30, [("p1", "n1", "terminating"), ("p2", "n1", "stopped")]),
        eps(32, [("p2", "n1", "ready")]),
        nodeport(60, last_look, "n1", "connected"),
    ]


def polled_healthy(node_name: str, times: Sequence[float], check_port: int) -> list[Observation]:
    """The LB poller's looks at one node's target, all healthy (the first one ADDED), each
    stored with the one before."""
    out = [target(times[0], None, node_name, "healthy", "ADDED", check_port=check_port)]
    for prev, t in pairwise(times):
        out.append(target(t, prev, node_name, "healthy", "OBSERVED", check_port=check_port))
    return out


def polled(
    node_name: str, times: Sequence[float], state: Callable[[float], str], check_port: int
) -> list[Observation]:
    """The LB poller's looks at one node's target, each `state(t)`, each stored with the one
    before (`check_port`: as `target`)."""
    return [
        target(t, prev, node_name, state(t), check_port=check_port) for prev, t in pairwise(times)
    ]


def health_looks(
    node_name: str, times: Sequence[float], local: Callable[[float], int | None]
) -> list[Observation]:
    """The health-check node port's answers on one node, counting `local(t)` ready local
    endpoints (None: no answer), each stored with the one before (the first with none)."""
    prevs: list[float | None] = [None, *times]
    return [health(t, prev, node_name, local(t)) for prev, t in zip(prevs, times, strict=False)]


def listed_pod(version: str) -> list[Observation]:
    """A Service with one pod p1 on n1 (kube-proxy `version`), Ready and listed ready at 1 s;
    no LB look (the caller's target group decides the CCM mode)."""
    return [
        service(0),
        node(0, "n1", version=version),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
    ]


def p1_replaced_on_n1() -> list[Observation]:
    """p1 on n1 replaced by p3: p3 Ready at 94 s, listed ready beside p2 on n2 at 95 s (p1 no
    longer listed), p1 reported gone at 96 s (finishedAt 95.5 s)."""
    return [
        pod(94.0, "p3", "n1", "ready", revision="bbb"),
        eps(95.0, [("p3", "n1", "ready"), ("p2", "n2", "ready")]),
        pod(96.0, "p1", "n1", "gone", finished=95.5),
    ]


def one_node(version: str = "v1.29.3") -> list[Observation]:
    """A Service with one ready pod p1 on n1 (kube-proxy `version`), registered healthy."""
    return [
        service(0),
        node(0, "n1", version=version),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
    ]


def two_nodes() -> list[Observation]:
    """Two nodes: n2 with a ready pod, registered healthy; n1 registered unhealthy (no local
    endpoint)."""
    return [
        service(0),
        node(0, "n1"),
        node(0, "n2"),
        pod(1, "p2", "n2", "ready"),
        eps(1, [("p2", "n2", "ready")]),
        target(1, None, "n1", "unhealthy", "ADDED"),
        target(1, None, "n2", "healthy", "ADDED"),
    ]


def ready_pair(t: float, version: str = "v1.29.3") -> list[Observation]:
    """Two nodes on kube-proxy `version`, each with one ready pod (p1 on n1, p2 on n2) listed
    at `t`, both registered healthy then."""
    return [
        service(0),
        node(0, "n1", version=version),
        node(0, "n2", version=version),
        pod(t, "p1", "n1", "ready"),
        pod(t, "p2", "n2", "ready"),
        eps(t, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        target(t, None, "n1", "healthy", "ADDED"),
        target(t, None, "n2", "healthy", "ADDED"),
    ]


def joining_node(pending: float, ready: float, in_slice: float) -> list[Observation]:
    """`two_nodes` until n1's pod p1, pending at `pending`, turns ready at `ready` and its
    endpoint is in the slice at `in_slice`."""
    return [
        *two_nodes(),
        pod(pending, "p1", "n1", "pending"),
        pod(ready, "p1", "n1", "ready"),
        eps(in_slice, [("p2", "n2", "ready"), ("p1", "n1", "ready")]),
    ]


def unlisted_swap(
    deleted: float, stopped: float, pending: float, ready: float, listed: float
) -> list[Observation]:
    """kube-proxy 1.29: p1 on n1 ready from 0.5 s, deleted at `deleted`, its container stopped
    at `stopped` (seen gone 0.3 s later); its replacement p2 pending at `pending`, Ready at
    `ready`. The EndpointSlice controller, behind, lists p1 ready until one write at `listed`
    lists p2 in its place (no LB or probe looks: the caller adds them)."""
    return [
        service(0),
        node(0, "n1", version="v1.29.3"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        pod(deleted, "p1", "n1", "terminating", deleted_at=deleted, grace=30),
        pod(pending, "p2", "n1", "pending", revision="bbb"),
        pod(stopped + 0.3, "p1", "n1", "gone", deleted_at=deleted, grace=30, finished=stopped),
        pod(ready, "p2", "n1", "ready", revision="bbb"),
        eps(listed, [("p2", "n1", "ready")]),
    ]


def terminating_swap(
    deleted: float, listed: float, pending: float, ready: float, both: float, grace: int = 30
) -> list[Observation]:
    """p1 on n1 deleted at `deleted` (grace `grace` s) and listed serving-terminating at
    `listed`; its replacement p2 pending at `pending`, Ready at `ready` and listed ready beside
    p1 at `both` (a rolling update's swap on one node; the caller adds p1's death and the rest)."""
    return [
        pod(deleted, "p1", "n1", "terminating", deleted_at=deleted, grace=grace),
        eps(listed, [("p1", "n1", "terminating")]),
        pod(pending, "p2", "n1", "pending"),
        pod(ready, "p2", "n1", "ready"),
        eps(both, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
    ]


def replaced_on_n1(
    deleted: float,
    listed: float,
    pending: float,
    gone: float,
    finished: float,
    emptied: float,
    ready: float,
    relisted: float,
    elsewhere: bool = False,
) -> list[Observation]:
    """A Service whose one pod p1 on n1 (kube-proxy 1.29) is replaced by p2 with nothing
    between: p1 deleted at `deleted`, listed serving-terminating at `listed`, seen stopped at
    `gone` (finishedAt `finished`), the slice without an endpoint on n1 from `emptied`; p2
    pending at `pending`, Ready at `ready`, listed ready at `relisted` (the caller adds the
    probes and the LB's answers). `elsewhere`: p9 on n2 listed ready throughout, so that the
    Service always has a usable endpoint (no REJECT: replay.rejected)."""
    other = [("p9", "n2", "ready")] if elsewhere else []
    return [
        service(0),
        node(0, "n1", version="v1.29.3"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready"), *other]),
        pod(deleted, "p1", "n1", "terminating", deleted_at=deleted),
        eps(listed, [("p1", "n1", "terminating"), *other]),
        pod(pending, "p2", "n1", "pending", revision="bbb"),
        pod(gone, "p1", "n1", "gone", deleted_at=deleted, finished=finished),
        eps(emptied, other),
        pod(ready, "p2", "n1", "ready", revision="bbb"),
        eps(relisted, [("p2", "n1", "ready"), *other]),
    ]


def simulated_halves(preset: str, seed: int) -> tuple[list[Fact], int]:
    """A simulated preset's facts and where their second half starts (at an event's first
    fact: a fold takes whole events)."""
    from gapwatch.recorder.sim import load_scenario, run

    observations = run(load_scenario(preset), seed=seed).observations
    facts = [f for i, o in enumerate(observations, 1) for f in derive(i, o)]
    half = len(facts) // 2
    while facts[half].event_id == facts[half - 1].event_id:
        half += 1
    return facts, half


def counted(modules: Sequence[Any], name: str, setattr_: Callable[..., Any]) -> list[int]:
    """`name` in each of `modules` replaced (by `setattr_`, a monkeypatch's) with the one
    function that appends the length of its first argument to the list returned, then calls
    the first module's: how many elements each call read."""
    seen: list[int] = []
    plain = getattr(modules[0], name)

    def counting(items: Sequence[Any], *args: Any) -> Any:
        seen.append(len(items))
        return plain(items, *args)

    for module in modules:
        setattr_(module, name, counting)
    return seen
