"""A pod's stretch that began after a death is no endpoint kube-proxy had at the death
(replay.deaths `_listed`): random 25,000,827 node-002's shape. The replacement p2 turned Ready
while the old pod p1 died under kube-proxy's rules and was listed after the death; later p2
went back to pending (its node lost) and was seen terminating without a Ready in between. That
second stretch, never seen ready, was read as listed from before anything, so as possibly
programmed before p1's death, and the gap the death left went unreported."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.deaths import runs
from gapwatch.replay.fold import PodSample
from tests.replay.builders import pod
from tests.replay.test_pod_death_time import _rollout, _us, _windows


def _relapsed(obs: list[Observation], pending: float, deleted: float) -> list[Observation]:
    """`obs` with the replacement p2 seen pending at `pending` s and then terminating (deleted,
    never seen ready again) at `deleted` s."""
    more = [
        pod(pending, "p2", "n1", "pending"),
        pod(deleted, "p2", "n1", "terminating", deleted_at=deleted),
    ]
    return sorted([*obs, *more], key=lambda o: o.observed_at)


def test_a_stretch_that_began_after_the_death_does_not_hide_its_gap() -> None:
    # p2 listed at 105.1 s, after p1's death (finishedAt 104 s: [103, 106) s); p2 pending at
    # 130 s, seen terminating at 160 s: that stretch began long after the death
    (window,) = [w for w in _windows(_relapsed(_rollout(104.8, 104.4), 130, 160))
                 if w.start_earliest_us < _us(120)]  # fmt: skip
    assert not window.certain
    assert _us(103) <= window.start_earliest_us <= _us(104.4)
    assert window.end_latest_us >= _us(105.1)
    assert window.cls == "pod-gone-before-deregistered"


def test_a_pod_first_seen_terminating_still_counts_as_listed_before() -> None:
    # the control: a pod up when the recording began, first seen terminating, was listed from
    # before anything (it may be the endpoint kube-proxy forwarded to): its stretch says so
    def sample(t: int, state: str) -> PodSample:
        return PodSample(t, state, None, None, None, t, None, None, None)

    (first,) = runs([sample(5, "terminating")], "p")
    assert first.ready_us is None and first.before_us < 0
    (_, later) = runs([sample(1, "ready"), sample(3, "pending"), sample(9, "terminating")], "p")
    assert later.before_us == 3
