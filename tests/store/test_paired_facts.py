"""Ingest session 33's measured prototype (benchmarks/pairedfacts.py): a batch's facts derived
row by row and streamed into a second COPY on a second connection while its events are copied.
Its figures count only if it stores what today's writer stores: when the write returns, the
facts are those derive gives and the projector's position is the last event; a crash in the
middle of a batch, or between the events' commit and the facts', loses nothing and derives
nothing twice once the projector catches up (as today: the facts commit after the events).

PostgreSQL only (SQLite takes today's path: one database lock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from benchmarks.pairedfacts import PairedWriter
from gapwatch.recorder import importer
from gapwatch.recorder.exporter import observation_of
from gapwatch.recorder.importer import import_files
from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.projector import Projector
from gapwatch.recorder.tables import events
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import derive_all, write_facts
from tests.store.test_fact_paths import BATCH, _mix, _preset, expected, stored_facts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    from gapwatch.recorder.store import make_engine

    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _all_derived(engine: Engine, facts: list[tuple[Any, ...]]) -> None:
    """`facts` stored, each once, and the projector's position at the last event."""
    assert stored_facts(engine) == facts
    assert _duplicated_facts(engine) == 0
    assert Projector(engine, write_facts).position() == _max_id(engine)


def _max_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one())


def _derived_from_the_log(engine: Engine) -> list[tuple[Any, ...]]:
    """What derive gives for every stored event, read back as a catch-up reads it."""
    with engine.connect() as conn:
        rows = conn.execute(select(events).order_by(events.c.id))
        return [tuple(f) for f in derive_all((int(r.id), observation_of(r)) for r in rows)]


def _duplicated_facts(engine: Engine) -> int:
    with engine.connect() as conn:
        query = "SELECT count(*) - count(DISTINCT (event_id, seq)) FROM facts"
        return int(conn.execute(text(query)).scalar_one())


@pytest.mark.postgres
@pytest.mark.parametrize("source", ["realistic-mix", "aws-nlb"])
def test_written_paired_the_facts_are_there_on_return(pg_engine: Engine, source: str) -> None:
    obs = _mix() if source == "realistic-mix" else _preset(source)
    writer = PairedWriter(pg_engine, derive=write_facts)
    result = writer.write_all(obs, batch_size=BATCH)
    assert (result.inserted, result.underived) == (len(obs), 0)
    assert writer.paired > 0 and writer.ordinary == 0  # every batch took the paired path
    _all_derived(pg_engine, expected(obs))


@pytest.mark.postgres
def test_imported_paired_the_facts_are_there_on_return(
    pg_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    obs = _mix()
    path = tmp_path / "obs.ndjson"
    path.write_text("".join(dumps(o) + "\n" for o in obs))
    monkeypatch.setattr(importer, "EventWriter", PairedWriter)  # as ingest.py measures it
    report = import_files(pg_engine, [str(path)], derive=write_facts, batch_size=BATCH)
    assert report.error_count == 0 and report.written.inserted == len(obs)
    _all_derived(pg_engine, expected(obs))


@pytest.mark.postgres
def test_a_gap_in_the_ids_and_stored_rows_take_the_ordinary_way(pg_engine: Engine) -> None:
    """A rolled-back batch leaves a gap in `events_id_seq` (the ids read under the lock still
    predict the next ones); half the observations stored first make batches meet stored rows
    (the staging path): every new event derived once, with its real id."""
    engine = pg_engine
    obs = _mix()
    EventWriter(engine, derive=write_facts).write_all(obs[::2], batch_size=BATCH)
    with engine.begin() as conn:
        conn.execute(text("SELECT nextval('events_id_seq') FROM generate_series(1, 7)"))
    writer = PairedWriter(engine, derive=write_facts)
    result = writer.write_all(obs, batch_size=BATCH)
    assert (result.inserted, result.underived) == (len(obs) - len(obs[::2]), 0)
    assert writer.ordinary > 0
    _all_derived(engine, _derived_from_the_log(engine))


#: A child that writes the mix paired, in batches of BATCH, and stops (prints `ready`, sleeps)
#: where it is told: inside the third batch's COPYs, or between the third batch's two commits.
_CHILD = textwrap.dedent(
    """
    import sys, time
    from benchmarks.pairedfacts import PairedWriter
    from gapwatch.recorder.store import make_engine
    from gapwatch.replay.facts import write_facts
    from tests.store.test_fact_paths import BATCH, _mix

    url, where = sys.argv[1], sys.argv[2]
    obs = _mix()

    def stop():
        print("ready", flush=True)
        time.sleep(600)

    def fed():
        for i, o in enumerate(obs):
            if where == "mid-stream" and i == 2 * BATCH + BATCH // 2:
                stop()
            yield o

    writer = PairedWriter(make_engine(url), derive=write_facts)
    commits = []

    def between():
        commits.append(1)
        if where == "between-commits" and len(commits) == 3:
            stop()

    writer.between_commits = between
    writer.write_all(fed(), batch_size=BATCH)
    """
)


@pytest.mark.postgres
@pytest.mark.parametrize("where", ["mid-stream", "between-commits"])
def test_a_writer_killed_loses_nothing_and_derives_nothing_twice(pg_url: str, where: str) -> None:
    """SIGKILL inside the third batch's two open COPYs (neither commits: the events of the first
    two batches and their facts stay), or after the third batch's events committed and before
    its facts did (the position stays below them). Then what a restart does: the projector
    catches up from the log and the whole input is written again (the recorder re-sends from its
    checkpoints, an import is re-run): every event once, every fact once."""
    from gapwatch.recorder.store import make_engine

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, pg_url, where], stdout=subprocess.PIPE, env=env, cwd=ROOT
    )
    engine = make_engine(pg_url)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready", "the child did not get there"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        obs = _mix()
        stored = _max_id(engine)
        position = Projector(engine, write_facts).position()
        if where == "mid-stream":
            assert position == stored  # the open batch left nothing
            with engine.connect() as conn:
                count = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
            assert count == 2 * BATCH
        else:
            assert position < stored  # its events committed, its facts not
        Projector(engine, write_facts).catch_up()
        assert stored_facts(engine) == _derived_from_the_log(engine)
        result = PairedWriter(engine, derive=write_facts).write_all(obs, batch_size=BATCH)
        assert result.inserted == len(obs) - (3 * BATCH if where != "mid-stream" else 2 * BATCH)
        _all_derived(engine, _derived_from_the_log(engine))
        assert sorted(stored_facts(engine)) == sorted(_facts_by_key(engine, obs))
    finally:
        if child.poll() is None:
            child.kill()
        engine.dispose()


def _facts_by_key(engine: Engine, obs: list[Any]) -> list[tuple[Any, ...]]:
    """derive's facts of `obs`, each with the id its event has in the store (by dedupe key)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT dedupe_key, id FROM events")).all()
    ids: dict[str, int] = {str(key): int(id_) for key, id_ in rows}
    return [tuple(f) for f in derive_all(sorted((ids[o.dedupe_key()], o) for o in obs))]


@pytest.mark.postgres
def test_paired_hybrid_stores_the_facts_the_hybrid_hook_stores(pg_url: str) -> None:
    """The hybrid layout written paired (benchmarks/pairedfacts.py PairedHybridWriter) against
    round 8's hook through today's projector: the same `facts` and `facts_grouped` rows."""
    from benchmarks import factgroups
    from benchmarks.pairedfacts import PairedHybridWriter
    from gapwatch.recorder.store import make_engine

    def both(url: str, kind: type[EventWriter]) -> tuple[list[Any], list[Any]]:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                for statement in factgroups.LZ4:
                    conn.execute(text(statement))
            obs = _mix()
            writer = kind(engine, derive=factgroups.write_hybrid)
            assert writer.write_all(obs, batch_size=1000).inserted == len(obs)
            assert Projector(engine, factgroups.write_hybrid).position() == _max_id(engine)
            with engine.connect() as conn:
                single = conn.execute(text("SELECT * FROM facts ORDER BY event_id, seq")).all()
                grouped = conn.execute(text("SELECT * FROM facts_grouped ORDER BY event_id, seq"))
                return [tuple(r) for r in single], [tuple(r) for r in grouped]
        finally:
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE facts_grouped"))
                tables = "events, event_keys, facts, projector_positions"
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
            engine.dispose()

    today = both(pg_url, EventWriter)
    paired = both(pg_url, PairedHybridWriter)
    assert paired == today and today[1]
