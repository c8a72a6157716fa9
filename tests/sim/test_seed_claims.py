"""The seed's claims, proven on the simulation's ground truth (not on its observations)."""

from __future__ import annotations

import pytest

from gapwatch.recorder.sim import Truth, load_scenario, run

SEEDS = range(1, 6)
RBF = "registered-before-forwarding"
CBD = "closed-before-deregistered"


def classes(truth: Truth) -> set[str]:
    return {w.cls for w in truth.windows}


@pytest.mark.parametrize("seed", SEEDS)
def test_unmitigated_rollout_shows_both_seed_races(seed: int) -> None:
    truth = run(load_scenario("seed-3node"), seed).truth
    assert {RBF, CBD} <= classes(truth)
    assert truth.requests, "traffic during the windows must fail"


@pytest.mark.parametrize("seed", SEEDS)
def test_pte_and_long_prestop_remove_closed_before_deregistered(seed: int) -> None:
    scenario = load_scenario("mitigated")
    dereg_bound = scenario.ccm.deregister_lag_s.bound + scenario.endpointslice.lag_s.bound
    assert scenario.kube_proxy.proxy_terminating_endpoints
    assert scenario.ingress.pod.prestop_s >= dereg_bound
    truth = run(scenario, seed).truth
    assert CBD not in classes(truth)
    assert "pod-gone-before-deregistered" not in classes(truth)
    # the other race is untouched by this mitigation
    assert RBF in classes(truth)


@pytest.mark.parametrize("seed", SEEDS)
def test_registration_delay_beyond_kube_proxy_lag_removes_registered_before_forwarding(
    seed: int,
) -> None:
    base = load_scenario("seed-3node")
    delay = base.kube_proxy.lag_s.bound + 1.0
    scenario = load_scenario("seed-3node", {"ccm.register_delay_s": delay})
    truth = run(scenario, seed).truth
    assert RBF not in classes(truth)
    assert CBD in classes(truth)


def test_without_pte_a_long_prestop_alone_does_not_help() -> None:
    scenario = load_scenario(
        "seed-3node", {"ingress.pod.prestop_s": 30, "ingress.pod.termination_grace_s": 60}
    )
    assert CBD in classes(run(scenario, 1).truth)
