"""A node read as down that was still answering, with nothing to serve, when the window could
begin (docs/semantics.md, "Wrong classes left by issue 13"): the gap may have opened before it
went silent, so the window names the endpoints' class beside `node-not-ready`. Literal
observations (tests/replay/builders.py shapes) and samples."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, Sample, fold
from gapwatch.replay.model import Window
from gapwatch.replay.opener import up_unserved_at
from gapwatch.replay.undecided import CBD, NNR
from tests.replay.builders import facts_of, health, node, nodeport, target, two_nodes


def _s(t: float, value: str) -> Sample:
    return Sample(int(t * 1e6), None, value, 0)


def test_answering_without_a_local_endpoint() -> None:
    lane = [_s(90, "503"), _s(95, "503"), _s(100, "timeout")]
    assert up_unserved_at(lane, int(97e6))
    assert not up_unserved_at(lane, int(101e6))  # already silent
    assert not up_unserved_at([_s(95, "200"), _s(100, "timeout")], int(97e6))  # it served
    assert not up_unserved_at(lane[:2], int(97e6))  # never went silent


def _windows(silent_from: float) -> list[Window]:
    """n1 has no local endpoint (its health check answers 503, every poll sees its target
    unhealthy); n2's target is seen unhealthy from the poll at 100 s (healthy at 95 s), so from
    there the LB fails open and routes to n1. n1's health check goes unanswered from
    `silent_from` and its Node turns Unknown at 140 s (a crash)."""
    obs: list[Observation] = [*two_nodes(), node(140, "n1", ready=False)]
    for t in range(1, 141):
        prev = float(t - 1) if t > 1 else None
        obs.append(nodeport(float(t), prev, "n1", "timeout"))
    for t in range(5, 141, 5):
        prev = float(t - 5) if t > 5 else None
        obs += [
            health(float(t), prev, "n1", None if t >= silent_from else 0),
            nodeport(float(t), prev, "n2", "connected"),
            target(float(t), prev, "n1", "unhealthy"),
            target(float(t), prev, "n2", "unhealthy" if t >= 100 else "healthy"),
        ]
    obs.sort(key=lambda o: o.observed_at)
    return [w for w in detect(fold(FoldState(), facts_of(obs))) if w.node == "n1"]


def test_a_node_that_went_silent_after_the_gap_could_begin_names_both() -> None:
    sure = [w for w in _windows(105) if w.certain]
    assert [(w.cls, w.also) for w in sure] == [(NNR, (CBD,))]
