"""Alembic migrations on both backends: upgrade from empty, models agree, down and up again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from gapwatch.recorder.store import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)


def test_upgrade_check_downgrade_upgrade(empty_store_url: str) -> None:
    engine = make_engine(empty_store_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert {"events", "source_checkpoints"} <= set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        command.check(alembic_config(conn))  # raises if models and migrations disagree
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert "events" not in inspect(engine).get_table_names()
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert current_revision(engine) == head_revision()


def test_0006_starts_the_facts_projector_after_the_events_already_stored(
    empty_store_url: str,
) -> None:
    """Before 0006 the writer derived facts with the events: a store upgraded to it must not
    derive them a second time, and a later event is derived once."""
    from sqlalchemy import insert, select, text

    from gapwatch.recorder.tables import EVENT_COLUMNS, events, projector_positions
    from gapwatch.recorder.writer import EventWriter, event_row
    from gapwatch.replay.catchup import catch_up
    from gapwatch.replay.facts import write_facts
    from tests.store.samples import real_observations
    from tests.store.test_writer import shifted

    engine = make_engine(empty_store_url)
    upgrade(engine, "0005")
    obs = real_observations()
    with engine.begin() as conn:  # as the 0005 writer stored them (today's needs event_keys)
        for o in obs:
            conn.execute(insert(events).values(dict(zip(EVENT_COLUMNS, event_row(o), strict=True))))
    upgrade(engine)
    with engine.connect() as conn:
        last = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
        position = conn.execute(select(projector_positions.c.position)).scalar_one()
    assert position == last == len(obs)
    assert catch_up(engine).projected == 0
    EventWriter(engine, derive=write_facts).write(shifted(obs, 9))
    with engine.connect() as conn:
        derived = conn.execute(text("SELECT DISTINCT event_id FROM facts")).scalars().all()
    assert derived and min(derived) > last
    engine.dispose()
