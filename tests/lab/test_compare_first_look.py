"""A true window that began before the LB poller's first look (or in any blind stretch) and
ended after it: no recorder saw it open, so its start and class are not judged; it must still be
found, and its end lie within the recorded bounds (recorder/lab/compare.py `opened_unseen`).
Session 25's traced soak: ip-10-0-1-10's window true 76.2-90.1 s, the LB poller's first look at
82.1 s, recorded from the first look with the wrong class: the truth 5.93 s outside the start
bound the log could not know. Literal windows."""

from __future__ import annotations

import math

from gapwatch.recorder.lab.compare import closed_unseen, opened_unseen, score, verdict
from tests.lab.test_compare import ORIGIN, recorded, true

TRUTH = [true("N1", "closed-before-deregistered", 76.2, 90.1)]
BASELINE = score(TRUTH, [recorded("N1", "closed-before-deregistered", 76.3, 90.2)], ORIGIN, 2.0)
#: nothing before the first look: the recorded window opens at it, classed by what came after
FROM_FIRST_LOOK = recorded("N1", "registered-before-forwarding", 82.6, 90.3)
BEFORE_FIRST_LOOK = [(-math.inf, 82.1)]


def test_a_window_open_at_the_first_look_is_judged_by_its_end_only() -> None:
    lab = score(TRUTH, [FROM_FIRST_LOOK], ORIGIN, 2.0)
    (pair,) = lab.pairs
    assert opened_unseen(pair, BEFORE_FIRST_LOOK, 2.0)
    assert not closed_unseen(pair, BEFORE_FIRST_LOOK, 2.0)
    assert verdict(lab, BASELINE, 2.0, blind=BEFORE_FIRST_LOOK) == []
    # judged as before (no first look known): the start and the class are problems
    problems = verdict(lab, BASELINE, 2.0)
    assert any(p.startswith("class right for 0, baseline 1") for p in problems)
    assert any("the truth lies 5.90 s outside the recorded bounds" in p for p in problems)


def test_its_end_is_still_judged_and_it_must_be_found() -> None:
    late_end = score(TRUTH, [recorded("N1", "closed-before-deregistered", 82.6, 97.0)], ORIGIN, 2.0)
    (problem,) = verdict(late_end, BASELINE, 2.0, blind=BEFORE_FIRST_LOOK)
    assert "the truth lies 6.90 s outside the recorded bounds" in problem
    missing = score(TRUTH, [], ORIGIN, 2.0)
    assert verdict(missing, BASELINE, 2.0, blind=BEFORE_FIRST_LOOK) == [
        "found 0 true windows, the baseline 1"
    ]


def test_a_window_that_opened_after_the_first_look_is_judged_whole() -> None:
    truth = [true("N1", "closed-before-deregistered", 95.0, 99.0)]
    baseline = score(truth, [recorded("N1", "closed-before-deregistered", 95.1, 99.1)], ORIGIN, 2.0)
    lab = score(truth, [recorded("N1", "registered-before-forwarding", 99.0, 99.2)], ORIGIN, 2.0)
    problems = verdict(lab, baseline, 2.0, blind=BEFORE_FIRST_LOOK)
    assert any(p.startswith("class right for 0, baseline 1") for p in problems)
    assert any("outside the recorded bounds" in p for p in problems)


def test_a_window_that_closed_in_a_blind_stretch_is_judged_by_its_start() -> None:
    blind = [(85.0, 150.0)]  # sigkill-all: both replicas down from 85 s
    (pair,) = score(
        TRUTH, [recorded("N1", "closed-before-deregistered", 76.3, 140.0)], ORIGIN, 2.0
    ).pairs
    assert closed_unseen(pair, blind, 2.0) and not opened_unseen(pair, blind, 2.0)
    lab = score(TRUTH, [recorded("N1", "closed-before-deregistered", 76.3, 140.0)], ORIGIN, 2.0)
    assert verdict(lab, BASELINE, 2.0, blind=blind) == []
    late_start = score(
        TRUTH, [recorded("N1", "closed-before-deregistered", 80.0, 140.0)], ORIGIN, 2.0
    )
    (problem,) = verdict(late_start, BASELINE, 2.0, blind=blind)
    assert "the truth lies 3.30 s outside the recorded bounds" in problem
