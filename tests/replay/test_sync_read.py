"""A node whose kube-proxy metrics looks alone moved, and moved only beyond what F's last find
read of them and of its sync spans, keeps F without finding it again (replay.sync_read,
node_cache `_read_kept`): a batch of scrapes after a node's probed history finds no F, and
detection, rows and segments stay a rebuild's (and plain `detect`'s) after every batch, with
scrapes that do move F among them."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine

from benchmarks import replay as bench
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import node_cache, projections
from gapwatch.replay.assumptions import DEFAULTS, US
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.deaths import Run, _unsynced
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, SyncLook, fold, lb_facing
from gapwatch.replay.signals import Iv
from gapwatch.replay.sync_read import Noted, _same_head
from gapwatch.replay.syncs import SyncIndex
from tests.replay import builders as b
from tests.replay.test_lane_order import _rows
from tests.replay.test_node_cache import _cached, calls_counted
from tests.replay.test_segment_tail import _stored
from tests.replay.test_sync_count import scrape
from tests.replay.test_sync_kept import _with_metrics, probed_and_scraped
from tests.replay.test_sync_seen import _scrapes


def _f_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The nodes whose F node_cache finds from now on (one entry per find)."""
    return calls_counted(monkeypatch, "serves_carried")


def test_noted_notes_the_largest_index_read() -> None:
    """Reads by index (negative too), bisection, slices, reversal and iteration, each noted
    at the largest index it read; the length alone reads nothing."""
    items = list(range(0, 100, 2))
    noted = Noted(items)
    assert len(noted) == 50 and noted.top == -1
    assert noted[3] == 6 and noted.top == 3
    assert bisect_left(noted, 20) == 10 and 10 <= noted.top < 49
    assert bisect_right(noted, 1_000) == 50 and noted.top == 49
    noted = Noted(items)
    assert noted[-50] == 0 and noted.top == 0
    assert list(noted[4:9:2]) == [8, 12, 16] and noted.top == 8
    assert list(noted[9:4:-1]) == [18, 16, 14, 12, 10] and noted.top == 9
    assert list(noted[7:7]) == [] and noted.top == 9
    for whole in (list, reversed, lambda n: 4 in n):
        noted = Noted(items)
        whole(noted)
        assert noted.top == 49


def test_a_death_runs_scan_reads_no_look_after_its_stop() -> None:
    """deaths._unsynced scans a node's looks from a death's earliest instant on until one shows
    a sync since the endpoint could be listed: it reads none after that one, so a refresh keeps
    F where the new looks come later (replay.sync_read). A sync every second, the endpoint
    ready at 50 s, the death from 40 s: the scan stops at 52 s's look (its sync at 51 s) and
    the run was programmed by then. Before: a slice to the looks' end read the last look."""
    looks = [SyncLook(t * US, (t - 1) * US, None, t) for t in range(1, 101)]
    ordered, times = Noted(looks), Noted([look.at_us for look in looks])
    run = Run("p1", 50 * US, 60 * US, 70 * US, None, 1)
    step = _unsynced(SyncIndex(ordered, times), run, 50 * US, 40 * US, (0, 0, 0, 60 * US, 0))
    assert step is not None and step.latest <= 52 * US
    assert max(ordered.top, times.top) < 60


def test_spans_read_alike_only_up_to_the_last_but_one() -> None:
    """A span list reads as it did where its first items up to the one read are the same
    and that one was not its last; an empty one only while it stays empty."""
    was = [Iv(0, 5), Iv(10, 15), Iv(20, 25)]
    assert _same_head(was, 1, [*was[:2], Iv(20, 40), Iv(50, 60)])  # the last one joined on
    assert not _same_head(was, 2, [*was[:2], Iv(20, 40)])
    assert not _same_head(was, 1, [was[0], Iv(10, 16), *was[2:]])
    assert _same_head(was, -1, [Iv(1, 2)])
    assert _same_head([], -1, []) and not _same_head([], -1, [Iv(0, 1)])


@pytest.mark.parametrize("late", [False, True])
def test_scrapes_after_what_f_read_find_no_f(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, late: bool
) -> None:
    """A node probed 100 times (to 200 s) and scraped 300 times, refreshed from the checkpoint
    with scrapes alone: the first refresh finds F (the rebuild's find noted nothing), the next
    ones none (their looks lie after every look F read: it is kept, not found to learn it is
    equal), and the windows, rollouts, lags and segments equal a rebuild's after each; with
    `late`, a scrape before the lane's last (the lane out of time order: F found again). A
    probe then finds it again. Before: every batch of scrapes found F ([1, 1, 1, 1])."""
    refreshed = probed_and_scraped(engine, _f_counted(monkeypatch))
    finds = [refreshed(*batch) for batch in (_scrapes(301, 2), _scrapes(303, 5), _scrapes(308, 3))]
    assert finds == [1, 0, 0]
    if late:
        assert refreshed(scrape(250.3, 248, 125, 1.25, counted=True)) == 1  # out of time order
    else:
        assert refreshed(*_scrapes(311, 4)) == 0
    assert refreshed(b.health(206, 200, "n1", 1), *_scrapes(315, 2)) == 1


def test_a_run_keeps_some_f_and_finds_some_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """On one simulated run with metrics (its scrapes in 12 batches after the rest), both
    outcomes of `_read_kept` occur, and each batch's cached detection equals detect's."""
    outcomes: list[bool] = []
    real = node_cache._read_kept

    def noted(*args: object) -> bool:
        out = real(*args)  # type: ignore[arg-type]
        outcomes.append(out)
        return out

    monkeypatch.setattr(node_cache, "_read_kept", noted)
    rest, scrapes = _with_metrics("seed-3node", 7)
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    fold(state, [f for e in rest for f in e])
    _cached(state, cache)
    cuts = [round(k * len(scrapes) / 12) for k in range(13)]
    for lo, hi in pairwise(cuts):
        fold(state, [f for e in scrapes[lo:hi] for f in e])
        assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)
    assert True in outcomes and False in outcomes


@pytest.mark.postgres
def test_the_benchmarks_scrapes_find_no_f_after_the_first(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/replay.py's store, small (4 Services on 3 nodes), refreshed from the
    checkpoint with three rounds of its scrapes (every 600 s): the first round finds F of
    every Service on the scraped nodes (the rebuild noted nothing) and detects them from the
    suffix's instant, the next ones neither (each node probed: node_cache `_looks_kept`); the
    rows equal a rebuild's after each. Before: 12 finds every round (session 36), and 12
    `windows_from` every round (session 37)."""
    bench.build(pg_url, 4, 3, 4_000, 20)
    engine = make_engine(pg_url)
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    found = _f_counted(monkeypatch)
    detected = calls_counted(monkeypatch, "windows_from")
    writer = EventWriter(engine, derive=write_facts)
    base = datetime.fromtimestamp(bench.T0 / US + 30 * 86400, UTC)
    finds = []
    for k in range(3):
        writer.write(bench.metrics_scrapes(base + timedelta(hours=k), k, 600))
        found.clear()
        detected.clear()
        assert projections.refresh(engine, checkpoint=cp) == 6 * 20
        finds.append((len(found), len(detected)))
        rows = _rows(engine), _stored(engine)
        projections.rebuild(engine, checkpoint=Checkpoint())
        assert (_rows(engine), _stored(engine)) == rows
    engine.dispose()
    assert finds == [(12, 12), (0, 0), (0, 0)]
