"""The LB's return to a node between two looks (docs/semantics.md, "Wrong classes left by
issue 13"): kube-proxy's side that has not yet surely risen is no fall (the LB's return opens
such a gap); a look that saw the LB not routing at the window's very start is a seen drain;
and where kube-proxy's latest fall lies between the same two looks as the LB's return, the
window names both readings. Literal signals, samples and observations
(tests/replay/builders.py shapes)."""

from __future__ import annotations

from gapwatch.replay.detect import _drop_seen, _fell_by, _unproven_start
from gapwatch.replay.fold import Sample
from gapwatch.replay.signals import HI, Iv, Tri


def _s(t: float, value: str) -> Sample:
    return Sample(int(t * 1e6), None, value, 0)


def test_a_rise_not_yet_seen_is_no_fall() -> None:
    # kube-proxy surely closed before 100 s, may have opened from 100 s, surely up 110-200 s
    serves = Tri([Iv(100, 300)], [Iv(110, 200)])
    assert _fell_by(serves, 105, 150) == 105  # not yet surely up: it fell before
    assert _fell_by(serves, 120, 150) == 150  # surely up by then: the fall is later
    # the LB, seen not routing, may route again from 105 s and surely does from 108 s: the gap
    # in (105, 110) opened with the LB's return (R's rise), kube-proxy being still closed
    routed = Tri([Iv(105, HI)], [Iv(108, HI)])
    assert _unproven_start(routed, serves, [Iv(105, 110)], 110) == (108, True)


def test_a_look_at_the_windows_start_that_saw_no_routing_is_a_seen_drain() -> None:
    looks = [_s(100, "draining"), _s(110, "healthy")]
    at = [s.at_us for s in looks]
    assert _drop_seen(looks, at, at[1], at[0], int(120e6)) == at[0]
    assert _drop_seen(looks, at, at[1], at[0] + 1, int(120e6)) is None
