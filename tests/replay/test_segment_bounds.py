"""Where a lane segment may really have begun: a sampled source bounds it by its previous look,
a watch stream dates it at the change itself."""

from __future__ import annotations

from gapwatch.replay.fold import Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.segments import _segments

SVC = ServiceRef("c", "istio-system", "istio-ingressgateway")


def test_watch_changes_are_dated_at_the_change() -> None:
    samples = [Sample(1_000, None, "ready", 1), Sample(60_000_000, None, "none", 2)]
    segments = _segments(SVC, "n1", "endpoints", samples, str, "measured")
    assert [(s.state, s.start_us, s.start_earliest_us) for s in segments] == [
        ("ready", 1_000, 1_000),
        ("none", 60_000_000, 60_000_000),
    ]


def test_sampled_changes_reach_back_to_the_last_look() -> None:
    samples = [
        Sample(5_000_000, None, "200", 1),
        Sample(9_000_000, 8_000_000, "200", 2),  # unchanged: no new segment
        Sample(12_000_000, 11_000_000, "503", 3),
    ]
    segments = _segments(SVC, "n1", "proxy", samples, str, "measured")
    assert [(s.state, s.start_us, s.start_earliest_us, s.end_us) for s in segments] == [
        ("200", 5_000_000, 5_000_000, 12_000_000),
        ("503", 12_000_000, 11_000_000, None),
    ]
