"""The LB poller's clock against CloudTrail's (replay/trailclock.py): the same registration and
deregistration seen by both. Literal CloudTrail records through the real importer and ELBv2
TargetHealthDescriptions as the poller stores them, its clock 8 s behind AWS's."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.trailclock import poller_offset
from tests.replay.builders import CLUSTER, eps, facts_of, node, pod, service, target
from tests.replay.test_membership import SETTINGS, trail, us

S = 1_000_000


def _history(poller_behind_s: float, with_trail: bool = True) -> list[Observation]:
    """n1's pod fails readiness on SIGTERM at 40 s (kube-proxy stops forwarding); the CCM
    deregisters n1 at 43 s (the target drains at once). Registered at 8 s. The poller looks
    every 2 s on a clock `poller_behind_s` behind."""
    off = poller_behind_s
    obs = [
        service(0),
        node(0, "n1"),
        pod(5, "p1", "n1", "ready"),
        eps(5, [("p1", "n1", "ready")]),
        pod(40, "p1", "n1", "terminating", deleted_at=40),
        eps(40, [("p1", "n1", "stopped")]),
    ]
    if with_trail:
        obs += [trail(8, "RegisterTargets", "i-n1"), trail(43, "DeregisterTargets", "i-n1")]
    state = "unused"
    for t in range(6, 80, 2):
        now = "unused" if t < 9 else "initial" if t < 14 else "healthy" if t < 44 else "draining"
        if now != state:
            obs.append(target(t - off, t - 2 - off, "n1", now))
            state = now
    return sorted(obs, key=lambda o: o.observed_at)


def _covers(start_s: float, end_s: float, with_trail: bool = True) -> bool:
    found = detect(fold(FoldState(), facts_of(_history(8, with_trail))), settings=SETTINGS)
    return any(
        w.node == "n1" and w.start_earliest_us <= us(start_s) and w.end_latest_us >= us(end_s)
        for w in found
    )


def test_a_poller_behind_is_found_from_the_transitions_cloudtrail_also_saw() -> None:
    state = fold(FoldState(), facts_of(_history(8)))
    # the poller saw the drain by 36 s on its clock, 7 s before the call (+-1 s of eventTime):
    # at least 6 s behind; the registration (seen by 2 s, called at 8 s) allows 5 s
    assert poller_offset(state, CLUSTER, SETTINGS) == -6 * S


def test_corrected_the_true_window_lies_inside_the_bounds() -> None:
    """kube-proxy closed at 40-41 s, the target drained at 43 s: the true gap. Uncorrected,
    the poller's drain (36 s on its clock) comes before kube-proxy closed: no window there."""
    assert _covers(41, 43)
    assert not _covers(41, 43, with_trail=False)


def test_a_synchronized_poller_shows_no_offset() -> None:
    state = fold(FoldState(), facts_of(_history(0)))
    assert poller_offset(state, CLUSTER, SETTINGS) == 0
    # a poller ahead looks like AWS applying the calls late: not estimated
    ahead = fold(FoldState(), facts_of(_history(-6)))
    assert poller_offset(ahead, CLUSTER, SETTINGS) == 0


def test_the_correction_is_what_finds_it(monkeypatch: object) -> None:
    """Same data with the trail but the offset forced to 0: the window is missed again."""
    import pytest

    import gapwatch.replay.clocks as clocks

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(clocks, "poller_offset", lambda *_a: 0)
    assert not _covers(41, 43)
