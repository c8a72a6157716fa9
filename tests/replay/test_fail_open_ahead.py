"""A sure window the failing-open LB opened (docs/semantics.md, "Classes"): while every
registered target is unhealthy the LB routes to all of them (AWS fail-open), whatever the
node's endpoints, so no EndpointSlice change seen up to the watch skew after the start
explains the LB's side: the endpoints are read at the start, without the look-ahead.
Literal observations (tests/replay/builders.py shapes)."""

from __future__ import annotations

from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, RBF
from tests.replay.builders import facts_of, joining_node, nodeport, target


def _windows(n2_fails: bool) -> list[Window]:
    """n1 has no endpoint until p1's ready one is in the slice at 100.2 s; every poll sees n1
    unhealthy. With `n2_fails` n2's target is seen unhealthy from the poll at 100 s (healthy at
    95 s), so from there on every target is surely unhealthy and the LB fails open, routing to
    n1 while kube-proxy on n1 has nothing to forward to (probed every second, it answers from
    105 s)."""
    obs = joining_node(98, 100.1, 100.2)
    for t in range(1, 141):
        obs.append(
            nodeport(
                float(t),
                float(t - 1) if t > 1 else None,
                "n1",
                "connected" if t >= 105 else "timeout",
            )
        )
    for t in range(5, 141, 5):
        prev = float(t - 5) if t > 5 else None
        obs += [
            nodeport(float(t), prev, "n2", "connected"),
            target(float(t), float(t - 5), "n1", "unhealthy"),
            target(float(t), prev, "n2", "unhealthy" if n2_fails and t >= 100 else "healthy"),
        ]
    obs.sort(key=lambda o: o.observed_at)
    return [w for w in detect(fold(FoldState(), facts_of(obs))) if w.node == "n1"]


def test_a_sure_window_the_failing_open_lb_opened_reads_the_endpoints_at_its_start() -> None:
    sure = [w for w in _windows(True) if w.certain]
    # read at its sure start, 100 s; the ready endpoint seen 0.2 s later (inside the watch
    # skew) may have been there before it: named, not read
    assert [(w.cls, w.also) for w in sure] == [(CBD, (RBF,))]


def test_without_failing_open_there_is_no_window() -> None:
    assert _windows(False) == []
