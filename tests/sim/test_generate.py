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


def test_the_added_behaviours_appear_and_leave_the_base_draws_alone() -> None:
    """Scale-downs, /healthz probes, Tencent's grace settings and kube-proxy's sync period
    (session 33) come from their own generators: some seeds get each, and every seed's earlier
    draws (nodes, lags, other events) are those of the generator before they were added."""
    from gapwatch.recorder.sim.generate import _base_scenario

    scale_downs = grace = healthz = periods = 0
    for seed in range(1, 101):
        data, base = random_scenario(seed), _base_scenario(seed)
        mine = [e for e in data["events"] if e["action"] == "scale_down"]
        assert [e for e in data["events"] if e not in mine] == base["events"]
        proxy = dict(data["kube_proxy"])
        period = proxy.pop("sync_period_s", 30.0)
        proxy.pop("min_sync_period_s", None)  # drawn with the period (session 35)
        assert proxy == base["kube_proxy"] and data["nodes"] == base["nodes"]
        scale_downs += bool(mine)
        grace += bool(data["ccm"].get("grace_deletion"))
        healthz += data["observe"]["kube_proxy_healthz"]
        periods += period != 30.0
        from_dict(data, f"random {seed}")
    assert 10 < scale_downs < 90 and 3 < grace < 50 and 10 < healthz < 90 and 10 < periods < 90


def test_random_seed_1_with_its_scale_down_keeps_every_true_window() -> None:
    """Seed 1's scale-down: the old pod on node-004 died (finishedAt 00:04:02) before the
    EndpointSlice listed its replacement, so kube-proxy forwarded only to the dead pod for a
    while no probe saw (replay.deaths; it was a strict xfail before the kubelet's stop time
    was recorded and read)."""
    from tests.replay.accuracy import compare_scenario

    report = compare_scenario(from_dict(random_scenario(1)), 1)
    assert report.truth > 0
    assert report.missed == []
