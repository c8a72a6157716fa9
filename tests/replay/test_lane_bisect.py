"""Detection's look-ups rewritten for speed read what their definitions read.

The lanes' times are bisected with a key (`fold.AT_US`) instead of a list built per call (and
`signals.value_at` by `bisect_right` instead of its own loop), a start's possibly-true stretch
and the first definite start after a look are found by plain loops, and `_false_reason` reads
the lane by index instead of a copy of its head: each function against its previous
body, kept here as the definition, on random lanes and interval lists (unsorted and
overlapping ones too: the rewrites must not lean on an order the definitions did not;
`_ready_through` bisects its end too, on time-ordered lanes, the only endpoints lanes there are).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.replay.chains import Chains, chain, first_start_from, plain
from gapwatch.replay.detect import (
    _dropped,
    _false_reason,
    _fell_by,
    _ready_through,
    _rose_by,
    _unreachable,
)
from gapwatch.replay.fold import Sample
from gapwatch.replay.opener import answered, up_unserved_at
from gapwatch.replay.signals import HI, LO, Iv, Tri, value_at

_TIMES = st.integers(0, 6)
_VALUES = st.sampled_from(("ready", "none", "200", "503", "timeout"))
_LANES = st.lists(
    st.builds(Sample, _TIMES, st.none() | _TIMES, _VALUES, st.integers(1, 9)), max_size=12
)
_SORTED_LANES = _LANES.map(lambda lane: sorted(lane, key=lambda s: s.at_us))
_BOUND = st.integers(-1, 7)


def _ready_through_defined(eps: Sequence[Sample], lo_us: int, hi_us: int) -> bool:
    i = bisect_right([s.at_us for s in eps], lo_us)
    if not i or eps[i - 1].value != "ready":
        return False
    return all(s.value == "ready" for s in eps[i:] if s.at_us <= hi_us)


def _dropped_defined(eps: Sequence[Sample], at_us: int, drop_lag_us: int) -> bool:
    i = bisect_right([s.at_us for s in eps], at_us)
    back = next((j for j in range(i - 1, -1, -1) if eps[j].value == "ready"), None)
    if back is None or back == 0 or eps[back - 1].value == "ready":
        return True
    lost = back - 1
    while lost > 0 and eps[lost - 1].value != "ready":
        lost -= 1
    return eps[back].at_us - eps[lost].at_us > drop_lag_us


def _unreachable_defined(health: Sequence[Sample], at_us: int, until_us: int | None) -> bool:
    i = bisect_right([s.at_us for s in health], at_us)
    k = i - 1 if i else -1
    if k >= 0 and health[k].value == "200" and i < len(health):
        last = health[i].prev_us
        if last is not None and last > at_us:
            return False
    if k < 0 or health[k].value == "200":
        later = i < len(health) and (until_us is None or health[i].at_us <= until_us)
        k = i if later else -1
    if k < 0 or answered(health[k].value):
        return False
    return any(answered(s.value) for s in health[:k])


def _up_unserved_defined(health: Sequence[Sample], start_us: int) -> bool:
    i = bisect_right([h.at_us for h in health], start_us)
    if not i or not health[i - 1].value.isdigit() or health[i - 1].value == "200":
        return False
    return any(not answered(h.value) for h in health[i:])


def _value_at_defined(samples: Sequence[Sample], at_us: int) -> str | None:
    lo, hi = 0, len(samples)
    while lo < hi:
        mid = (lo + hi) // 2
        if samples[mid].at_us <= at_us:
            lo = mid + 1
        else:
            hi = mid
    return samples[lo - 1].value if lo else None


def _false_reason_defined(
    samples: Sequence[Sample], times: Sequence[int], at_us: int
) -> str | None:
    bad = ("connected", "200")
    i = bisect_right(times, at_us)
    before = next((s for s in reversed(samples[:i]) if s.value not in bad), None)
    if before is not None:
        return before.value
    after = next((s for s in samples[i:] if s.value not in bad), None)
    return after.value if after else None


@settings(max_examples=1000, deadline=None)
@given(_LANES | _SORTED_LANES, _BOUND, _BOUND, st.none() | _BOUND)
def test_lane_look_ups_read_what_their_definitions_read(
    lane: list[Sample], a: int, b: int, until: int | None
) -> None:
    if [s.at_us for s in lane] == sorted(s.at_us for s in lane):
        # bisected at both ends: an endpoints lane runs forward in time (replay.fold,
        # replay.whatif), the one order `_ready_through` leans on
        assert _ready_through(lane, a, b) == _ready_through_defined(lane, a, b)
    assert _dropped(lane, a, b) == _dropped_defined(lane, a, b)
    assert _unreachable(lane, a, until) == _unreachable_defined(lane, a, until)
    assert up_unserved_at(lane, a) == _up_unserved_defined(lane, a)
    assert value_at(lane, a) == _value_at_defined(lane, a)
    times = [s.at_us for s in lane]
    assert _false_reason(lane, times, a) == _false_reason_defined(lane, times, a)


def _rose_by_defined(sig: Tri, start: int, last: int) -> int:
    held = next((iv for iv in sig.possible if iv.start <= start < iv.end), None)
    if held is None:
        return last
    for iv in sig.definite:
        if iv.end > held.start and iv.start < held.end:
            return start if iv.start <= start else min(iv.start, last)
    return last


def _fell_by_defined(sig: Tri, start: int, last: int) -> int:
    held = next((iv for iv in sig.possible if iv.start <= start < iv.end), None)
    if held is None:
        return start
    if held.start > LO and not any(
        iv.start <= start and iv.end > held.start for iv in sig.definite if iv.start < held.end
    ):
        return start
    return min(held.end, last)


_EDGES = st.sampled_from((LO, HI)) | _TIMES
_IVS = st.lists(st.builds(Iv, _EDGES, _EDGES, st.integers(0, 3), st.integers(0, 3)), max_size=6)


@settings(max_examples=1000, deadline=None)
@given(_IVS, _IVS, _BOUND, _BOUND)
def test_a_starts_stretch_is_the_first_holding_it(
    possible: list[Iv], definite: list[Iv], start: int, last: int
) -> None:
    sig = Tri(possible, definite)
    assert _rose_by(sig, start, last) == _rose_by_defined(sig, start, last)
    assert _fell_by(sig, start, last) == _fell_by_defined(sig, start, last)
    # by bisection where the lists are chains (replay.chains), by the loops elsewhere
    assert _rose_by(sig, start, last, Chains()) == _rose_by_defined(sig, start, last)
    assert _fell_by(sig, start, last, Chains()) == _fell_by_defined(sig, start, last)
    first = next((iv.start for iv in definite if iv.start >= start), last)
    assert first_start_from(plain(definite), start, last) == first
    assert first_start_from(chain(definite), start, last) == first
