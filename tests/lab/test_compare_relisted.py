"""A true window that touches a stretch a watch relist passed over (`apiserver-restart`: from the
outage to the last relist) is relisted: it must be found within its bounds by a window that is
not certain, its class is not judged; an uncertain recorded window there that finds no true
window is not a false positive (recorder/lab/compare.py). Literal windows, seed 1's shapes."""

from __future__ import annotations

from gapwatch.recorder.lab.compare import relisted, score, verdict
from tests.lab.test_compare import ORIGIN, recorded, true

TRUTH = [
    true("N2", "closed-before-deregistered", 64.2, 69.9),
    true("N1", "closed-before-deregistered", 20.0, 24.0),
]
BASELINE = score(
    TRUTH,
    [
        recorded("N2", "closed-before-deregistered", 64.5, 70.0),
        recorded("N1", "closed-before-deregistered", 20.2, 24.1),
    ],
    ORIGIN,
    2.0,
)
OUTAGE = [(59.2, 89.2)]
#: what replay reports over the stretch: one wide uncertain window (its start and end anywhere
#: in it, as replay bounds an unproven window), a wrong class
_WIDE = recorded("N2", "registered-before-forwarding", 62.0, 75.0, width=6.0)
WIDE = {
    **_WIDE,
    "start_latest": _WIDE["end_latest"],
    "end_earliest": _WIDE["start_earliest"],
    "certain": False,
}
BEFORE = recorded("N1", "closed-before-deregistered", 20.2, 24.1)


def test_a_relisted_window_is_found_and_bounded_but_its_class_not_judged() -> None:
    lab = score(TRUTH, [WIDE, BEFORE], ORIGIN, 2.0, unknown=OUTAGE)
    assert relisted(lab.pairs[1], OUTAGE, 2.0) and not relisted(lab.pairs[0], OUTAGE, 2.0)
    assert verdict(lab, BASELINE, 2.0, unknown=OUTAGE) == []
    # without the stretch the wrong class counts
    problems = verdict(lab, BASELINE, 2.0)
    assert any(p.startswith("class right for 1, baseline 2") for p in problems)


def test_a_certain_window_over_a_relisted_stretch_is_a_problem() -> None:
    lab = score(TRUTH, [{**WIDE, "certain": True}, BEFORE], ORIGIN, 2.0, unknown=OUTAGE)
    assert verdict(lab, BASELINE, 2.0, unknown=OUTAGE) == [
        "N2 closed-before-deregistered at 64.2 s: a relist passed over it, yet the recorded "
        "window is certain"
    ]


def test_a_window_seen_before_the_outage_may_be_certain_its_class_judged_or_not() -> None:
    """fault seed 5: the outage began 8 s after the true window ended; a loaded machine's
    bound (one look plus the driver's lateness) made it touch the stretch."""
    lab = score(TRUTH, [{**WIDE, "certain": True}, BEFORE], ORIGIN, 9.0, unknown=[(72.6, 102.6)])
    assert relisted(lab.pairs[1], [(72.6, 102.6)], 9.0)
    assert verdict(lab, score(TRUTH, [], ORIGIN, 9.0), 9.0, unknown=[(72.6, 102.6)]) == []


def test_a_relisted_window_must_still_be_found_and_classes_outside_are_judged() -> None:
    lab = score(TRUTH, [BEFORE], ORIGIN, 2.0, unknown=OUTAGE)
    assert "found 1 true windows, the baseline 2" in verdict(lab, BASELINE, 2.0, unknown=OUTAGE)
    wrong = {**BEFORE, "class": "pod-gone-before-deregistered"}
    lab = score(TRUTH, [WIDE, wrong], ORIGIN, 2.0, unknown=OUTAGE)
    assert any(
        p.startswith("class right for 0, baseline 1")
        for p in verdict(lab, BASELINE, 2.0, unknown=OUTAGE)
    )


def test_an_uncertain_window_where_a_relist_passed_over_is_no_false_positive() -> None:
    """N3 had no true window: replay must still say a gap may have hidden in the stretch."""
    possible = {**recorded("N3", "closed-before-deregistered", 60.0, 88.0, width=1.0)}
    lab = score(TRUTH, [WIDE, BEFORE, {**possible, "certain": False}], ORIGIN, 2.0, unknown=OUTAGE)
    assert lab.false_positives == [] and len(lab.relisted) == 1
    assert verdict(lab, BASELINE, 2.0, unknown=OUTAGE) == []
    # certain, or outside the stretch: a false positive
    sure = score(TRUTH, [WIDE, BEFORE, {**possible, "certain": True}], ORIGIN, 2.0, unknown=OUTAGE)
    assert len(sure.false_positives) == 1
    later = {**recorded("N3", "closed-before-deregistered", 120.0, 125.0), "certain": False}
    outside = score(TRUTH, [WIDE, BEFORE, later], ORIGIN, 2.0, unknown=OUTAGE)
    assert len(outside.false_positives) == 1
