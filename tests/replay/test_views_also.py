"""0009_views_also: v_windows shows a window's undecided classes on both backends, the reader
role (0005) can read them, and the downgrade restores 0002's columns."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text

from gapwatch.recorder.store import downgrade, make_engine, upgrade
from gapwatch.replay.model import class_text
from gapwatch.replay.projection_rows import window_row
from gapwatch.replay.tables import replay_windows
from tests.dashboard.builders import win

UNDECIDED = win("n1", "closed-before-deregistered", 0, 5.8, also=("registered-before-forwarding",))
DECIDED = win("n2", "node-not-ready", 10, 12)
QUERY = "SELECT node, class, also, class_text FROM v_windows ORDER BY node"


def _store(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(replay_windows.insert(), [window_row(UNDECIDED), window_row(DECIDED)])


def test_the_view_names_the_alternatives_in_the_shared_wording(engine: Engine) -> None:
    _store(engine)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(QUERY))]
    assert rows == [
        (
            "n1",
            "closed-before-deregistered",
            "registered-before-forwarding",
            "closed-before-deregistered (or registered-before-forwarding: undecided)",
        ),
        ("n2", "node-not-ready", "", "node-not-ready"),
    ]
    # the SQL wording is the one the dashboard, reports and CLI print
    assert rows[0][3] == UNDECIDED.class_text == class_text(UNDECIDED.cls, UNDECIDED.also)


def test_the_downgrade_restores_the_0002_columns_and_upgrade_adds_them(engine: Engine) -> None:
    _store(engine)
    column_names = {c["name"] for c in inspect(engine).get_columns("v_windows")}
    assert {"also", "class_text"} <= column_names
    downgrade(engine, "0008_window_also")
    before = {c["name"] for c in inspect(engine).get_columns("v_windows")}
    assert before == column_names - {"also", "class_text"}
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM v_windows WHERE also <> ''")).scalar() == 1


@pytest.mark.postgres
def test_the_reader_role_can_select_the_new_columns(pg_url: str) -> None:
    """On PostgreSQL under gapwatch_reader, as the SQL console runs (dashboard/sqlguard.py)."""
    engine = make_engine(pg_url)
    _store(engine)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL ROLE gapwatch_reader"))
        rows = conn.execute(text("SELECT class_text FROM v_windows WHERE also <> ''")).all()
    engine.dispose()
    assert [r[0] for r in rows] == [UNDECIDED.class_text]
