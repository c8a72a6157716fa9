"""Compare-and-set on a target's checkpoint (recorder/writer.py, `Guard`), on SQLite and a real
PostgreSQL: two writers (two replicas) store a change made from the same base; the second, whose
base is stale, is dropped, counted and reported, and nothing else is lost."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Connection, Engine, func, select

from gapwatch.recorder.metrics import RecorderMetrics
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.base import Emitted
from gapwatch.recorder.spool import Spool
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.tables import events
from gapwatch.recorder.writer import Checkpoint, EventWriter, Guard, Guarded, load_checkpoints
from gapwatch.replay.facts import write_facts

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = "last:n1"


def look(seconds: float, state: str, replica: str, why: str = "change") -> Observation:
    """A look by one replica (its own dedupe key: the observer is part of the payload)."""
    return Observation(
        observed_at=T0 + timedelta(seconds=seconds),
        cluster="c",
        source="kube-proxy-probe",
        kind="ProxyHealth",
        op="OBSERVED",
        payload={"status": state, "look": why, "replica": replica},
        node="n1",
    )


def checkpoint(obs: Observation) -> Checkpoint:
    value: dict[str, Any] = {"at": obs.observed_at.isoformat(), "status": obs.payload["status"]}
    return Checkpoint(obs.cluster, obs.source, KEY, value, at=obs.observed_at)


def rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        found = conn.execute(select(events.c.payload).order_by(events.c.id)).scalars()
        return [(p["status"], p["replica"]) for p in found]


def test_a_change_from_a_stale_base_is_dropped_and_reported(engine: Engine) -> None:
    a, b = EventWriter(engine, derive=write_facts), EventWriter(engine, derive=write_facts)
    first = look(0, "200", "a", "first")
    assert a.write([], (), [Guarded(first, checkpoint(first), Guard(base=None))]).inserted == 1
    base = checkpoint(first).value
    dropped: list[str] = []
    seen_a, seen_b = look(10, "503", "a"), look(10.2, "503", "b")
    stored_a = a.write([], (), [Guarded(seen_a, checkpoint(seen_a), Guard(base))])
    stored_b = b.write(
        [],
        (),
        [
            Guarded(
                seen_b, checkpoint(seen_b), Guard(base, on_superseded=lambda: dropped.append("b"))
            )
        ],
    )
    assert (stored_a.inserted, stored_a.superseded) == (1, 0)
    assert (stored_b.inserted, stored_b.superseded, stored_b.duplicates) == (0, 1, 0)
    assert dropped == ["b"]
    assert rows(engine) == [("200", "a"), ("503", "a")]
    assert load_checkpoints(engine, "c", "kube-proxy-probe")[KEY] == checkpoint(seen_a).value
    # b re-read the stored state: its next change, made from it, is stored
    back = look(20, "200", "b")
    result = b.write([], (), [Guarded(back, checkpoint(back), Guard(checkpoint(seen_a).value))])
    assert result.inserted == 1
    assert rows(engine)[-1] == ("200", "b")


def test_each_checked_item_hears_whether_it_was_stored_after_the_commit(engine: Engine) -> None:
    """`on_stored` for a checked item applied, `on_superseded` for one dropped, neither for an
    unchecked one (the LB poller guards a heartbeat made from a change until it hears)."""
    heard: list[str] = []

    def guard(name: str, base: Any = None, check: bool = True) -> Guard:
        return Guard(
            base,
            check=check,
            on_superseded=lambda: heard.append(f"{name} dropped"),
            on_stored=lambda: heard.append(f"{name} stored"),
        )

    first, other = look(0, "200", "a", "first"), look(0.1, "503", "b", "first")
    beat = look(5, "200", "a", "heartbeat")
    EventWriter(engine, derive=write_facts).write(
        [],
        (),
        [
            Guarded(first, checkpoint(first), guard("first")),
            Guarded(other, checkpoint(other), guard("other")),
            Guarded(beat, checkpoint(beat), guard("beat", checkpoint(first).value)),
            Guarded(beat, checkpoint(beat), guard("unchecked", check=False)),
        ],
    )
    assert heard == ["other dropped", "first stored", "beat stored"]


def test_a_first_look_is_stored_once_whoever_looks_second(engine: Engine) -> None:
    a, b = EventWriter(engine, derive=write_facts), EventWriter(engine, derive=write_facts)
    mine, theirs = look(0, "200", "a", "first"), look(0.3, "200", "b", "first")
    assert a.write([], (), [Guarded(mine, checkpoint(mine), Guard())]).inserted == 1
    assert b.write([], (), [Guarded(theirs, checkpoint(theirs), Guard())]).superseded == 1
    assert rows(engine) == [("200", "a")]


def test_unchecked_heartbeats_and_changes_apply_in_order_in_one_batch(engine: Engine) -> None:
    """A heartbeat's checkpoint (unchecked) then the change made from it, in one batch: the
    change's base is the heartbeat's checkpoint, stored just before it in the same transaction;
    plain observations of the batch are stored beside them."""
    writer = EventWriter(engine, derive=write_facts)
    first, beat, change = (
        look(0, "200", "a", "first"),
        look(60, "200", "a", "heartbeat"),
        look(61, "503", "a"),
    )
    writer.write([], (), [Guarded(first, checkpoint(first), Guard())])
    other = look(61, "other", "x", "first")
    result = writer.write(
        [other],
        (),
        [
            Guarded(beat, checkpoint(beat), Guard(check=False)),
            Guarded(change, checkpoint(change), Guard(checkpoint(beat).value)),
        ],
    )
    assert (result.offered, result.inserted, result.superseded) == (3, 3, 0)
    assert sorted(rows(engine)) == sorted(
        [("200", "a"), ("other", "x"), ("200", "a"), ("503", "a")]
    )
    assert load_checkpoints(engine, "c", "kube-proxy-probe")[KEY] == checkpoint(change).value


def test_the_spool_counts_each_superseded_change_by_source(engine: Engine) -> None:
    import asyncio

    metrics = RecorderMetrics(CollectorRegistry())
    first = look(0, "200", "a", "first")
    EventWriter(engine, derive=write_facts).write(
        [], (), [Guarded(first, checkpoint(first), Guard())]
    )
    stale = look(5, "503", "b")

    async def main() -> None:
        spool = Spool(
            writer=EventWriter(engine, derive=write_facts), clock=lambda: T0, metrics=metrics
        )
        task = asyncio.create_task(spool.run())
        await spool.put(Emitted(stale, checkpoint(stale), Guard({"stale": True})))
        await spool.flush()
        await spool.close()
        await task

    asyncio.run(main())
    value = metrics.registry.get_sample_value(
        "gapwatch_recorder_changes_superseded_total", {"source": "kube-proxy-probe"}
    )
    assert value == 1.0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 1


def test_sqlite_takes_the_write_lock_before_reading_the_last_id(tmp_path: Path) -> None:
    """pysqlite begins a transaction only at the first INSERT: the highest id read before a
    batch (and a guard's compare) used to be read with no lock held, so another writer's rows
    committed in between were taken for this batch's. Now another writer is refused at once
    (busy_timeout 0) while the batch reads, and the batch is stored as it was given."""
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    engine = make_engine(url)
    upgrade(engine)
    refused: list[str] = []

    class Probing(EventWriter):
        @staticmethod
        def _max_id(conn: Connection) -> int:
            other = sqlite3.connect(tmp_path / "lock.db", timeout=0)
            try:
                other.execute("UPDATE source_checkpoints SET value = value")
                other.commit()
            except sqlite3.OperationalError as exc:
                refused.append(str(exc))
            finally:
                other.close()
            return EventWriter._max_id(conn)

    first = look(0, "200", "a", "first")
    assert Probing(engine, derive=write_facts).write([first]).inserted == 1
    assert refused == ["database is locked"]
    assert rows(engine) == [("200", "a")]
    engine.dispose()
