"""Migration 0002 on both backends: models and migrations agree, and it goes down and up again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from recorder.store import alembic_config, current_revision, downgrade, upgrade

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
    assert current_revision(engine) == "0002"
    assert set(inspect(engine).get_table_names()) >= REPLAY_TABLES
