"""A true window that began and ended while no recorder was looking (`sigkill-all`'s blind
stretch) is unseen: it need not be found, its class and bounds are not judged, and a recorded
window found for it must not claim certainty (recorder/lab/compare.py). Literal windows."""

from __future__ import annotations

from gapwatch.recorder.lab.compare import score, verdict
from tests.lab.test_compare import ORIGIN, recorded, true

TRUTH = [true("N2", "closed-before-deregistered", 64.2, 69.9)]
#: what replay reports over the blind stretch: one wide window, classed by a guess
GUESS = recorded("N2", "pod-gone-before-deregistered", 104.7, 188.0, width=40.0)
BASELINE = score(TRUTH, [recorded("N2", "closed-before-deregistered", 64.5, 70.0)], ORIGIN, 2.0)


def test_an_unseen_window_is_found_but_its_class_is_not_judged() -> None:
    lab = score(TRUTH, [{**GUESS, "certain": False}], ORIGIN, 2.0)
    assert lab.found == 1
    assert verdict(lab, BASELINE, 2.0, blind=[(64.5, 155.7)]) == []
    # without the blind stretch the same windows differ (class and bounds)
    problems = verdict(lab, BASELINE, 2.0)
    assert any(p.startswith("class right for 0, baseline 1") for p in problems)
    assert any("outside the recorded bounds" in p for p in problems)


def test_a_certain_window_over_a_blind_stretch_is_a_problem() -> None:
    lab = score(TRUTH, [{**GUESS, "certain": True}], ORIGIN, 2.0)
    assert verdict(lab, BASELINE, 2.0, blind=[(64.5, 155.7)]) == [
        "N2 closed-before-deregistered at 64.2 s: nobody looked, yet the recorded window is certain"
    ]


def test_an_unseen_window_need_not_be_found() -> None:
    lab = score(TRUTH, [], ORIGIN, 2.0)
    assert verdict(lab, BASELINE, 2.0, blind=[(64.5, 155.7)]) == []
    assert "found 0 true windows, the baseline 1" in verdict(lab, BASELINE, 2.0)


def test_a_window_that_outlasts_the_blind_stretch_is_judged() -> None:
    lab = score(TRUTH, [{**GUESS, "certain": False}], ORIGIN, 2.0)
    assert (
        verdict(lab, BASELINE, 2.0, blind=[(67.0, 155.7)]) != []
    )  # began before it (by more than one bound)
