"""Properties over many random scenarios (hypothesis): the truth's invariants always hold."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gapwatch.recorder.sim import load_scenario, run

EVENTS: st.SearchStrategy[list[dict[str, Any]]] = st.lists(
    st.sampled_from(
        [
            {"action": "rollout"},
            {"action": "scale", "replicas": 1},
            {"action": "scale", "replicas": 3},
            {"action": "crash_pod"},
            {"action": "drain", "node": "@random"},
            {"action": "uncordon", "node": "@random"},
            {"action": "node_down", "node": "@random"},
            {"action": "delete_node", "node": "@random"},
            {"action": "add_node"},
        ]
    ),
    min_size=1,
    max_size=5,
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    events = [{**e, "at_s": 30 + 60 * i} for i, e in enumerate(draw(EVENTS))]
    pte = draw(st.booleans())
    overrides: dict[str, Any] = {
        "duration_s": 30 + 60 * len(events) + 120,
        "events": events,
        "kube_proxy.proxy_terminating_endpoints": pte,
        "nodes.kube_proxy_version": "v1.28.15" if pte else "v1.25.16",
        "ccm.mode": draw(st.sampled_from(["endpoint-driven", "node-driven"])),
        "service.type": "LoadBalancer",
        "lb.listener": draw(st.sampled_from(["http", "tcp"])),
        "ingress.kind": draw(st.sampled_from(["Deployment", "DaemonSet"])),
        "ingress.pod.prestop_s": draw(st.sampled_from([0, 5, 30])),
        "endpointslice.batch_s": draw(st.sampled_from([0, 1])),
        "traffic.rps": 200,
        "traffic.request_duration_s": draw(st.sampled_from([0, 0.2])),
    }
    return overrides, draw(st.integers(1, 10_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_truth_invariants(case: tuple[dict[str, Any], int]) -> None:
    overrides, seed = case
    result = run(load_scenario("seed-3node", overrides), seed)
    truth = result.truth
    by_node: dict[str, list[Any]] = {}
    for w in truth.windows:
        assert w.start_us < w.end_us
        by_node.setdefault(w.node, []).append(w)
    for windows in by_node.values():
        for a, b in pairwise(sorted(windows, key=lambda w: w.start_us)):
            assert a.end_us <= b.start_us
    drop = "502" if overrides["lb.listener"] == "http" else "timeout"
    for q in truth.requests:
        if q.outcome == "reset":  # stamped at an abrupt kill, which a second local pod may cover
            assert overrides["traffic.request_duration_s"] > 0
            continue
        assert any(w.start_us <= q.at_us < w.end_us for w in by_node.get(q.node, [])), q
        assert q.outcome in (drop, "refused")
    times = [o.observed_at for o in result.observations]
    assert times == sorted(times)
    for r in truth.rollouts:
        assert r.start_us <= r.end_us and r.revision_from != r.revision_to


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(1, 10_000),
    events=st.lists(
        st.sampled_from([{"action": "rollout"}, {"action": "scale", "replicas": 3}]),
        min_size=1,
        max_size=3,
    ),
)
def test_full_mitigation_loses_nothing(seed: int, events: list[dict[str, Any]]) -> None:
    """The seed's improved flow: PTE, preStop past the CCM's deregistration and a registration
    delay past kube-proxy's lag: no window, whatever the lags drawn."""
    base = load_scenario("mitigated")
    delay = base.kube_proxy.lag_s.bound + 1
    overrides = {
        "events": [{**e, "at_s": 30 + 90 * i} for i, e in enumerate(events)],
        "ccm.register_delay_s": delay,
    }
    truth = run(load_scenario("mitigated", overrides), seed).truth
    assert truth.windows == ()
    assert truth.requests == ()
