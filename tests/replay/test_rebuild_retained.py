"""A rebuild keeps the projection rows of the span retention dropped (replay.kept_rows).

docs/retention.md promises that retention drops the raw rows and their facts and nothing else:
the windows, rollouts and lags outlive the events. But every upgrade of gapwatch changes replay's
revision, and the next refresh rebuilt the projections from the events left: after `db maintain
--retention 1d` on the demo store and a replay-code change, `gapwatch advise --cluster seed`
answered "no cluster 'seed'" and every window of the dropped span was gone. Both backends
(SQLite deletes by time, PostgreSQL drops day partitions).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder.maintain import maintain
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.timefmt import to_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import checkpoint_file, projections, revision
from gapwatch.replay.facts import write_facts

#: what each table's rows are (not their surrogate ids), and the time that places them
ROWS = {
    "replay_windows": (
        "cluster, namespace, service, node, class, start_us, end_us, start_earliest_us, "
        "start_latest_us, end_earliest_us, end_latest_us, provenance, certain, opened_by, "
        "closed_by, rollout, failed_requests, also",
        "end_latest_us",
    ),
    "replay_rollouts": (
        "id, cluster, namespace, service, kind, workload, revision_from, revision_to, "
        "start_us, end_us, windows, gap_seconds, nodes, failed_requests",
        "end_us",
    ),
    "replay_lags": ("cluster, namespace, service, node, lag, at_us, seconds", "at_us"),
}
#: the second run's day: the first run's (2026-01-01) is what retention drops
LATER = datetime(2026, 1, 3, tzinfo=UTC)
NOW = datetime(2026, 1, 4, 12, tzinfo=UTC)


def _record(
    engine: Engine,
    start: datetime,
    seed: int,
    tag: str,
    kinds: frozenset[str] | None = None,
    cluster: str = "sim",
) -> None:
    """A 10-minute run of the seed's cluster from `start` (its resourceVersions its own; of
    `kinds` alone, where given)."""
    from dataclasses import replace

    at = start.strftime("'%Y-%m-%dT%H:%M:%SZ'")
    scenario = load_scenario("seed-3node", {"start": at, "cluster": cluster})
    observations = [
        replace(o, resource_version=None if o.resource_version is None
                else f"{o.resource_version}-{tag}")
        for o in run(scenario, seed=seed).observations
        if kinds is None or o.kind in kinds
    ]  # fmt: skip
    EventWriter(engine, derive=write_facts).write_all(observations)


def _rows(engine: Engine) -> dict[str, Counter[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            t: Counter(tuple(r) for r in conn.execute(text(f"SELECT {cols} FROM {t}")))
            for t, (cols, _at) in ROWS.items()
        }


def _before(
    rows: dict[str, Counter[tuple[object, ...]]], first_us: int | None
) -> dict[str, Counter[tuple[object, ...]]]:
    """The rows wholly before `first_us` (None: every row)."""
    out: dict[str, Counter[tuple[object, ...]]] = {}
    for t, (cols, at) in ROWS.items():
        i = [c.strip() for c in cols.split(",")].index(at)
        out[t] = Counter(
            {r: n for r, n in rows[t].items() if first_us is None or int(str(r[i])) < first_us}
        )
    return out


def _upgrade(engine: Engine, how: str = "upgrade") -> None:
    """What an upgrade leaves: projections another revision of replay's code built; or
    (`refacts`) projections built before the recorder derived facts again."""
    key, value = (revision.KEY, revision.current() ^ 1)
    if how == "refacts":
        key, value = projections.REDERIVED_KEY, 7  # the facts projector's count is 0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM replay_state WHERE key = :k"), {"k": key})
        conn.execute(
            text("INSERT INTO replay_state (key, value) VALUES (:k, :v)"), {"k": key, "v": value}
        )


def _first_held_us(engine: Engine) -> int | None:
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(observed_at) FROM events")).scalar_one()
    if first is None:
        return None
    if isinstance(first, str):
        first = datetime.fromisoformat(first)
    return to_micros(first if first.tzinfo else first.replace(tzinfo=UTC))


def _built_over_two_days(engine: Engine) -> dict[str, Counter[tuple[object, ...]]]:
    _record(engine, datetime(2026, 1, 1, tzinfo=UTC), 3, "a")
    _record(engine, LATER, 4, "b")
    assert projections.refresh(engine) > 0
    built = _rows(engine)
    assert built["replay_windows"] and built["replay_rollouts"] and built["replay_lags"]
    return built


@pytest.mark.parametrize("how", ["upgrade", "refacts"])
def test_an_upgrades_rebuild_keeps_the_rows_of_the_dropped_span(engine: Engine, how: str) -> None:
    built = _built_over_two_days(engine)
    done = maintain(engine, now=NOW, retention=timedelta(days=2), ahead_days=0)
    assert done.dropped.events > 0
    first = _first_held_us(engine)
    assert first is not None and first >= to_micros(LATER)
    dropped_span = _before(built, first)
    assert all(dropped_span.values()), "the first day's run must have windows, rollouts, lags"

    _upgrade(engine, how)
    assert projections.pending(engine)
    assert projections.refresh(engine) == 0  # rebuilt: no new events
    after = _rows(engine)
    for table, rows in dropped_span.items():
        assert after[table] & rows == rows, f"{table}: rows of the dropped span lost"

    # the rest is what a rebuild of the retained events alone makes (the forget flag's)
    projections.rebuild(engine, forget_dropped=True)
    retained_only = _rows(engine)
    assert not any(_before(retained_only, first).values())
    for table in ROWS:
        assert after[table] == dropped_span[table] + retained_only[table], table
    # forgotten: a rebuild now has nothing of the dropped span to keep
    projections.rebuild(engine)
    assert _rows(engine) == retained_only


def test_an_explicit_rebuild_keeps_them_and_a_later_retention_adds_to_them(
    engine: Engine,
) -> None:
    built = _built_over_two_days(engine)
    maintain(engine, now=NOW, retention=timedelta(days=2), ahead_days=0)
    first = _first_held_us(engine)
    projections.rebuild(engine)  # `gapwatch replay --rebuild`
    rebuilt = _rows(engine)
    kept = _before(built, first)
    for table, rows in kept.items():
        assert rebuilt[table] & rows == rows, table
    # a retention after the rebuild drops the second day too: every row is kept, as it stood
    maintain(engine, now=NOW + timedelta(days=3), retention=timedelta(days=2), ahead_days=0)
    assert _first_held_us(engine) is None
    _upgrade(engine)
    projections.refresh(engine)
    assert _rows(engine) == rebuilt
    projections.rebuild(engine)
    assert _rows(engine) == rebuilt
    projections.rebuild(engine, forget_dropped=True)
    assert not any(_rows(engine).values())


def test_a_store_without_retention_rebuilds_as_before(engine: Engine) -> None:
    built = _built_over_two_days(engine)
    with engine.begin() as conn:  # rows another build left that no event supports are not kept
        conn.execute(text("UPDATE replay_windows SET class = 'node-not-ready'"))
    _upgrade(engine)
    projections.refresh(engine)
    assert _rows(engine) == built


@pytest.mark.parametrize("kept", [False, True], ids=["store", "checkpoint"])
def test_a_refresh_after_the_retention_keeps_them(engine: Engine, kept: bool) -> None:
    """The recorder goes on recording after a retention: the next refresh recomputes the
    Service its new events touch, from the facts left, and rewrites its rows as a diff (against
    the store; or from a fold state `gapwatch replay` saved, which the retention voids: the
    next process folds the facts left anew)."""
    built = _built_over_two_days(engine)
    if kept:
        checkpoint_file._kept.clear()
        checkpoint_file.refresh(engine, persist=True)  # nothing new: the state saved
    maintain(engine, now=NOW, retention=timedelta(days=2), ahead_days=0)
    first = _first_held_us(engine)
    _record(engine, datetime(2026, 1, 4, tzinfo=UTC), 5, "c")
    if kept:
        checkpoint_file._kept.clear()  # the next `gapwatch replay`, another process
        assert checkpoint_file.refresh(engine, persist=True) > 0
    else:
        assert projections.refresh(engine) > 0
    after = _rows(engine)
    for table, rows in _before(built, first).items():
        assert after[table] & rows == rows, f"{table}: rows of the dropped span lost"


def test_the_recorder_and_replay_name_one_mark() -> None:
    """recorder.partitions writes the mark by name (the recorder imports nothing of replay)."""
    from gapwatch.recorder.partitions import DROPPED_MARK
    from gapwatch.replay.kept_rows import MARK

    assert DROPPED_MARK == MARK


def test_a_service_left_with_kept_rows_alone_stays_known(engine: Engine) -> None:
    """Every event of the Service dropped, then Pods of its namespace recorded: the refresh
    recomputes the Service, finds it no longer LB-facing (no Service object, no slice left) and
    deleted its rows and its context; the readers knew it no more."""
    from gapwatch.replay import api

    _built_over_two_days(engine)
    # another cluster recorded on: the store's newest events stay (SQLite would number the
    # next events from 1 again once every event was deleted)
    _record(engine, datetime(2026, 1, 6, tzinfo=UTC), 6, "o", cluster="other")
    assert projections.refresh(engine) > 0
    built, services = _rows(engine), api.services(engine)
    maintain(engine, now=NOW + timedelta(days=3), retention=timedelta(days=2), ahead_days=0)
    _record(engine, datetime(2026, 1, 7, tzinfo=UTC), 5, "c", frozenset({"Pod"}))
    assert projections.refresh(engine) > 0
    assert _rows(engine) == built
    assert api.services(engine) == services


def _rollout_ids(engine: Engine) -> tuple[set[str], dict[tuple[str, int], str | None]]:
    """The rollouts' ids, and each window's (node, latest end) -> its rollout."""
    with engine.connect() as conn:
        ids = set(conn.execute(text("SELECT id FROM replay_rollouts")).scalars())
        windows = {
            (node, int(end)): rollout
            for node, end, rollout in conn.execute(
                text("SELECT node, end_latest_us, rollout FROM replay_windows")
            )
        }
    return ids, windows


@pytest.mark.parametrize("path", ["rebuild", "refresh"])
def test_a_kept_window_never_names_a_rollout_the_store_does_not_list(
    engine: Engine, path: str
) -> None:
    """A rollout that began 8 s before midnight, retention dropping the first day: its first
    window (before midnight) is kept, the rollout itself straddled the boundary and is
    recomputed from what is left (under another id, or not at all). The kept window named the
    old id, which `gapwatch rollouts` did not list and `gapwatch report --rollout` refused ("no
    rollout"); now it names none, and every window's rollout is one the store lists."""
    _record(engine, datetime(2026, 1, 1, 23, 58, 52, tzinfo=UTC), 1, "a")
    projections.refresh(engine)
    midnight = to_micros(datetime(2026, 1, 2, tzinfo=UTC))
    ids, windows = _rollout_ids(engine)
    early = {k: r for k, r in windows.items() if k[1] < midnight}
    assert early and all(r in ids for r in early.values())  # the rollout's, before midnight
    maintain(engine, now=datetime(2026, 1, 3, tzinfo=UTC), retention=timedelta(days=1))
    if path == "rebuild":
        projections.rebuild(engine)
    else:  # the recorder goes on recording: the next refresh after the retention
        _record(engine, datetime(2026, 1, 2, 1, tzinfo=UTC), 2, "b")
        assert projections.refresh(engine) > 0
    ids, windows = _rollout_ids(engine)
    kept = {k: windows.get(k, "gone") for k in early}
    assert "gone" not in kept.values(), "the window before the boundary is kept"
    assert all(r is None or r in ids for r in windows.values()), (ids, windows)
