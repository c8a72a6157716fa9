"""Scoring recorded windows against the truth and the baseline (recorder/lab/compare.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gapwatch.recorder.lab.compare import score, verdict
from gapwatch.recorder.sim.result import Window

ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
SVC = "istio-system/istio-ingressgateway"


def true(node: str, cls: str, start: float, end: float) -> Window:
    return Window("sim", SVC, node, cls, "", "", round(start * 1e6), round(end * 1e6))


def recorded(node: str, cls: str, start: float, end: float, width: float = 0.5) -> dict[str, Any]:
    def at(s: float) -> str:
        return f"2026-01-01T00:{int(s // 60):02d}:{s % 60:06.3f}Z"

    return {
        "service": SVC,
        "node": node,
        "class": cls,
        "start": at(start),
        "end": at(end),
        "start_earliest": at(start - width),
        "end_latest": at(end + width),
    }


TRUTH = [true("N1", "closed-before-deregistered", 64.0, 70.0), true("N2", "x", 63.0, 65.0)]


def test_windows_are_found_by_node_and_overlap_and_errors_measured() -> None:
    got = score(TRUTH, [recorded("N1", "closed-before-deregistered", 65.0, 70.5)], ORIGIN, 1.0)
    assert got.found == 1 and got.same_class == 1
    assert abs(got.max_error_s - 1.0) < 1e-6
    assert [p.node for p in got.pairs if p.cls is None] == ["N2"]
    extra = score(TRUTH, [recorded("N3", "x", 10.0, 12.0)], ORIGIN, 1.0)
    assert extra.found == 0 and len(extra.false_positives) == 1


def test_the_verdict_holds_the_lab_to_the_baseline_within_one_bound() -> None:
    both = [recorded("N1", "closed-before-deregistered", 65.0, 70.0), recorded("N2", "x", 63, 65)]
    baseline = score(TRUTH, both, ORIGIN, 1.0)
    assert verdict(score(TRUTH, both, ORIGIN, 1.0), baseline, 1.0) == []
    missing = score(TRUTH, both[:1], ORIGIN, 1.0)
    assert "found 1 true windows, the baseline 2" in verdict(missing, baseline, 1.0)
    wide = [recorded("N1", "closed-before-deregistered", 67.5, 70.0, width=4), both[1]]
    assert verdict(score(TRUTH, wide, ORIGIN, 1.0), baseline, 1.0) == []  # late, but bounded
    late = [recorded("N1", "closed-before-deregistered", 68.0, 70.0), both[1]]
    (problem,) = verdict(score(TRUTH, late, ORIGIN, 1.0), baseline, 1.0)
    assert "the truth lies 3.50 s outside the recorded bounds > 1.50 s" in problem
    wrong = [recorded("N1", "registered-before-forwarding", 65.0, 70.0), both[1]]
    assert verdict(score(TRUTH, wrong, ORIGIN, 1.0), baseline, 1.0) == [
        "class right for 1, baseline 2: N1 true closed-before-deregistered at 64.0-70.0 s "
        "recorded registered-before-forwarding 65.0-70.0 s"
    ]


def test_windows_after_the_simulations_end_are_listed_apart_not_false_positives() -> None:
    late = recorded("N3", "node-not-ready", 200.0, 210.0)  # the world stood still by then
    early = recorded("N3", "x", 10.0, 12.0)
    got = score(TRUTH, [late, early], ORIGIN, 1.0, end_s=90.0)
    assert got.false_positives == ["N3 x 10.0-12.0 s"]
    assert got.after_end == ["N3 node-not-ready 200.0-210.0 s"]
    # without an end every unmatched window is a false positive
    assert len(score(TRUTH, [late, early], ORIGIN, 1.0).false_positives) == 2
