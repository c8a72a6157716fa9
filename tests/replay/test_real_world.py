"""Behaviour the detector must get right on data it did not generate: literal observations in
the shapes real sources produce (kube-proxy's health-check body, ELBv2's TargetHealthDescription
with HealthCheckPort as describe-target-health returns it, Node and EndpointSlice objects), not
the simulator's."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.context import ccm_mode
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.model import Window
from tests.replay.builders import (
    _sample,
    eps,
    facts_of,
    health,
    node,
    nodeport,
    one_node,
    pod,
    service,
    target,
)


def _windows(obs: list[Observation]) -> list[Window]:
    return detect(fold(FoldState(), facts_of(obs)))


def _rollout_probes(every: bool, with_prev: bool) -> list[Observation]:
    """One node whose only pod goes at 20 s (kube-proxy closes), deregistered at 30 s; the
    NodePort is probed every second, stored as every sample or as changes only, with or
    without previous_observed_at."""
    obs = one_node("v1.25.0")
    last = "connected"
    for t in range(2, 40):
        result = "connected" if t <= 21 else "timeout"
        if every or result != last or t == 2:
            prev = float(t - 1) if with_prev and t > 2 else None
            obs.append(nodeport(float(t), prev, "n1", result))
        last = result
    obs += [
        pod(20, "p1", "n1", "terminating", deleted_at=20),
        eps(20, [("p1", "n1", "terminating")]),
        target(30, 29, "n1", "draining"),
    ]
    return sorted(obs, key=lambda o: o.observed_at)


def _bounds(windows: list[Window]) -> list[tuple[str, int, int, int, int]]:
    return [
        (w.cls, w.start_earliest_us, w.start_latest_us, w.end_earliest_us, w.end_latest_us)
        for w in windows
    ]


def test_every_sample_changes_with_bounds_and_no_previous_look_give_the_same_windows() -> None:
    every = _bounds(_windows(_rollout_probes(every=True, with_prev=True)))
    every_no_prev = _bounds(_windows(_rollout_probes(every=True, with_prev=False)))
    changes = _bounds(_windows(_rollout_probes(every=False, with_prev=True)))
    assert len(every) == 1 and every[0][0] == "closed-before-deregistered"
    assert every == changes == every_no_prev


def test_a_crashed_node_is_node_not_ready_while_its_node_object_still_says_ready() -> None:
    # The machine stops at 100 s: the health check and the NodePort time out from the next
    # probe on, the Node object stays Ready until the node controller's grace runs out (40 s),
    # the endpoint-driven LB keeps routing until the endpoints follow.
    obs = [
        *one_node(),
        health(2, None, "n1", 1),
        nodeport(2, None, "n1", "connected"),
        health(101, 96, "n1", None),
        nodeport(101, 96, "n1", "timeout", latency_ms=1000),
        node(140, "n1", ready=False, version="v1.29.3"),
        eps(141, []),
        target(146, 141, "n1", "draining"),
    ]
    (window,) = _windows(obs)
    assert window.cls == "node-not-ready" and window.certain
    assert window.start_earliest_us <= _us(100) and window.end_latest_us >= _us(141)


def test_a_restarting_kube_proxy_refuses_health_checks_but_is_no_window() -> None:
    # kube-proxy restarts at 50 s: its health port refuses connections for a few seconds while
    # the iptables rules it installed keep forwarding: the NodePort still connects.
    base = [*one_node(), health(2, None, "n1", 1)]
    refused = _health_error(50, 49, "n1", "refused")
    back = health(55, 54, "n1", 1)
    with_nodeport = [*base, nodeport(2, None, "n1", "connected"), refused, back]
    assert _windows(with_nodeport) == []
    # with only the health check: the rules kube-proxy installed keep forwarding, F holds what
    # the last answer before the refusal said (200): no window at all
    assert _windows([*base, refused, back]) == []
    # a refusal with nothing answered before it leaves F unknown: at most an uncertain window
    first = [*one_node(), refused, back]
    assert all(not w.certain for w in _windows(first))


def _health_error(t: float, prev: float | None, node_name: str, error: str) -> Observation:
    payload: dict[str, Any] = {"status": None, "body": None, "error": error, "port": 31805}
    return _sample(t, prev, "ProxyHealth", "kube-proxy-probe", node_name, payload)


def test_a_node_driven_lb_is_recognised_from_its_health_check_port() -> None:
    # Only healthy targets were ever polled, but the target group health-checks the Service's
    # healthCheckNodePort (31805): the LB follows the health check (node-driven), not the
    # EndpointSlices, before any target was seen to fail.
    obs = one_node()
    state = fold(FoldState(), facts_of(obs))
    (svc,) = lb_facing(state)
    assert ccm_mode(state, svc, DEFAULTS) == "node"
    other_port = obs[-1]
    assert isinstance(other_port.payload, dict)
    payload = dict(other_port.payload, HealthCheckPort="32999")
    moved = [*obs[:-1], _sample(1, None, "TargetHealth", "lb-poller", "n1", payload, "ADDED")]
    state = fold(FoldState(), facts_of(moved))
    assert ccm_mode(state, svc, DEFAULTS) == "endpoint"


def _us(seconds: float) -> int:
    from gapwatch.recorder.timefmt import to_micros
    from tests.replay.builders import at

    return to_micros(at(seconds))


def test_a_stale_kube_proxy_503_with_local_endpoints_is_no_sure_window() -> None:
    # From 1.27 the health check answers 503 with localEndpoints still counted when kube-proxy
    # is behind (serviceProxyHealthy false): its last rules keep forwarding to the local pod.
    stale = _sample(
        50,
        49,
        "ProxyHealth",
        "kube-proxy-probe",
        "n1",
        {
            "status": 503,
            "body": {
                "service": {"namespace": "istio-system", "name": "istio-ingressgateway"},
                "localEndpoints": 1,
                "serviceProxyHealthy": False,
            },
            "error": None,
            "port": 31805,
        },
    )
    obs = [*one_node(), health(2, None, "n1", 1), stale, health(60, 59, "n1", 1)]
    assert all(not w.certain for w in _windows(obs))
    # a 503 because the endpoints went (0 local endpoints) is a sure window while the LB routes
    gone = [
        *one_node("v1.25.16"),
        health(2, None, "n1", 1),
        eps(49, []),
        health(50, 49, "n1", 0),
        target(56, 55, "n1", "draining"),
    ]
    assert [(w.cls, w.certain) for w in _windows(gone)] == [("closed-before-deregistered", True)]


def test_pte_follows_the_kube_proxy_version() -> None:
    from gapwatch.replay.assumptions import DetectSettings
    from gapwatch.replay.proxy import pte_enabled

    def pte(version: str, configured: bool | None = None) -> bool:
        state = fold(FoldState(), facts_of(one_node(version)))
        settings = DetectSettings(proxy_terminating_endpoints=configured)
        return pte_enabled(state, "c1", "n1", settings)

    assert not pte("v1.25.16") and pte("v1.25.16", configured=True)  # alpha/beta gate enabled
    assert pte("v1.26.15") and not pte("v1.27.16", configured=False)  # on by default, can be off
    assert pte("v1.28.15", configured=False)  # GA: always on


def test_a_timeout_known_after_a_newer_answer_does_not_hide_that_answer() -> None:
    # The prober stores changes only. A NodePort probe sent at 40 s times out (known at 41 s);
    # kube-proxy opens the new pod's rules at 40.5 s and the probe sent then connects, stored at
    # 40.6 s, before the timeout is known. The "connected" repeats the lane's last stored value,
    # so nothing but the newest look remembers it: the gap ends by 40.6 s, not at the next
    # stored change (the 100 s heartbeat).
    obs = [
        *one_node("v1.25.0"),
        nodeport(2, None, "n1", "connected"),
        eps(39, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        nodeport(40.6, 40.5, "n1", "connected"),
        nodeport(41, 39.9, "n1", "timeout", latency_ms=1000),
        nodeport(100, 99.9, "n1", "connected"),
    ]
    windows = _windows(obs)
    assert [w.end_latest_us <= _us(40.6) for w in windows] == [True]
    # the same samples folded by the bulk path replay.load uses on PostgreSQL
    assert _windows(obs) == detect(_bulk_fold(obs))


def _bulk_fold(obs: list[Observation]) -> FoldState:
    """Kubernetes facts through `fold`, probe and LB samples through the bulk path."""
    import pyarrow as pa

    from gapwatch.replay.copyfold import _FACT_TYPES, _PROBE_COLUMNS, _fold_probe_columns
    from gapwatch.replay.facts import FACT_COLUMNS

    facts = facts_of(obs)
    fact_at = FACT_COLUMNS.index("fact")
    probes = [f for f in facts if f[fact_at] in ("health", "nodeport", "target")]
    state = fold(
        FoldState(), [f for f in facts if f[fact_at] not in ("health", "nodeport", "target")]
    )
    columns = {c: [f[i] for f in probes] for i, c in enumerate(FACT_COLUMNS)}
    _fold_probe_columns(
        state, pa.table({c: pa.array(columns[c], type=_FACT_TYPES[c]) for c in _PROBE_COLUMNS})
    )
    return state


def test_a_refused_health_port_without_pte_keeps_what_the_rules_did() -> None:
    # kube-proxy 1.25 (no ProxyTerminatingEndpoints inference from the endpoints): its health
    # port refuses from 50 s to 65 s while it restarts (the lab's probe-refused fault). The
    # rules it installed keep forwarding, so F is what the last answer (200) said: no window.
    base = [*one_node("v1.25.0"), health(2, None, "n1", 1)]
    refused = _health_error(50, 49, "n1", "refused")
    assert _windows([*base, refused, health(65, 64, "n1", 1)]) == []
    # the pod starts terminating at 55 s, inside the refusal: whether the restarting
    # kube-proxy programmed that is unknown until the 503 at 65 s, so a window may open from
    # 55 s less the watch skew (kube-proxy's watch may deliver the slice before the recorder's:
    # docs/semantics.md, rule AI), not before, and a refused port is no evidence of a pod gone
    going = [
        pod(55, "p1", "n1", "terminating", deleted_at=55),
        eps(55, [("p1", "n1", "terminating")]),
    ]
    (window,) = _windows([*base, refused, *going, health(65, 64, "n1", 0)])
    assert window.start_earliest_us == _us(54.5) and window.start_latest_us <= _us(65)
    assert window.cls == "closed-before-deregistered"


def test_a_joining_node_whose_health_port_never_answered_is_not_a_node_down() -> None:
    # A node joins at 0 s: NotReady, its kube-proxy not up, so the health check times out from
    # the first look; the Node turns Ready at 20 s and the LB routes to it from 25 s, before
    # kube-proxy answers (503 at 60 s, no local endpoint). A timeout with no answer before it
    # is a node that never served, not one that went down (the crash test above answered 200
    # first): the window is kube-proxy's side, not `node-not-ready`.
    obs = [
        service(0),
        node(0, "n2", ready=False),
        health(5, None, "n2", None),
        node(20, "n2", ready=True),
        target(25, 20, "n2", "healthy", "ADDED"),
        health(60, 55, "n2", 0),
    ]
    (window,) = _windows(obs)
    assert window.certain and window.cls != "node-not-ready"


def test_a_crash_seen_by_the_watch_after_the_probe_is_still_pod_gone() -> None:
    # The only pod crashes at 76.1 s; kube-proxy drops its rules before the next probe (a
    # timeout at 76.5 s), and the watch delivers the Pod and the EndpointSlice changes 0.3 s
    # after that probe (within the assumed watch skew). The pod stopped while its endpoint was
    # still forwardable: `pod-gone-before-deregistered`, not kube-proxy closing first.
    obs = [
        *one_node("v1.25.0"),
        nodeport(2, None, "n1", "connected"),
        nodeport(76.0, 75.5, "n1", "connected"),
        nodeport(76.5, 76.0, "n1", "timeout"),
        eps(76.79, [("p1", "n1", "stopped")]),
        pod(76.84, "p1", "n1", "gone"),
        target(80, 79, "n1", "draining"),
    ]
    (window,) = _windows(obs)
    assert window.certain and window.cls == "pod-gone-before-deregistered"


def test_a_late_timeout_after_an_earlier_late_timeout_does_not_hide_the_newer_answer() -> None:
    # As above, but the lane already holds a late answer: a probe sent at 30 s timed out,
    # known at 31 s, after the one sent at 30.5 s had connected (stored first). The lane's last
    # sample to arrive is then not its newest in time, and the later late timeout (sent at 40 s)
    # must still be read against the newest (connected at 30.6 s), whose repeat at 40.6 s was
    # dropped (held-out seed 17,000,396 at 0.1 s probes: a certain 50 s window that never was).
    obs = [
        *one_node("v1.25.0"),
        nodeport(2, None, "n1", "connected"),
        nodeport(30, 28.9, "n1", "timeout", latency_ms=1000),
        nodeport(30.6, 30.5, "n1", "connected"),
        nodeport(31, 29.9, "n1", "timeout", latency_ms=1000),
        eps(39, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        nodeport(40.6, 40.5, "n1", "connected"),
        nodeport(41, 39.9, "n1", "timeout", latency_ms=1000),
        nodeport(100, 99.9, "n1", "connected"),
    ]
    windows = _windows(obs)
    assert windows and all(w.end_latest_us <= _us(40.6) for w in windows)
    assert _windows(obs) == detect(_bulk_fold(obs))
