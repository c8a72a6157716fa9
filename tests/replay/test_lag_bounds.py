"""Each measured lag keeps the sampling interval that bounds it (replay.lags.LagSample.lo_s,
hi_s): the estimate of which of two unordered reactions came first
(benchmarks/undecided_lags.py) takes a lag as anywhere in it, not at its midpoint."""

from __future__ import annotations

from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.lags import lag_samples
from tests.replay.builders import T0, eps, facts_of, health, one_node, pod, target


def _drain() -> FoldState:
    """p1 on n1 starts terminating at 10 s: its endpoint stops being ready. kube-proxy's health
    check answered 200 at 9 s and 503 at 11 s; the LB poller saw n1 healthy at 7 s and draining
    at 12 s; then the pod is back at 30 s, the check 200 at 31 s, the poller healthy at 37 s."""
    observations = [
        *one_node(),
        target(7, 1, "n1", "healthy"),
        health(9, None, "n1", 1),
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        eps(10, [("p1", "n1", "terminating")]),
        health(11, 9, "n1", 0),
        target(12, 7, "n1", "draining"),
        eps(30, [("p1", "n1", "ready")]),
        health(31, 11, "n1", 1),
        target(37, 12, "n1", "healthy"),
    ]
    return fold(FoldState(), facts_of(observations))


def test_each_lag_keeps_the_interval_its_reaction_lies_in() -> None:
    start = _drain()
    found = {
        (s.lag, round(s.at_us / 1e6 - T0.timestamp())): (s.lo_s, s.seconds, s.hi_s)
        for s in lag_samples(start, settings=DEFAULTS)
    }
    # the check between 9 s and 11 s, after the change at 10 s: 0..1 s, midpoint 0.5 s
    assert found[("kube-proxy-programming", 10)] == (0.0, 0.5, 1.0)
    # the poll between 7 s and 12 s, not before the change: 0..2 s, midpoint 1 s (no CCM
    # seen reacting to endpoints: a node-driven LB, its health check going down)
    assert found[("lb-health-down", 10)] == (0.0, 1.0, 2.0)
    assert found[("kube-proxy-programming", 30)] == (0.0, 0.5, 1.0)
    assert found[("lb-health-up", 30)] == (0.0, 3.5, 7.0)
