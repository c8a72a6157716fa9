"""A node whose kube-proxy metrics looks alone moved keeps its lanes where F reads the same from
them (replay.node_cache `moved_syncs_only`, `_syncs_kept`): a batch of scrapes that changes
nothing F reads finds no node's lanes again, and detection, rows and segments stay a rebuild's
(and plain `detect`'s) after every batch, with scrapes that do move F among them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from benchmarks import replay as bench
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import node_cache, projections
from gapwatch.replay.assumptions import DEFAULTS, US
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import Fact, derive, write_facts
from gapwatch.replay.fold import FoldState, fold, lb_facing
from tests.replay import builders as b
from tests.replay.test_lane_order import _rows
from tests.replay.test_node_cache import _cached, _lanes_counted, calls_counted
from tests.replay.test_segment_tail import _health_history, _stored
from tests.replay.test_sync_count import closing_obs, scrape
from tests.replay.test_sync_seen import _scrapes


def test_only_the_count_of_looks_is_syncs_only() -> None:
    """Two keys differing in the looks' count alone are; in anything else they are not."""
    key = ((1, 2), 5, "v1", 0, True)
    assert node_cache.moved_syncs_only(key, ((1, 2), 9, "v1", 0, True))
    assert node_cache.moved_syncs_only(key, key)
    assert not node_cache.moved_syncs_only(key, ((1, 3), 9, "v1", 0, True))
    assert not node_cache.moved_syncs_only(key, ((1, 2), 9, "v2", 0, True))


@pytest.mark.parametrize("late", [False, True])
def test_scrapes_that_move_nothing_find_no_lanes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, late: bool
) -> None:
    """A node probed 100 times and scraped 300 times, refreshed from the checkpoint with
    scrapes alone, three times: no refresh finds the node's lanes again (F read the same from
    the looks), and the windows, rollouts, lags and segments equal a rebuild's after each; with
    `late`, the last batch brings a scrape before the lane's last, inside the probed history
    (it may move F: only the rows are compared). A probe with the scrapes
    then finds them again. Before: every batch of scrapes found the lanes of every Service on
    the node ([1, 1, 1] here; 1,000 a refresh of benchmarks/refresh_rounds.py's 2,400)."""
    refreshed = probed_and_scraped(engine, _lanes_counted(monkeypatch))
    batches = [_scrapes(301, 2), _scrapes(303, 5)]
    batches.append([scrape(150.3, 148, 75, 0.75, counted=True)] if late else _scrapes(308, 3))
    finds = [refreshed(*batch) for batch in batches]
    assert finds[:2] == [0, 0]
    assert late or finds[2] == 0  # a look inside the probed history may move F
    assert refreshed(b.health(206, 200, "n1", 1), *_scrapes(311, 2)) == 1


def probed_and_scraped(engine: Engine, found: list[str]) -> Callable[..., int]:
    """A node probed 100 times (to 200 s) and scraped 300 times (`_health_history`,
    `_scrapes`), rebuilt into a checkpoint; then a function that writes observations, refreshes
    from it, checks that the windows, rollouts, lags and segments equal a rebuild's and gives
    how many entries `found` (a counter: `_lanes_counted`) gained in the refresh."""
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(_health_history(100) + _scrapes(1, 300))
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    calls = len(found)

    def refreshed(*new: Observation) -> int:
        writer.write(list(new))
        before = len(found)
        assert projections.refresh(engine, checkpoint=cp) == len(new)
        finds = len(found) - before
        rows = _rows(engine), _stored(engine)
        projections.rebuild(engine, checkpoint=Checkpoint())
        assert (_rows(engine), _stored(engine)) == rows
        return finds

    assert len(found) == calls  # the rebuild ran before the counting began
    return refreshed


@pytest.mark.parametrize("late", [0.0, 3.0])
def test_scrapes_that_move_f_find_the_lanes_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, late: float
) -> None:
    """kube-proxy's one sync after n1's pod left the slice, scraped every 2 s (test_sync_count's
    `closing_obs`), its looks written after the rest in batches, the first of them before the
    sync: the batches whose looks move F find n1's lanes again, and the rows equal a
    rebuild's after each batch; the first two find n1's F (while the sync is not seen at the
    looks' end, F read their last: replay.sync_read keeps none)."""
    obs = closing_obs(True, late=late)
    looks = [o for o in obs if o.kind == "ProxyMetrics"]
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all([o for o in obs if o.kind != "ProxyMetrics"])
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    found = _lanes_counted(monkeypatch)
    f_found = calls_counted(monkeypatch, "serves_carried")
    per_batch = []
    for lo, hi in pairwise([0, 1, 3, 8, 20, len(looks)]):
        writer.write(looks[lo:hi])
        before = f_found.count("n1")
        assert projections.refresh(engine, checkpoint=cp) == hi - lo
        per_batch.append(f_found.count("n1") - before)
        rows = _rows(engine), _stored(engine)
        projections.rebuild(engine, checkpoint=Checkpoint())
        assert (_rows(engine), _stored(engine)) == rows
    assert "n1" in found
    assert per_batch[0] and per_batch[1]


def _with_metrics(preset: str, seed: int) -> tuple[list[list[Fact]], list[list[Fact]]]:
    """The preset's run with kube-proxy's metrics scraped: the facts of every other
    observation, and of the scrapes, each in time order."""
    scenario = load_scenario(preset, {"observe.kube_proxy_metrics": True})
    observations = run(scenario, seed=seed).observations
    facts = [list(derive(i, o)) for i, o in enumerate(observations, 1)]
    scrapes = [o.kind == "ProxyMetrics" for o in observations]
    return (
        [f for f, s in zip(facts, scrapes, strict=True) if not s],
        [f for f, s in zip(facts, scrapes, strict=True) if s],
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    preset=st.sampled_from(("aws-nlb", "seed-3node")),
    seed=st.integers(min_value=1, max_value=40),
    first=st.floats(min_value=0.0, max_value=1.0),
    splits=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=12),
)
def test_batches_of_scrapes_give_what_detect_gives(
    preset: str, seed: int, first: float, splits: list[float]
) -> None:
    """A simulated run with its scrapes held back: the rest and the scrapes before `first`
    folded, then the other scrapes in batches (scrapes alone: a node's looks moved, nothing
    else); after each, the cached detection (F found again and compared, or kept where the new
    looks lie beyond all it read: replay.sync_read) equals a plain detect of the same state."""
    rest, scrapes = _with_metrics(preset, seed)
    assert scrapes
    head = round(first * len(scrapes))
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    fold(state, [f for e in rest + scrapes[:head] for f in e])
    assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)
    cuts = sorted({head + round(s * (len(scrapes) - head)) for s in splits})
    for lo, hi in pairwise([head, *cuts, len(scrapes)]):
        fold(state, [f for e in scrapes[lo:hi] for f in e])
        assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)


@pytest.mark.postgres
def test_the_benchmarks_scrapes_find_only_the_probed_nodes(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/replay.py's store, small (4 Services on 3 nodes), refreshed from the
    checkpoint with two rounds of its scrapes (every 600 s: kube-proxy's sync count moves every
    other look): the scrapes alone find no node's lanes; `lb_facing` (every probe and LB
    lane's key listed) is read once a refresh, not per Service; the rows equal a rebuild's
    after each. Before: 12 finds (every Service on every scraped node) and 2 reads of
    `lb_facing` per Service refreshed (8)."""
    bench.build(pg_url, 4, 3, 4_000, 20)
    engine = make_engine(pg_url)
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    found = _lanes_counted(monkeypatch)
    facing: list[int] = []
    real = lb_facing

    def counted(state: FoldState) -> object:
        facing.append(1)
        return real(state)

    monkeypatch.setattr(projections, "lb_facing", counted)
    writer = EventWriter(engine, derive=write_facts)
    base = datetime.fromtimestamp(bench.T0 / US + 30 * 86400, UTC)
    for k in range(2):
        writer.write(bench.metrics_scrapes(base + timedelta(hours=k), k, 600))
        facing.clear()
        found.clear()
        assert projections.refresh(engine, checkpoint=cp) == 6 * 20
        assert (len(found), len(facing)) == (0, 1)
        rows = _rows(engine), _stored(engine)
        projections.rebuild(engine, checkpoint=Checkpoint())
        assert (_rows(engine), _stored(engine)) == rows
    engine.dispose()
