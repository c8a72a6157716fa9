"""Migrations 0002 and 0004 on both backends: models and migrations agree, down and up again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect, text

from gapwatch.recorder.store import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from gapwatch.replay import projections
from gapwatch.replay.facts import write_facts

REPLAY_TABLES = {"facts", "replay_windows", "replay_rollouts", "replay_lags", "replay_state"}
VIEWS = {"v_lane_samples", "v_windows", "v_rollouts", "v_lags"}


def test_check_is_clean_and_0002_goes_down_and_up(engine: Engine) -> None:
    with engine.begin() as conn:
        command.check(alembic_config(conn))  # raises when models and migrations disagree
    assert set(inspect(engine).get_view_names()) >= VIEWS
    downgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    assert not REPLAY_TABLES & set(inspect(engine).get_table_names())
    assert not VIEWS & set(inspect(engine).get_view_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= REPLAY_TABLES | {"replay_segments"}


def test_0004_makes_the_next_refresh_fill_the_segments(engine: Engine) -> None:
    """A store replayed before 0004 has no segments: the migration rewinds the projections."""
    from gapwatch.recorder.sim import load_scenario, run
    from gapwatch.recorder.writer import EventWriter

    EventWriter(engine, derive=write_facts).write_all(
        run(load_scenario("seed-3node"), seed=2).observations
    )
    projections.refresh(engine)
    downgrade(engine, "0002")
    assert "replay_segments" not in inspect(engine).get_table_names()
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM replay_segments")).scalar_one() == 0
    assert projections.refresh(engine) > 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM replay_segments")).scalar_one() > 0
