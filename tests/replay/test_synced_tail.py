"""A probed F's steps as kube-proxy's looks place them, carried on from the node's last find
(replay.synced_tail): `synced_on` runs on the steps whose reads the new lists may move, and
the output is `synced_on`'s over every step, whatever moved."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from benchmarks import replay as bench
from gapwatch.recorder.store import make_engine
from gapwatch.replay import projections, synced_tail
from gapwatch.replay.assumptions import US
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.fold import SyncLook
from gapwatch.replay.signals import Iv, Step
from gapwatch.replay.sync_read import Noted
from gapwatch.replay.syncorder import synced_on
from gapwatch.replay.syncs import SyncIndex
from tests.replay.test_lane_order import _rows
from tests.replay.test_segment_tail import _stored

SPAN = 1 * US
REACH = 1 * US


def _index(looks: list[SyncLook]) -> SyncIndex:
    return SyncIndex(looks, [look.at_us for look in looks])


def _whole(
    steps: list[Step], fwd: list[Step], looks: list[SyncLook], quiet: list[Iv]
) -> list[Step]:
    return synced_on(steps, fwd, _index(looks), REACH, quiet, span_us=SPAN, back=None)


def _steps_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many steps each call of `synced_on` by replay.synced_tail maps (from now on)."""
    counts: list[int] = []

    def counted(steps: list[Step], *args: object, **kwargs: object) -> list[Step]:
        counts.append(len(steps))
        return synced_on(steps, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(synced_tail, "synced_on", counted)
    return counts


def _turn_on_bounded() -> tuple[list[Step], list[Step], list[SyncLook]]:
    """A node's pod replaced (its forwarding set empty from 90 s, ready again at 100 s) under
    NodePort probes every 2 s that time out, then connect between 102 and 110 s; kube-proxy
    scraped every 5 s to 105 s, its last sync at 90 s (nothing programmed since the set
    emptied), 30 steps of earlier probes before it."""
    fwd = [Step(0, 0, True, 1), Step(90 * US, 90 * US, False, 2), Step(100 * US, 100 * US, True, 3)]
    steps = [Step(2 * k * US, 2 * k * US, k % 2 == 0, 10 + k) for k in range(30)]
    steps += [Step(70 * US, 70 * US, True, 50), Step(102 * US, 110 * US, True, 51)]
    steps[-3:-2] = []
    looks = [SyncLook(t * US, min(t - 1, 90) * US, None, 100 + t) for t in range(5, 106, 5)]
    return steps, fwd, looks


def test_a_look_after_the_probes_moves_the_last_turn_on() -> None:
    """The connect at 110 s has no look after it: `synced_on` leaves it as the probe has it;
    a look at 112 s showing a sync at 107 s places the turn-on by 107 s. The carried output
    finds it again (the last steps read the old looks' end), and equals `synced_on` over every
    step both times. Wrong were the steps' states kept whatever the lists now hold (the last
    step's old output, 110 s, kept)."""
    steps, fwd, looks = _turn_on_bounded()
    first, trail = synced_tail.synced(steps, fwd, _index(looks), REACH, [], SPAN, None, 0)
    assert first == _whole(steps, fwd, looks, []) and first[-1].latest == 110 * US
    looks.append(SyncLook(112 * US, 107 * US, None, 300))
    now, _ = synced_tail.synced(steps, fwd, _index(looks), REACH, [], SPAN, None, 0, trail)
    assert now == _whole(steps, fwd, looks, []) and now[-1].latest == 107 * US


def test_new_probes_map_only_the_steps_near_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """Probes and looks appended in time order: the next run maps the new steps and at most
    the few whose reads reached the old lists' ends, not the 30 before; the notes of the
    caller's lists (replay.sync_read) record the same largest indices as a run over every
    step."""
    steps, fwd, looks = _turn_on_bounded()
    _, trail = synced_tail.synced(steps, fwd, _index(looks), REACH, [], SPAN, None, 0)
    counts = _steps_counted(monkeypatch)
    looks.append(SyncLook(112 * US, 107 * US, None, 300))
    steps = [*steps, Step(114 * US, 114 * US, False, 60), Step(116 * US, 118 * US, True, 61)]
    noted = SyncIndex(Noted(looks), Noted([look.at_us for look in looks]))
    now, _ = synced_tail.synced(steps, fwd, noted, REACH, [], SPAN, None, 0, trail)
    assert now == _whole(steps, fwd, looks, [])
    assert sum(counts) <= 2 * synced_tail.STRIDE + 2 < len(steps)
    whole = SyncIndex(Noted(looks), Noted([look.at_us for look in looks]))
    synced_on(steps, fwd, whole, REACH, [], span_us=SPAN, back=None)
    assert (noted.looks.top, noted.times.top) == (whole.looks.top, whole.times.top)  # type: ignore[attr-defined]


def _random_case(rng: random.Random) -> tuple[list[Step], list[Step], list[SyncLook], list[Iv]]:
    """A node's probed steps, its forwarding set, kube-proxy's looks (some a 503's, one
    process whose sync count grows) and quiet spans over 600 s, drawn from `rng`."""
    fwd: list[Step] = []
    steps: list[Step] = []
    looks: list[SyncLook] = []
    quiet: list[Iv] = []
    t, value = 0, True
    while t < 600:
        fwd.append(Step(t * US, (t + rng.randint(0, 2)) * US, value, len(fwd) + 1))
        t, value = t + rng.randint(5, 60), not value
    t, value = 0, True
    while t < 600:
        steps.append(Step(t * US, (t + rng.randint(0, 4)) * US, value, 1000 + len(steps)))
        t, value = t + rng.randint(2, 25), not value
    synced, syncs = 0, 0
    for at in range(3, 600, rng.choice((3, 5, 10))):
        if rng.random() < 0.5:
            synced, syncs = at - rng.randint(0, 2), syncs + 1
        complete = rng.random() < 0.9
        looks.append(
            SyncLook(at * US, synced * US, None, 5000 + at, complete, syncs, syncs * 5000, 1)
        )
    t = 0
    while t < 600:
        quiet.append(Iv(t * US, (t + rng.randint(1, 20)) * US))
        t += rng.randint(25, 80)
    return steps, fwd, looks, quiet


@pytest.mark.parametrize("seed", range(40))
def test_carried_equals_synced_on_whatever_moved(seed: int) -> None:
    """Random nodes cut at a random instant: the part before it mapped, then the whole with one
    more change (new steps and looks at the end; a look or a forwarding step moved in the
    middle; a quiet span moved or added; the key changed): each output equals `synced_on`
    over every step."""
    rng = random.Random(seed)
    steps, fwd, looks, quiet = _random_case(rng)
    cut = rng.randint(60, 540) * US
    old = (
        [s for s in steps if s.latest < cut], [s for s in fwd if s.latest < cut],
        [look for look in looks if look.at_us < cut], [q for q in quiet if q.end < cut],
    )  # fmt: skip
    first, trail = synced_tail.synced(old[0], old[1], _index(old[2]), REACH, old[3], SPAN, None, 1)
    assert first == _whole(*old)
    moved = looks[5]._replace(synced_us=looks[5].synced_us - 1)
    wider = Iv(quiet[1].start, quiet[1].end + 2 * US)
    changes = [
        (steps, fwd, looks, quiet),
        (steps, fwd, [*looks[:5], moved, *looks[6:]], quiet),
        (steps, [*fwd[:2], fwd[2]._replace(latest=fwd[2].latest + US), *fwd[3:]], looks, quiet),
        (steps, fwd, looks, [*quiet[:1], wider, *quiet[2:]]),
        (steps, fwd, looks, sorted([*quiet, Iv(cut - 30 * US, cut - 20 * US)])),
        (steps, fwd, looks[: len(looks) // 2], quiet),
    ]
    for now in changes:
        got, _ = synced_tail.synced(
            now[0], now[1], _index(now[2]), REACH, now[3], SPAN, None, 1, trail
        )
        assert got == _whole(*now)
    got, _ = synced_tail.synced(steps, fwd, _index(looks), REACH, quiet, SPAN, None, 2, trail)
    assert got == _whole(steps, fwd, looks, quiet)


@pytest.mark.postgres
def test_the_benchmarks_rounds_map_their_new_steps(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/replay.py's store, small (8 Services on 20 nodes), refreshed from the
    checkpoint with three of benchmarks/refresh_rounds.py's metrics rounds (1,000 probe and LB
    events and scrapes every 300 s): each round maps the new steps of the probed Service's
    nodes and a few before them, not their whole probed history, and the rows and segments
    equal a rebuild's after each. Before (main): every step of every moved node mapped each
    round."""
    bench.build(pg_url, 8, 20, 20_000, 20)
    engine = make_engine(pg_url)
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    engine.dispose()
    counts = _steps_counted(monkeypatch)
    mapped = []
    for k in range(3):
        counts.clear()
        bench.incremental(pg_url, k, cp, metrics_every_s=300)
        mapped.append(sum(counts))
        engine = make_engine(pg_url)
        # (Counter: `_stored` orders by node, lane and seq, which 8 Services share)
        rows = _rows(engine), Counter(_stored(engine))
        projections.rebuild(engine, checkpoint=Checkpoint())
        assert (_rows(engine), Counter(_stored(engine))) == rows
        engine.dispose()
    # the rounds' blips: 10 a node, 20 steps; each round adds them and maps few more
    assert mapped[0] > 0 and all(m <= 20 * (20 + 3 * synced_tail.STRIDE) for m in mapped[1:])
