"""Where the LB fails open (replay.routed.fail_open) is read from each LB poll lane's share,
kept while the lane is as long: folded batch by batch, it is what a state folded at once gives,
and a batch reads again only the lanes it grew."""

from __future__ import annotations

import pytest

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay import routed
from gapwatch.replay.facts import Fact, derive
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.signals import HI, Tri
from tests.replay import builders as b

S = 1_000_000
T0 = to_micros(b.T0)


def _events(seed: int) -> list[list[Fact]]:
    observations = run(load_scenario("aws-nlb"), seed=seed).observations
    return [list(derive(i, o)) for i, o in enumerate(observations, 1)]


@pytest.mark.parametrize("seed", [3, 7])
def test_batch_by_batch_fail_open_is_the_whole_folds(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _events(seed)
    read: list[int] = []
    where = routed.steps_where  # type: ignore[attr-defined]

    def counted(lane: list[object], *args: object) -> object:
        read.append(len(lane))
        return where(lane, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(routed, "steps_where", counted)
    state = FoldState()
    size = max(1, len(events) // 6)
    for start in range(0, len(events), size):
        before = {k: len(v) for k, v in state.probes["target"].items()}
        fold(state, [f for e in events[start : start + size] for f in e])
        grown = sum(1 for k, v in state.probes["target"].items() if before.get(k) != len(v))
        whole = fold(FoldState(), [f for e in events[: start + size] for f in e])
        for svc in lb_facing(state):
            read.clear()
            found = routed.fail_open(state, svc)
            assert len(read) <= 2 * grown  # two readings of each grown lane, none of the rest
            assert found == routed.fail_open(whole, svc)
    assert state.probes["target"]


def test_a_grown_lane_opens_and_closes_what_the_kept_ones_say() -> None:
    """Two targets: a unhealthy from 20 s, b from 30 s (every registered target unhealthy: the
    LB fails open), a healthy again at 40 s; folded poll by poll, the kept lanes' shares give
    the whole fold's fail-open after each."""
    observations = [
        b.service(0),
        b.eps(1, [("p-a", "a", "ready"), ("p-b", "b", "ready")]),
        b.target(10, None, "a", "healthy"),
        b.target(10, None, "b", "healthy"),
        b.target(20, 10, "a", "unhealthy"),
        b.target(30, 10, "b", "unhealthy"),
        b.target(40, 20, "a", "healthy"),
    ]
    state = FoldState()
    opened: list[Tri] = []
    done = 0
    for i in range(3, len(observations) + 1):
        facts = b.facts_of(observations[:i])
        fold(state, facts[done:])
        done = len(facts)
        (svc,) = lb_facing(state)
        found = routed.fail_open(state, svc)
        assert found == routed.fail_open(fold(FoldState(), facts), svc)
        opened.append(found)
    # b's unhealthy poll: surely open from 30 s on; a's healthy one closes it by 40 s
    assert [((iv.start - T0) // S, iv.end) for iv in opened[-2].definite] == [(30, HI)]
    assert opened[-1].definite == [] and [(iv.end - T0) // S for iv in opened[-1].possible] == [40]
