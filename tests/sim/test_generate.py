"""The randomized scenario generator: valid scenarios, the same for the same seed, different
across seeds, and lags whose tails are not capped (they can exceed any assumed bound)."""

from __future__ import annotations

from gapwatch.recorder.sim import from_dict
from gapwatch.recorder.sim.generate import random_scenario


def test_every_generated_scenario_is_valid_and_reproducible() -> None:
    seen = set()
    for seed in range(1, 81):
        data = random_scenario(seed)
        assert data == random_scenario(seed)
        scenario = from_dict(data, f"random {seed}")
        seen.add((scenario.nodes.count, scenario.ccm.mode, scenario.ingress.kind))
        assert scenario.kube_proxy.lag_s.max is None and scenario.ccm.deregister_lag_s.max is None
        minor = int(scenario.nodes.kube_proxy_version.split(".")[1])
        if minor >= 28:
            assert scenario.kube_proxy.proxy_terminating_endpoints
    assert len(seen) > 20


def test_lag_tails_run_past_the_default_assumptions() -> None:
    # kube-proxy lag: detection assumes at most 60 s without a measurement; some generated
    # clusters have a p99.99 beyond it, and their p50s span two orders of magnitude
    bounds = [from_dict(random_scenario(s)).kube_proxy.lag_s.bound for s in range(1, 301)]
    p50s = [from_dict(random_scenario(s)).kube_proxy.lag_s.p50 for s in range(1, 301)]
    assert max(bounds) > 60.0
    assert max(p50s) / min(p50s) > 20
