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
