"""Ingest session 27's measured prototype (benchmarks/deriveproc.py, not adopted): the projector
in a child process. Its figures count only if it does what today's thread does: when the write
returns, the facts are those derive gives and the projector's position is the last event; a
child killed in the middle of a batch loses nothing and derives nothing twice.

PostgreSQL runs the child; SQLite keeps projecting in this process (one database lock)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from benchmarks.deriveproc import ProcessWriter
from gapwatch.recorder import importer
from gapwatch.recorder.exporter import observation_of
from gapwatch.recorder.importer import import_files
from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.projector import Projector
from gapwatch.recorder.tables import events
from gapwatch.recorder.writer import EventWriter, WriteResult
from gapwatch.replay.facts import derive_all, write_facts
from tests.store.slowderive import slow_facts
from tests.store.test_fact_paths import BATCH, _mix, _preset, expected, stored_facts


def _max_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT max(id) FROM events")).scalar_one())


@pytest.mark.parametrize("source", ["realistic-mix", "aws-nlb"])
def test_written_with_the_derive_process_the_facts_are_there_on_return(
    engine: Engine, source: str
) -> None:
    obs = _mix() if source == "realistic-mix" else _preset(source)
    writer = ProcessWriter(engine, derive=write_facts)
    result = writer.write_all(obs, batch_size=BATCH)
    assert (result.inserted, result.underived) == (len(obs), 0)
    assert stored_facts(engine) == expected(obs)
    assert Projector(engine, write_facts).position() == _max_id(engine)


def test_imported_with_the_derive_process_the_facts_are_there_on_return(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    obs = _mix()
    path = tmp_path / "obs.ndjson"
    path.write_text("".join(dumps(o) + "\n" for o in obs))
    monkeypatch.setattr(importer, "EventWriter", ProcessWriter)  # as ingest.py measures it
    report = import_files(engine, [str(path)], derive=write_facts, batch_size=BATCH)
    assert report.error_count == 0 and report.written.inserted == len(obs)
    assert stored_facts(engine) == expected(obs)
    assert Projector(engine, write_facts).position() == _max_id(engine)


def test_a_write_that_meets_stored_rows_derives_each_new_one_once(engine: Engine) -> None:
    """Half the observations stored first: the writer's batches meet stored rows and take the
    staging path (recorder/writer.py), whose rows the child is not handed; the thread derives
    those beside the child, each new event once."""
    obs = _mix()
    EventWriter(engine, derive=write_facts).write_all(obs[::2], batch_size=BATCH)
    result = ProcessWriter(engine, derive=write_facts).write_all(obs, batch_size=BATCH)
    assert (result.inserted, result.underived) == (len(obs) - len(obs[::2]), 0)
    assert stored_facts(engine) == _derived_from_the_log(engine)
    assert Projector(engine, write_facts).position() == _max_id(engine)


def _derived_from_the_log(engine: Engine) -> list[tuple[Any, ...]]:
    """What derive gives for every stored event, read back as a catch-up reads it."""
    with engine.connect() as conn:
        rows = conn.execute(select(events).order_by(events.c.id))
        return [tuple(f) for f in derive_all((int(r.id), observation_of(r)) for r in rows)]


@pytest.mark.postgres
@pytest.mark.parametrize("kill_after", [3, 7], ids=["third-batch", "last-batch"])
def test_a_child_killed_inside_a_batch_loses_nothing_and_derives_nothing_twice(
    pg_url: str, kill_after: int
) -> None:
    """The child pauses inside each batch's transaction (tests/store/slowderive.py); it is
    killed while one is open, after the writer's third batch (the next batches find it gone)
    or after its last (only `finish` finds it gone). The writer derives the rest in this
    process: every fact once, the position at the last event."""
    from gapwatch.recorder.store import make_engine

    engine = make_engine(pg_url)
    obs = _mix()
    writer = ProcessWriter(engine, derive=slow_facts)  # the child imports it from tests.store
    batches: list[WriteResult] = []
    killed: list[tuple[int, int]] = []  # (position, last event id) when the child was killed

    def kill(result: WriteResult) -> None:
        batches.append(result)
        if len(batches) == kill_after:
            assert writer._child is not None, "no derive process"
            os.kill(writer._child.pid, signal.SIGKILL)
            killed.append((Projector(engine, write_facts).position(), _max_id(engine)))

    try:
        result = writer.write_all(obs, batch_size=BATCH, on_batch=kill)
        assert len(batches) == 7  # 600 observations in batches of 97
        position, last = killed[0]
        assert position < last, "the child had derived everything before it was killed"
        assert (result.inserted, result.underived) == (len(obs), 0)
        assert stored_facts(engine) == expected(obs)
        assert Projector(engine, write_facts).position() == _max_id(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_parent_gone_leaves_the_child_ending_and_the_next_catch_up_derives_the_rest(
    pg_url: str,
) -> None:
    """The parent's ends of the pipes closed without a word (what its death does) while the
    child pauses inside a batch: the child commits what it holds, reads the end and exits; the
    next catch-up (the recorder's follower, a read command) derives the rest, nothing twice."""
    from gapwatch.recorder.store import make_engine

    engine = make_engine(pg_url)
    obs = _mix()
    writer = ProcessWriter(engine, derive=slow_facts, overlap=True)
    try:
        for start in range(0, 4 * BATCH, BATCH):
            writer.write(obs[start : start + BATCH])
        child = writer._child
        assert child is not None, "no derive process"
        child._send.close()
        child._recv.close()
        assert child._process.wait(30) == 0, "the child did not end on its own"
        assert Projector(engine, write_facts).position() < _max_id(engine)
        Projector(engine, write_facts).catch_up()
        assert stored_facts(engine) == expected(obs[: 4 * BATCH])
        assert Projector(engine, write_facts).position() == _max_id(engine)
    finally:
        writer._child = None  # gone: nothing to end
        engine.dispose()
