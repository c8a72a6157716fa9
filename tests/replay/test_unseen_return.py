"""The LB's return to a node between two looks (docs/semantics.md, "Wrong classes left by
issue 13"): kube-proxy's side that has not yet surely risen is no fall (the LB's return opens
such a gap); a look that saw the LB not routing at the window's very start is a seen drain;
and where kube-proxy's latest fall lies between the same two looks as the LB's return, the
window names both readings. Literal signals, samples and observations
(tests/replay/builders.py shapes)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import _drop_seen, _fell_by, _unproven_start
from gapwatch.replay.fold import Sample
from gapwatch.replay.model import Window
from gapwatch.replay.signals import HI, Iv, Tri
from gapwatch.replay.undecided import PGBD, RBF, unseen_return
from tests.replay.builders import eps, nodeport, one_node, pod, target, windows_of


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


def test_the_return_between_two_looks() -> None:
    looks = [_s(90, "healthy"), _s(99, "draining"), _s(103, "healthy")]
    at = [s.at_us for s in looks]
    assert unseen_return(looks, at, int(100e6), int(104e6)) == (at[1], at[2])
    assert unseen_return(looks, at, int(104e6), int(110e6)) is None  # back before the range
    assert unseen_return(looks[:2], at[:2], int(100e6), int(104e6)) is None  # not back yet


def _windows(obs: list[Observation]) -> list[Window]:
    return windows_of(obs)


def test_the_lbs_unseen_return_against_a_death_names_both() -> None:
    # n1's pod p1 terminates at 96 s, its replacement p2 is ready at 97 s (kube-proxy, on the
    # old pod until it programs p2, is refused at 100.5 s: p1 gone; then times out, the rules
    # for p1 removed). The LB, seen routing at 96.5 s, is seen draining n1 at 98 s and 99 s
    # and routing again at 103 s; kube-proxy answers from 106 s. The LB's return, somewhere in
    # (99 s, 103 s], is read as the opener (it is the later at the latest instants), but p1's
    # death in the same stretch may have come after it
    obs = [
        *one_node(),
        pod(96, "p1", "n1", "terminating"),
        pod(96.2, "p2", "n1", "pending"),
        pod(97, "p2", "n1", "ready"),
        eps(97, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        target(96.5, 1, "n1", "healthy"),
        target(98, 96.5, "n1", "draining"),
        target(99, 98, "n1", "draining"),
        pod(100.5, "p1", "n1", "gone"),
        eps(100.6, [("p2", "n1", "ready")]),
        target(103, 99, "n1", "healthy"),
        nodeport(99.5, None, "n1", "connected"),
        nodeport(100.5, 99.5, "n1", "refused"),
        nodeport(103, 100.5, "n1", "timeout"),
        nodeport(105, 103, "n1", "timeout"),
        nodeport(106, 105, "n1", "connected"),
    ]
    sure = [w for w in _windows(obs) if w.certain]
    assert [(w.cls, w.also) for w in sure] == [(RBF, (PGBD,))]
