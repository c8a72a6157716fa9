"""replay.signals.exact_steps, rewritten as one pass (session 15, refresh round 11), against
its definition: changes in time order, of several at one instant the last one given holds, a
step wherever the held value differs from the one before."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gapwatch.replay.signals import Step, exact_steps


def _by_definition(changes: list[tuple[int, bool, int]], initial: bool) -> list[Step]:
    last: dict[int, tuple[bool, int]] = {}
    for at, value, eid in changes:  # in the order given: the last at an instant overwrites
        last[at] = (value, eid)
    out: list[Step] = []
    current = initial
    for at in sorted(last):
        value, eid = last[at]
        if value != current:
            out.append(Step(at, at, value, eid))
            current = value
    return out


def test_the_last_change_given_at_an_instant_holds_even_out_of_order() -> None:
    changes = [(5, True, 1), (1, True, 2), (5, False, 3), (1, False, 4), (9, True, 5)]
    assert exact_steps(changes, False) == [Step(9, 9, True, 5)]
    assert exact_steps(changes, True) == [Step(1, 1, False, 4), Step(9, 9, True, 5)]


def test_the_last_instant_is_emitted() -> None:
    assert exact_steps([(3, True, 7), (3, False, 8), (3, True, 9)], False) == [Step(3, 3, True, 9)]
    assert exact_steps([], True) == []


@given(
    st.lists(st.tuples(st.integers(0, 12), st.booleans(), st.integers(0, 99)), max_size=30),
    st.booleans(),
)
def test_equals_the_definition(changes: list[tuple[int, bool, int]], initial: bool) -> None:
    assert exact_steps(changes, initial) == _by_definition(changes, initial)
