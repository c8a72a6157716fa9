"""The recording's first listing is no change to measure a reaction from (replay.lags
`_node_lags`): random 25,000,744's shape. Every node's endpoints were listed ready when the
recording began and its health check answered 200 a millisecond later; each pair was measured
as a kube-proxy lag of ~0 s, seven of them, enough (min_measurements) for kube-proxy's bound to
read "measured": 1.5 x (0 + half the 5 s probe period) = 3.75 s, where kube-proxy truly lagged
6-24 s, and the windows of deaths before a replacement's programming were cut at the listing
plus 3.75 s (without NodePort probes: 744 node-002, node-003, node-007 missed)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS, seconds_us
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.lags import lag_samples, proxy_extent
from gapwatch.replay.proxy import proxy_lag_hi
from tests.replay.builders import eps, facts_of, health, node, pod, service, target
from tests.replay.test_pod_death_time import _us

NODES = [f"n{i}" for i in range(1, 7)]


def _recording(later: list[Observation]) -> FoldState:
    """Six nodes, each with one pod listed ready in the slices' first listing at 1 s and its
    health check answering 200 counting 1 at 1.001 s, then every 5 s; `later` after that."""
    obs: list[Observation] = [service(0)]
    for n in NODES:
        obs += [node(0, n), pod(1, f"p-{n}", n, "ready"), target(1, None, n, "healthy", "ADDED")]
    obs.append(eps(1, [(f"p-{n}", n, "ready") for n in NODES]))
    for n in NODES:
        obs.append(health(1.001, None, n, 1))
    obs += later
    ordered = sorted(obs, key=lambda o: o.observed_at)
    return fold(FoldState(), facts_of(ordered))


def test_the_first_listing_measures_no_lag() -> None:
    state = _recording([])
    (svc,) = state.service_nodes
    assert proxy_extent(state, svc, DEFAULTS)[0] == 0
    # nothing measured: the assumed worst case holds
    assert proxy_lag_hi(state, svc, DEFAULTS) == seconds_us(DEFAULTS.proxy_lag_max_s)


def test_a_change_after_it_is_still_measured() -> None:
    # the control: n1's pod leaves the slice at 50 s and kube-proxy's health check says 503
    # counting none at 52 s (the look before at 47 s said 200): one lag, measured
    lost = [f"p-{n}" for n in NODES if n != "n1"]
    state = _recording(
        [eps(50, [(p, p.removeprefix("p-"), "ready") for p in lost]), health(52, 47, "n1", 0)]
    )
    (svc,) = state.service_nodes
    (lag,) = [s for s in lag_samples(state, [svc], DEFAULTS, proxy_only=True) if s.node == "n1"
              and s.at_us > _us(2)]  # fmt: skip
    assert not lag.up and 0 < lag.seconds <= 2
