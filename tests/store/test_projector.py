"""The facts projector (recorder/projector.py) on both backends: it follows `events` by id from
its stored position, derives each event once however often it runs, survives a derive that
raises, stops without moving on a store error, and is woken by the writer's NOTIFY (PostgreSQL)
or polls (SQLite). Real databases; the observations are the published samples of tests/fixtures.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.follow import follow
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.projector import Projector
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import events, projector_failures
from gapwatch.recorder.writer import EventWriter, no_derive
from gapwatch.replay.catchup import behind, catch_up
from gapwatch.replay.facts import derive_all, write_facts
from tests.store.parallel import write_in_parallel
from tests.store.samples import real_observations
from tests.store.test_writer import shifted

Rows = list[tuple[int, Observation]]


def fact_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(text("SELECT event_id FROM facts ORDER BY event_id, seq")).scalars()
        )


def expected_fact_ids(engine: Engine) -> list[int]:
    """What derive gives for every stored event, computed from the log itself."""
    from gapwatch.recorder.exporter import iter_events

    return [f.event_id for f in derive_all(iter_events(engine))]


def test_catch_up_derives_each_event_once_however_often_it_runs(engine: Engine) -> None:
    obs = real_observations()
    raw = EventWriter(engine, derive=no_derive)  # a tool that writes the log only
    raw.write(obs)
    raw.write(shifted(obs, 60))
    assert fact_ids(engine) == []
    first = catch_up(engine)
    assert first.projected == 2 * len(obs) and first.failed == 0
    assert fact_ids(engine) == expected_fact_ids(engine) != []
    # again, and through a second projector of the same name, and with rows handed in: nothing
    assert catch_up(engine).projected == 0
    again = Projector(engine, write_facts, step=3)
    assert again.catch_up().projected == 0
    with engine.connect() as conn:
        rows = [(int(r.id), obs[0]) for r in conn.execute(select(events.c.id).limit(5))]
    assert again.apply(rows).projected == 0
    assert fact_ids(engine) == expected_fact_ids(engine)
    assert behind(engine)[0] == behind(engine)[1]


def test_writer_projects_inline_and_the_log_fills_any_gap_first(engine: Engine) -> None:
    obs = real_observations()
    EventWriter(engine, derive=no_derive).write(obs)  # behind: nobody derived these
    EventWriter(engine, derive=write_facts).write(shifted(obs, 30))
    # the projected writer found the earlier events unprojected and derived them first, in order
    assert fact_ids(engine) == expected_fact_ids(engine)


def test_a_store_error_propagates_and_the_position_stays(engine: Engine) -> None:
    obs = real_observations()
    EventWriter(engine, derive=no_derive).write(obs)

    def store_down(conn: Connection, rows: Rows) -> None:
        raise StoreError("store went away")

    projector = Projector(engine, store_down)
    with pytest.raises(StoreError):
        projector.catch_up()
    assert projector.position() == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(projector_failures)).scalar() == 0
    # a writer whose projection fails on the store keeps its events and reports nothing lost
    result = EventWriter(engine, derive=store_down).write(shifted(obs, 5))
    assert result.inserted == len(obs)
    assert catch_up(engine).projected == 2 * len(obs)
    assert fact_ids(engine) == expected_fact_ids(engine)


def test_ids_commit_in_order_so_a_follower_derives_each_once(pg_url: str) -> None:
    """Two writers (log only) interleave while a projector follows them; the writer's table lock
    makes ids visible in commit order, so the follower, which never looks back below its
    position, derives every event exactly once and in id order."""
    engine = make_engine(pg_url)
    obs = real_observations()
    seen: list[int] = []

    def record(conn: Connection, rows: Rows) -> None:
        seen.extend(i for i, _ in rows)
        write_facts(conn, rows)

    projector = Projector(engine, record, step=7)
    batches = [[shifted(obs, k * 1000 + i) for i in range(15)] for k in range(2)]
    write_in_parallel(engine, no_derive, batches, meanwhile=projector.catch_up)
    projector.catch_up()
    with engine.connect() as conn:
        ids = list(conn.execute(select(events.c.id).order_by(events.c.id)).scalars())
    assert seen == ids and len(ids) == 30 * len(obs)
    assert fact_ids(engine) == expected_fact_ids(engine)
    engine.dispose()


def test_writers_projecting_inline_in_parallel_derive_each_event_once(pg_url: str) -> None:
    engine = make_engine(pg_url)
    obs = real_observations()
    batches = [[shifted(obs, k * 1000 + i) for i in range(10)] for k in range(3)]
    write_in_parallel(engine, write_facts, batches)
    derived = fact_ids(engine)
    assert derived == expected_fact_ids(engine)
    with engine.connect() as conn:
        pairs = conn.execute(text("SELECT event_id, seq FROM facts")).all()
    assert max(Counter(pairs).values()) == 1
    engine.dispose()


def _follow_until_derived(engine: Engine, poll_s: float, write: EventWriter) -> int:
    """Run `follow`, write one batch through a log-only writer once it listens, wait (up to a
    minute) for the facts; return the position reached BEFORE `follow` is told to stop (its
    last catch-up at stop must not be what derived them)."""
    obs = real_observations()

    async def scenario() -> int:
        stop, started = asyncio.Event(), asyncio.Event()
        projector = Projector(engine, write_facts)
        task = asyncio.create_task(follow(projector, stop, poll_s=poll_s, started=started))
        await asyncio.wait_for(started.wait(), 60)
        await asyncio.to_thread(write.write, obs)
        position = 0
        for _ in range(600):
            position, last = await asyncio.to_thread(behind, engine)
            if position == last:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, 60)
        return position

    return asyncio.run(scenario())


def test_follow_is_woken_by_the_writers_notify(pg_url: str) -> None:
    """Polling is set to an hour: only the NOTIFY each writer batch sends can wake it in time."""
    engine = make_engine(pg_url)
    last = _follow_until_derived(engine, 3600.0, EventWriter(engine, derive=no_derive))
    assert last == len(real_observations())
    assert fact_ids(engine) == expected_fact_ids(engine)
    engine.dispose()


def test_follow_polls_on_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the polling path: PostgreSQL is woken by NOTIFY")
    last = _follow_until_derived(engine, 0.05, EventWriter(engine, derive=no_derive))
    assert last == len(real_observations())
    assert fact_ids(engine) == expected_fact_ids(engine)


def test_the_recorders_role_may_run_the_projector(pg_url: str) -> None:
    """As gapwatch_writer (what the recorder's login is a member of, migration 0005/0006): write,
    project inline, step over a failing event, catch up. Proves the grants, sequence included."""
    from sqlalchemy import event

    engine = make_engine(pg_url)

    @event.listens_for(engine, "connect")
    def as_writer(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET ROLE gapwatch_writer")
        dbapi_conn.commit()

    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar() == "gapwatch_writer"

    def fails_on_nodes(conn: Connection, rows: Rows) -> None:
        if any(obs.kind == "Node" for _, obs in rows):
            raise ValueError("no Node facts today")
        write_facts(conn, rows)

    obs = real_observations()
    EventWriter(engine, derive=fails_on_nodes).write(obs)
    EventWriter(engine, derive=no_derive).write(shifted(obs, 60))
    assert catch_up(engine).projected == len(obs)
    with engine.connect() as conn:
        failed = conn.execute(select(func.count()).select_from(projector_failures)).scalar()
    assert failed == sum(o.kind == "Node" for o in obs) > 0
    engine.dispose()
