"""replay.signals.tri_from_steps, rewritten plain (session 15, refresh round 11), against its
definition: possibly true from a rise's earliest to the next fall's latest, surely true from the
rise's latest to the fall's earliest where that is not empty; a repeated value changes nothing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gapwatch.replay.signals import HI, LO, Iv, Step, Tri, tri_from_steps


def _by_definition(steps: list[Step], initial: bool) -> Tri:
    possible, definite = [], []
    rise = Step(LO, LO, True, 0) if initial else None
    for s in steps:
        if s.value and rise is None:
            rise = s
        elif not s.value and rise is not None:
            possible.append(Iv(rise.earliest, s.latest, rise.event_id, s.event_id))
            if rise.latest < s.earliest:
                definite.append(Iv(rise.latest, s.earliest, rise.event_id, s.event_id))
            rise = None
    if rise is not None:
        possible.append(Iv(rise.earliest, HI, rise.event_id, 0))
        definite.append(Iv(rise.latest, HI, rise.event_id, 0))
    return Tri(possible, definite)


def test_initially_true_opens_at_lo_and_a_repeated_rise_keeps_the_first() -> None:
    steps = [Step(5, 8, True, 1), Step(10, 12, False, 2), Step(20, 20, True, 3)]
    assert tri_from_steps(steps, True) == Tri(
        [Iv(LO, 12, 0, 2), Iv(20, HI, 3, 0)], [Iv(LO, 10, 0, 2), Iv(20, HI, 3, 0)]
    )
    # a fall whose range meets the rise's: possibly true only
    assert tri_from_steps([Step(1, 6, True, 1), Step(4, 9, False, 2)], False) == Tri(
        [Iv(1, 9, 1, 2)], []
    )


@st.composite
def _steps(draw: st.DrawFn) -> list[Step]:
    out, at = [], 0
    for k in range(draw(st.integers(0, 8))):
        earliest = at + draw(st.integers(0, 5))
        latest = earliest + draw(st.integers(0, 5))
        out.append(Step(earliest, latest, draw(st.booleans()), k + 1))
        at = earliest
    return out


@given(_steps(), st.booleans())
def test_equals_the_definition(steps: list[Step], initial: bool) -> None:
    assert tri_from_steps(steps, initial) == _by_definition(steps, initial)
