"""replay.deaths._Later (session 15, refresh round 11): the earliest ready, entry and
programming of the runs listed after a death's earliest instant and up after it, but the dead
run, read from prefix minima; against the definition, with the dead run inside and outside
that set."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gapwatch.replay.deaths import Run, _Later
from gapwatch.replay.signals import HI

ENTERED_BY, LAG = 3, 5


def _by_definition(every: list[Run], listing: list[int], at: int, but: int) -> tuple[int, int, int]:
    ready = entered = end = HI
    for j, r in enumerate(every):
        if j == but or listing[j] <= at or r.down_us <= at:
            continue
        if r.ready_us is not None:
            ready, entered = min(ready, r.ready_us), min(entered, r.ready_us - ENTERED_BY)
        end = min(end, listing[j] + LAG)
    return ready, entered, end


def _run(ready: int | None, down: int) -> Run:
    return Run("p", ready, 0, down, None, 1)


def test_the_dead_run_listed_after_the_instant_is_left_out() -> None:
    every = [_run(10, 50), _run(20, 60)]
    listing = [12, 25]
    later = _Later(every, listing, ENTERED_BY, LAG)
    assert later.minima(11, 0) == (20, 17, 30)  # run 0 is in the set: its 10 not read
    assert later.minima(11, 1) == (10, 7, 17)
    assert later.minima(30, 0) == (HI, HI, HI)  # both listed before 30


@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.integers(0, 30)), st.integers(0, 40), st.integers(0, 40)),
        min_size=1,
        max_size=12,
    ),
    st.integers(-2, 42),
    st.data(),
)
def test_equals_the_definition(
    raw: list[tuple[int | None, int, int]], at: int, data: st.DataObject
) -> None:
    every = [_run(ready, down) for ready, down, _ in raw]
    listing = [-HI if ready is None else listed for ready, _, listed in raw]
    but = data.draw(st.integers(0, len(every) - 1))
    later = _Later(every, listing, ENTERED_BY, LAG)
    assert later.minima(at, but) == _by_definition(every, listing, at, but)
