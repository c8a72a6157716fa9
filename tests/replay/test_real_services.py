"""Services as they change in real clusters, through the real writer into a real store (SQLite
and PostgreSQL), replayed at each step (the incremental refresh) and rebuilt.

Field semantics from the API reference (core/v1 Service,
https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/) and the
"Traffic policies" section of https://kubernetes.io/docs/reference/networking/virtual-ips/:
`externalTrafficPolicy` Cluster "routes external traffic to all ready endpoints", Local "only
routes to ready node-local endpoints" (the only policy under which a node without a local
endpoint drops the LB's traffic); `healthCheckNodePort` exists only for a LoadBalancer Service
with Local; a ClusterIP Service has no NodePort. The Service's sample is the kubelb fixture's
first record (tests/fixtures/k8s/kubelb-kind-services-lb-local-healthchecknodeport.json: type
LoadBalancer, Local, healthCheckNodePort), its fields changed as `kubectl edit` would."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import ServiceRef, WhatIf, Window
from tests.replay.builders import CLUSTER, T0, _k8s, eps, node, nodeport, pod, target, windows_of

FIXTURES = Path(__file__).parents[1] / "fixtures" / "k8s"
_REAL = json.loads(
    (FIXTURES / "kubelb-kind-services-lb-local-healthchecknodeport.json").read_text()
)
NS, SVC = _REAL[0]["metadata"]["namespace"], _REAL[0]["metadata"]["name"]
HCNP = _REAL[0]["spec"]["healthCheckNodePort"]
NODE_PORT = _REAL[0]["spec"]["ports"][0]["nodePort"]


def service(t: float, op: str = "MODIFIED", **spec: Any) -> Observation:
    """The real Service at `t`, its spec fields changed by `spec` (None: the field removed, as
    the API server drops healthCheckNodePort when the policy becomes Cluster)."""
    payload = copy.deepcopy(_REAL[0])
    for key, value in spec.items():
        if value is None:
            payload["spec"].pop(key, None)
        else:
            payload["spec"][key] = value
    return _k8s(t, "Service", op, payload)


def cluster_policy(t: float) -> Observation:
    return service(t, externalTrafficPolicy="Cluster", healthCheckNodePort=None)


def _slice(t: float, endpoints: list[tuple[str, str, str]]) -> Observation:
    obs = eps(t, endpoints)
    payload = copy.deepcopy(dict(obs.payload))
    payload["metadata"].update(namespace=NS, labels={"kubernetes.io/service-name": SVC})
    for ep in payload["endpoints"]:
        ep["targetRef"]["namespace"] = NS
    return _k8s(t, "EndpointSlice", "MODIFIED", payload)


def _pod(t: float, name: str, node_name: str, state: str, **kw: Any) -> Observation:
    obs = pod(t, name, node_name, state, **kw)
    payload = copy.deepcopy(dict(obs.payload))
    payload["metadata"]["namespace"] = NS
    return _k8s(t, "Pod", obs.op, payload, node=node_name)


def _target(t: float, prev: float | None, node_name: str, state: str, op: str = "MODIFIED",
            port: int = HCNP) -> Observation:  # fmt: skip
    obs = target(t, prev, node_name, state, op, check_port=port)
    payload = dict(obs.payload, Target={"Id": f"i-{node_name}", "Port": NODE_PORT})
    return Observation(
        observed_at=obs.observed_at, cluster=obs.cluster, source=obs.source, kind=obs.kind,
        op=obs.op, payload=payload, namespace=NS, name=SVC, node=node_name,
        previous_observed_at=obs.previous_observed_at,
    )  # fmt: skip


def _s(us: int) -> float:
    return round(us / 1e6 - T0.timestamp(), 1)


def _seen(windows: list[Window]) -> list[tuple[Any, ...]]:
    return [
        (w.node, w.cls, w.certain, _s(w.start_earliest_us), _s(w.start_latest_us),
         _s(w.end_earliest_us), _s(w.end_latest_us))
        for w in windows
    ]  # fmt: skip


def stored(engine: Engine, observations: list[Observation], cut: float) -> list[Window]:
    """The windows of the store that got the observations before `cut` s, was refreshed, then
    got the rest and was refreshed again; the same as a rebuild's."""
    ordered = sorted(observations, key=lambda o: o.observed_at)
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all([o for o in ordered if (o.observed_at - T0).total_seconds() < cut])
    api.refresh(engine)
    writer.write_all([o for o in ordered if (o.observed_at - T0).total_seconds() >= cut])
    found = api.windows(engine)
    projections.rebuild(engine)
    assert _seen(api.windows(engine)) == _seen(found)
    return found


def _terminating_alone() -> list[Observation]:
    """No prober, no LB poller (F and R inferred): kube-proxy 1.25 on n1, p1 the Service's only
    pod, terminating at 20 s and gone at 25 s."""
    return [
        service(0, "ADDED"),
        node(0, "n1", version="v1.25.0"),
        _pod(1, "p1", "n1", "ready"),
        _slice(1, [("p1", "n1", "ready")]),
        _pod(20, "p1", "n1", "terminating", deleted_at=20),
        _slice(20, [("p1", "n1", "stopped")]),
        _pod(25, "p1", "n1", "gone"),
        _slice(26, []),
    ]


def test_local_then_cluster_keeps_the_windows_it_had_while_local(engine: Engine) -> None:
    """Changed to Cluster at 100 s (a mitigation after the incident, say): the window of 20 s
    stays, cut where kube-proxy surely applied Cluster (100 s + the 60 s lag bound) instead of
    the CCM's 300 s bound. Before: replay judged the Service by its last version only, so it
    was no longer LB-facing and every window vanished."""
    alone = windows_of(_terminating_alone())
    # from 19.5 s: the slice seen at 20 s was written up to the watch skew (0.5 s) before, and
    # kube-proxy's own watch may have delivered it then (no kube-proxy metrics bound it)
    assert _seen(alone) == [("n1", "closed-before-deregistered", False, 19.5, 320.0, 19.5, 320.0)]
    found = stored(engine, [*_terminating_alone(), cluster_policy(100)], cut=50)
    assert _seen(found) == [("n1", "closed-before-deregistered", False, 19.5, 160.0, 19.5, 160.0)]


def _cluster_then_local() -> list[Observation]:
    """Cluster from the start, the LB polled: both nodes healthy on the traffic port (as for
    every Cluster Service), p1 on n1 only. Changed to Local at 100 s (healthCheckNodePort
    allocated): the LB checks it and fails n2, which has no local endpoint, by 110 s."""
    return [
        cluster_policy(0),
        node(0, "n1"),
        node(0, "n2"),
        _pod(1, "p1", "n1", "ready"),
        _slice(1, [("p1", "n1", "ready")]),
        _target(1, None, "n1", "healthy", "ADDED", port=NODE_PORT),
        _target(1, None, "n2", "healthy", "ADDED", port=NODE_PORT),
        _target(50, 1, "n1", "healthy", "OBSERVED", port=NODE_PORT),
        _target(50, 1, "n2", "healthy", "OBSERVED", port=NODE_PORT),
        service(100),
        _target(110, 100, "n2", "unhealthy"),
        _target(110, 100, "n1", "healthy"),
    ]


def test_cluster_then_local_has_no_window_while_cluster(engine: Engine) -> None:
    """While Cluster, n2 forwards to p1 on n1: no gap. After the change a window on n2 is
    possible until the LB failed it (100-110 s). Before: a certain `pod-gone-before-
    deregistered` window on n2 from 1 s (99 s of it false). Its class is kube-proxy's: n2 never
    had a local pod, so no pod went (replay/inferred_close.py, rule NP1, session 38; it read
    `pod-gone-before-deregistered` until then)."""
    assert _seen(stored(engine, _cluster_then_local(), cut=60)) == [
        ("n2", "closed-before-deregistered", False, 100.0, 110.0, 100.0, 110.0)
    ]


def test_a_type_change_to_clusterip_ends_the_windows(engine: Engine) -> None:
    """LoadBalancer to ClusterIP at 100 s (the CCM deletes the LB; no NodePort is left): the
    same as a change of policy. Before: every window vanished as for Cluster."""
    changed = service(100, type="ClusterIP", externalTrafficPolicy=None, healthCheckNodePort=None)
    found = stored(engine, [*_terminating_alone(), changed], cut=50)
    assert _seen(found) == [("n1", "closed-before-deregistered", False, 19.5, 160.0, 19.5, 160.0)]


def test_a_service_deleted_and_created_again_has_windows_only_while_it_exists(
    engine: Engine,
) -> None:
    """Deleted at 100 s, created again (a new uid) at 200 s with a pod on n1 from 210 s that
    terminates at 300 s: the first window is cut by the deletion (as by Cluster above), none
    is possible while no Service existed (160-200 s), and the new Service's own start from
    its creation. Before: the first window ran to the CCM's bound (320 s), through the time
    the Service did not exist, into the new one's."""
    again = copy.deepcopy(_REAL[0])
    again["metadata"]["uid"] = "00000000-0000-0000-0000-000000000001"
    obs = [
        *_terminating_alone(),
        service(100, "DELETED"),
        _k8s(200, "Service", "ADDED", again),
        _pod(210, "p2", "n1", "ready"),
        _slice(210, [("p2", "n1", "ready")]),
        _pod(300, "p2", "n1", "terminating", deleted_at=300),
        _slice(300, [("p2", "n1", "stopped")]),
        _pod(305, "p2", "n1", "gone"),
        _slice(306, []),
    ]
    found = _seen(stored(engine, obs, cut=150))
    # from 19.5 s, the watch skew before the slice was seen (as above)
    assert found[0] == ("n1", "closed-before-deregistered", False, 19.5, 160.0, 19.5, 160.0)
    # possible registered-before-forwarding; p2's close from 299.5 s (the watch skew, as above)
    assert [w[3] for w in found[1:]] == [200.0, 299.5]
    assert found[1][1:3] == ("registered-before-forwarding", False)  # from the creation on


def _probe(t: float, prev: float | None, node_name: str, result: str) -> Observation:
    obs = nodeport(t, prev, node_name, result)
    return dataclasses.replace(obs, namespace=NS, name=SVC)


def test_what_if_has_no_window_while_cluster(engine: Engine) -> None:
    """A rollout while the Service was Cluster (p1 on n1 replaced by p2 on n2, NodePort probes
    and LB polls measuring both nodes), then Local from 100 s: neither the windows nor a what-if
    (preStop 1 s, over the whole history and over a range) has a window then. Before the
    what-if's own lanes were held to the Local stretches, it showed a certain 9 s
    `pod-gone-before-deregistered` window on n1 (26-35 s)."""
    obs = [
        cluster_policy(0),
        node(0, "n1"),
        node(0, "n2"),
        _pod(1, "p1", "n1", "ready"),
        _slice(1, [("p1", "n1", "ready")]),
        _pod(15, "p2", "n2", "ready"),
        _slice(15, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        _pod(20, "p1", "n1", "terminating", deleted_at=20),
        _slice(20, [("p1", "n1", "stopped"), ("p2", "n2", "ready")]),
        _pod(25, "p1", "n1", "gone"),
        _slice(26, [("p2", "n2", "ready")]),
        service(100),
        _probe(2, None, "n1", "connected"),
        _probe(2, None, "n2", "timeout"),
        _probe(17, 16, "n2", "connected"),
        _probe(22, 21, "n1", "timeout"),
        _target(1, None, "n1", "healthy", "ADDED"),
        _target(1, None, "n2", "unhealthy", "ADDED"),
        _target(30, 20, "n2", "healthy"),
        _target(40, 30, "n1", "unhealthy"),
    ]
    assert stored(engine, obs, cut=50) == []
    svc = ServiceRef(CLUSTER, NS, SVC)
    assert api.whatif(engine, svc, WhatIf(prestop_s=1)) == []
    until = T0 + timedelta(seconds=400)
    assert api.whatif(engine, svc, WhatIf(prestop_s=1), since=T0, until=until) == []


def _polled(node_name: str, times: list[float]) -> list[Observation]:
    out = [_target(times[0], None, node_name, "healthy", "ADDED")]
    out += [_target(t, prev, node_name, "healthy", "OBSERVED") for prev, t in pairwise(times)]
    return out


def test_a_new_health_check_node_port_keeps_the_lb_read_as_health_checked(engine: Engine) -> None:
    """The LB polled while it checked healthCheckNodePort 31805 (the fixture's HCNP), never
    seen `initial` or `unhealthy`: a node-driven LB, and p1's window on n1 is certain
    (kube-proxy closed at 31-32 s, the LB still routing at its 41 and 51 s polls). Changed to
    Cluster at 200 s and back to Local at 300 s, the API allocates a new healthCheckNodePort
    (32117). Before: replay compared the target group's HealthCheckPort with the last port
    only, read the LB as endpoint-driven and the window as possible only (31-260 s)."""
    obs = [
        service(0, "ADDED"),
        node(0, "n1"),
        node(0, "n2"),
        _pod(1, "p1", "n1", "ready"),
        _slice(1, [("p1", "n1", "ready")]),
        _pod(5, "p2", "n2", "ready"),
        _slice(5, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        *_polled("n1", [1, 11, 21, 31, 41, 51]),
        *_polled("n2", [15, 25, 35, 45, 55]),
        _pod(30, "p1", "n1", "terminating", deleted_at=30),
        _slice(30, [("p1", "n1", "stopped"), ("p2", "n2", "ready")]),
        _pod(33, "p1", "n1", "gone"),
        _slice(34, [("p2", "n2", "ready")]),
        _probe(2, None, "n1", "connected"),
        _probe(32, 31, "n1", "timeout"),
        _probe(2, None, "n2", "timeout"),
        _probe(12, 11, "n2", "connected"),
        cluster_policy(200),
        service(300, healthCheckNodePort=32117),
    ]
    n1 = [w for w in _seen(stored(engine, obs, cut=100)) if w[0] == "n1"]
    assert [w[:5] for w in n1] == [("n1", "closed-before-deregistered", True, 31.0, 32.0)]
