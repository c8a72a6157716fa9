"""Migration 0007 on a real PostgreSQL with rows in it: a populated `events` becomes day
partitions with every row, id and fact kept; the writer and dedupe carry on; down and up again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, insert, text

from gapwatch.recorder.store import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)
from gapwatch.recorder.tables import EVENT_COLUMNS, events
from gapwatch.recorder.writer import EventWriter, event_row
from gapwatch.replay.facts import write_facts
from tests.store.samples import real_observations

pytestmark = pytest.mark.postgres

BEFORE = "0005"
DAY1 = datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC)
DAY2 = datetime(2026, 11, 29, 0, 0, 1, tzinfo=UTC)


def rows(engine: Engine, query: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query))]


def populated(url: str) -> Engine:
    """A store at 0005 with two days of rows and their facts, written as the 0005 writer did
    (plain INSERTs of the same rows: today's writer needs 0007's `event_keys`)."""
    engine = make_engine(url)
    upgrade(engine, BEFORE)
    day1 = [replace(o, observed_at=DAY1 - timedelta(seconds=i))
            for i, o in enumerate(real_observations())]  # fmt: skip
    day2 = [replace(o, observed_at=DAY2 + timedelta(seconds=i),
                    resource_version=o.resource_version and o.resource_version + "1")
            for i, o in enumerate(real_observations())]  # fmt: skip
    with engine.begin() as conn:
        for obs in [*day1, *day2]:
            values = dict(zip(EVENT_COLUMNS, event_row(obs), strict=True))
            (event_id,) = conn.execute(insert(events).values(values).returning(events.c.id)).one()
            write_facts(conn, [(event_id, obs)])
    return engine


ALL_EVENTS = "SELECT * FROM events ORDER BY id"
ALL_FACTS = "SELECT * FROM facts ORDER BY event_id, seq"


def test_0007_partitions_a_populated_store_and_keeps_every_row(pg_empty_url: str) -> None:
    engine = populated(pg_empty_url)
    events, facts = rows(engine, ALL_EVENTS), rows(engine, ALL_FACTS)
    assert len(events) == 2 * len(real_observations()) and facts

    upgrade(engine)
    assert current_revision(engine) == head_revision()  # 0007_partitions or a later one
    assert rows(engine, ALL_EVENTS) == events
    assert rows(engine, ALL_FACTS) == facts
    where = rows(engine, "SELECT DISTINCT tableoid::regclass::text FROM events ORDER BY 1")
    assert where == [("events_p20261128",), ("events_p20261129",)]
    objects = [e for e in events if e[10] is not None]
    keys = rows(engine, "SELECT cluster, dedupe_key FROM event_keys ORDER BY 1, 2")
    assert keys == sorted((e[1], e[12]) for e in objects)
    with engine.begin() as conn:
        command.check(alembic_config(conn))  # models and migrations agree

    # the writer goes on: new ids above the old, the old object changes still deduplicated
    writer = EventWriter(engine, derive=write_facts)
    seen_again = [replace(o, observed_at=DAY2 + timedelta(hours=2, milliseconds=i))
                  for i, o in enumerate(real_observations())]  # fmt: skip
    result = writer.write(seen_again)
    assert result.inserted == len([o for o in seen_again if o.resource_version is None])
    new = {r[0] for r in rows(engine, "SELECT id FROM events")} - {e[0] for e in events}
    assert len(new) == result.inserted and min(new) > events[-1][0]


def test_0007_goes_down_and_up_with_rows(pg_empty_url: str) -> None:
    engine = populated(pg_empty_url)
    upgrade(engine)
    events = rows(engine, ALL_EVENTS)
    downgrade(engine, BEFORE)
    assert rows(engine, ALL_EVENTS) == events
    unique = rows(
        engine,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'events'::regclass AND contype IN ('u', 'p') ORDER BY 1",
    )
    assert unique == [("PRIMARY KEY (id)",), ("UNIQUE (cluster, dedupe_key)",)]
    assert rows(engine, "SELECT to_regclass('event_keys')") == [(None,)]
    upgrade(engine)
    assert rows(engine, ALL_EVENTS) == events
    with engine.begin() as conn:
        command.check(alembic_config(conn))


def test_the_writer_role_can_write_the_partitioned_table(pg_url: str) -> None:
    """0005's grants are renewed on the new tables: gapwatch_writer writes and dedupes."""
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        if conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = 'gapwatch_writer'")) \
                .scalar_one() == 0:  # fmt: skip
            pytest.skip("the server has no gapwatch_writer role (created by 0005 when allowed)")
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL ROLE gapwatch_writer"))
        conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
        conn.execute(
            text(
                "INSERT INTO events (cluster, observed_at, source, kind, op, name, "
                "resource_version, dedupe_key, payload) VALUES ('c', now(), 'k8s-watch', "
                "'Node', 'ADDED', 'n', '1', 'k', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO event_keys (cluster, dedupe_key, observed_at) VALUES ('c', 'k', now())"
            )
        )
        assert conn.execute(text("SELECT count(*) FROM event_keys")).scalar_one() == 1
