"""replay.proxy._pte_evidence's skip of the endpoints lanes that never listed a pod
serving-terminating reads each lane from where the last call read it to (the lanes only grow),
not every sample of every NodePort lane's endpoints lane on each call, and decides as a first
reading does."""

from __future__ import annotations

from dataclasses import replace

from gapwatch.replay.fold import Memo, Sample
from gapwatch.replay.proxy import _pte_evidence
from tests.replay.test_pte_evidence import _slice, _state, _terminating
from tests.replay.test_replay4_rewrites import _looks

SETTLE = 60_000_000


class _Sample(Sample):
    """A sample counting the reads of its value by name."""

    __slots__ = ()
    reads = 0

    @property
    def value(self) -> str:
        _Sample.reads += 1
        return str(self[2])


def test_a_lane_is_read_from_where_it_was_read_to() -> None:
    """n1's endpoints turn serving-terminating (its NodePort times out after: PTE off), n2's
    hold 2,000 ready samples: the first call reads them all, the next ones only the samples
    added since (on the code before: all 2,000 each call, fails), and each verdict is a fresh
    memo's, n2's turning serving-terminating included."""
    obs = [*_terminating("v1.26.3", "n1", "p1"), *_terminating("v1.26.3", "n2", "p2")]
    obs += [_slice(1, ("p1", "n1", "ready"), ("p2", "n2", "ready")),
            _slice(20, ("p1", "n1", "terminating"), ("p2", "n2", "ready")),
            *_looks("n1", "timeout"), *_looks("n2", "connected")]  # fmt: skip
    state = _state(obs)
    key = next(k for k in state.endpoints if k[1] == "n2")
    t0 = state.endpoints[key][0].at_us
    lane = state.endpoints[key] = [_Sample(t0 + t, None, "ready", t) for t in range(2000)]

    reads: list[int] = []

    def read() -> bool | None:
        _Sample.reads = 0
        found = _pte_evidence(state, "c1", SETTLE)
        reads.append(_Sample.reads)
        assert found == _pte_evidence(replace(state, memo=Memo()), "c1", SETTLE)
        return found

    assert read() is False
    assert read() is False
    lane.append(_Sample(t0 + 2000, None, "ready", 2000))
    assert read() is False
    lane.append(_Sample(t0 + 2001, None, "serving-terminating", 2001))  # as a fresh memo reads it
    read()
    assert reads[:3] == [2000, 0, 1], reads  # main: [2000, 2000, 2001]
