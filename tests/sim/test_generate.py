"""The randomized scenario generator: valid scenarios, the same for the same seed, different
across seeds, and lags whose tails are not capped (they can exceed any assumed bound)."""

from __future__ import annotations

import pytest

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
    """Scale-downs, /healthz probes and Tencent's grace settings come from their own generator:
    some seeds get each, and every seed's earlier draws (nodes, lags, other events) are those of
    the generator before they were added."""
    from gapwatch.recorder.sim.generate import _base_scenario

    scale_downs = grace = healthz = 0
    for seed in range(1, 101):
        data, base = random_scenario(seed), _base_scenario(seed)
        mine = [e for e in data["events"] if e["action"] == "scale_down"]
        assert [e for e in data["events"] if e not in mine] == base["events"]
        assert data["kube_proxy"] == base["kube_proxy"] and data["nodes"] == base["nodes"]
        scale_downs += bool(mine)
        grace += bool(data["ccm"].get("grace_deletion"))
        healthz += data["observe"]["kube_proxy_healthz"]
        from_dict(data, f"random {seed}")
    assert 10 < scale_downs < 90 and 3 < grace < 50 and 10 < healthz < 90


@pytest.mark.xfail(
    strict=True,
    reason="detector (i13-accuracy's rules): random seed 1 with its scale-down of node-007 "
    "misses a pod-gone-before-deregistered window on node-004 at 00:04:02 (found without the "
    "scale-down: the window exists only with it). Cause: the old pod died between two 5 s "
    "probes while kube-proxy still forwarded to it and its replacement was not yet programmed; "
    "the EndpointSlice never showed the node without a ready endpoint, so no excursion rule "
    "applies. A possible gap at every such death found it but raised development false "
    "windows from 18.5 % to 29.6 % (docs/semantics.md); so did the death seen before the "
    "replacement's ready plus the median measured kube-proxy lag (18 lags here), a rule that "
    "added 3 false windows for this one (i13-recall, 'The misses by cause')",
)
def test_random_seed_1_with_its_scale_down_keeps_every_true_window() -> None:
    from tests.replay.accuracy import compare_scenario

    report = compare_scenario(from_dict(random_scenario(1)), 1)
    assert report.truth > 0
    assert report.missed == []
