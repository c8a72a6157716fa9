"""The randomized generator draws kube-proxy's sync period per cluster
(recorder.sim.generate.with_sync_period): the published default, 30 s, on most clusters,
kube-up's 1 m on some, else a period an operator set, from 10 s to 1 h; the run's health timeout
is twice the drawn period (recorder.sim.proxyhealth) and its /configz answers state it
(recorder.sim.evidence)."""

from __future__ import annotations

import random

from gapwatch.recorder.observation import validate
from gapwatch.recorder.sim import from_dict, run
from gapwatch.recorder.sim.generate import (
    MIN_SYNC_PERIOD_DEFAULT_S,
    MIN_SYNC_PERIOD_KUBE_UP_S,
    SYNC_PERIOD_DEFAULT_S,
    SYNC_PERIOD_KUBE_UP_P,
    SYNC_PERIOD_KUBE_UP_S,
    SYNC_PERIOD_RANGE_S,
    SYNC_PERIOD_SET_P,
    draw_sync_period,
    draw_sync_periods,
    random_scenario,
)
from gapwatch.recorder.sim.proxyhealth import health_timeout_us
from gapwatch.recorder.sim.result import Simulation


def _period(seed: int) -> float:
    return float(random_scenario(seed)["kube_proxy"]["sync_period_s"])


def test_the_draw_keeps_the_default_on_most_clusters_and_spans_the_range() -> None:
    periods = [_period(seed) for seed in range(1, 201)]
    default = sum(p == SYNC_PERIOD_DEFAULT_S for p in periods)
    assert 100 <= default < 200  # most, not all
    assert SYNC_PERIOD_KUBE_UP_S in periods
    lo, hi = SYNC_PERIOD_RANGE_S
    assert all(lo <= p <= hi for p in periods)
    assert min(periods) < SYNC_PERIOD_DEFAULT_S < max(periods)
    assert periods == [_period(seed) for seed in range(1, 201)]  # the same for the same seed


def test_a_drawn_period_is_the_one_the_run_states_and_times_out_by() -> None:
    seed = next(s for s in range(1, 100) if _period(s) != SYNC_PERIOD_DEFAULT_S)
    period = _period(seed)
    data = random_scenario(seed)
    data["observe"]["kube_proxy_configz"] = True
    scenario = from_dict(data)
    sim = Simulation(scenario, seed)
    list(sim)
    assert sim.world is not None
    assert sim.world.proxy.timeout_us == health_timeout_us(period)
    configs = [o for o in run(scenario, seed).observations if o.kind == "ProxyConfig"]
    assert configs
    for o in configs:
        assert validate(o) == o
        assert o.payload["sync_period_s"] == period


def _configz_min_sync(seed: int) -> set[float]:
    """The minimum sync periods the run's /configz answers state."""
    data = random_scenario(seed)
    data["observe"]["kube_proxy_configz"] = True
    result = run(from_dict(data), seed)
    return {o.payload["min_sync_period_s"] for o in result.observations if o.kind == "ProxyConfig"}


def test_configz_states_the_min_sync_period_of_the_clusters_kind() -> None:
    """kube-up's manifests pass `--iptables-min-sync-period=10s` with the 1 m period
    (cluster/gce/gci/configure-helper.sh); elsewhere kube-proxy's default, 1 s since 1.20
    (kubernetes/kubernetes#92836). Before session 35 every /configz answer stated 1 s."""
    kube_up = next(s for s in range(1, 100) if _period(s) == SYNC_PERIOD_KUBE_UP_S)
    default = next(s for s in range(1, 100) if _period(s) == SYNC_PERIOD_DEFAULT_S)
    assert _configz_min_sync(kube_up) == {MIN_SYNC_PERIOD_KUBE_UP_S} == {10.0}
    assert _configz_min_sync(default) == {MIN_SYNC_PERIOD_DEFAULT_S} == {1.0}
    rng = random.Random(7)
    assert {draw_sync_periods(rng, kube_up_p=1, set_p=0) for _ in range(20)} == {(60.0, 10.0)}
    drawn = {draw_sync_periods(rng, kube_up_p=0, set_p=1)[1] for _ in range(50)}
    assert drawn == {1.0}


def test_the_draw_follows_what_is_shipped() -> None:
    """The upstream default on most clusters, kube-up's (GCE, GKE) 1 m on about
    SYNC_PERIOD_KUBE_UP_P of them, one an operator set on about SYNC_PERIOD_SET_P (docs/
    simulator.md, "kube-proxy's sync period: what is shipped")."""
    periods = [_period(seed) for seed in range(1, 2001)]
    n = len(periods)
    kube_up = sum(p == SYNC_PERIOD_KUBE_UP_S for p in periods) / n
    default = sum(p == SYNC_PERIOD_DEFAULT_S for p in periods) / n
    assert abs(kube_up - SYNC_PERIOD_KUBE_UP_P) < 0.04
    assert abs(default - (1 - SYNC_PERIOD_KUBE_UP_P - SYNC_PERIOD_SET_P)) < 0.04
    assert abs((1 - kube_up - default) - SYNC_PERIOD_SET_P) < 0.04


def test_the_shares_are_parameters() -> None:
    rng = random.Random(7)
    assert {draw_sync_period(rng, kube_up_p=0, set_p=0) for _ in range(50)} == {30.0}
    assert {draw_sync_period(rng, kube_up_p=1, set_p=0) for _ in range(50)} == {60.0}
    lo, hi = SYNC_PERIOD_RANGE_S
    drawn = [draw_sync_period(rng, kube_up_p=0, set_p=1) for _ in range(200)]
    assert all(lo <= p <= hi and p == int(p) for p in drawn)
    assert min(drawn) < 60 and max(drawn) > 600  # log-uniform over the range
