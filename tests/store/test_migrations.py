"""Alembic migrations on both backends: upgrade from empty, models agree, down and up again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from gapwatch.recorder.store import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_revision_read_without_alembic_is_alembics(empty_store_url: str) -> None:
    """`require_current` compares the store's `alembic_version` row, read with plain SQL, with
    HEAD_REVISION, both known without importing Alembic: the same answers as Alembic's own
    migration context and script directory, at every revision from empty to head and back."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    assert head_revision() == HEAD_REVISION  # a new migration moves HEAD_REVISION too
    engine = make_engine(empty_store_url)
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions[-1] == HEAD_REVISION

    def alembics() -> str | None:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    assert current_revision(engine) is None and alembics() is None
    for revision in revisions:
        upgrade(engine, revision)
        assert current_revision(engine) == alembics() == revision
    downgrade(engine, "base")
    assert current_revision(engine) is None and alembics() is None
    engine.dispose()


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


#: Upgrade A: held just before its first DDL statement until the file argv[3] exists.
HELD_UPGRADE = """
import sys, time
from pathlib import Path
from sqlalchemy import event
from gapwatch.recorder.store import make_engine, upgrade
url, at, release = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
engine = make_engine(url)

@event.listens_for(engine, "before_cursor_execute")
def hold(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("CREATE") and not at.exists():
        at.touch()
        deadline = time.monotonic() + 60
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)

upgrade(engine)
"""


@pytest.mark.postgres
def test_two_upgrades_at_once_run_one_after_the_other(pg_empty_url: str, tmp_path: Path) -> None:
    """deploy/: both replicas' init containers run `gapwatch db upgrade` on a first install.
    Upgrade A (a process) is held just before its first DDL statement while `gapwatch db upgrade`
    B runs: B must wait for A (advisory lock), then find nothing to do. Without the lock B
    created everything and A failed: `relation "alembic_version" already exists` (or a
    duplicate key in pg_type), and its pod restarted."""
    at, release = tmp_path / "a-at-ddl", tmp_path / "release-a"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    a = subprocess.Popen(
        [sys.executable, "-c", HELD_UPGRADE, pg_empty_url, str(at), str(release)],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60  # hang guards, not timing assertions
    while not at.exists() and a.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert at.exists(), "upgrade A never reached its first DDL statement"
    b = subprocess.Popen(
        [sys.executable, "-m", "gapwatch.dashboard.cli", "db", "upgrade", "--db", pg_empty_url],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    engine = make_engine(pg_empty_url)
    # release A once B waits for a lock, or is done (a fresh transaction per look:
    # pg_stat_activity is a snapshot per transaction)
    while b.poll() is None and time.monotonic() < deadline:
        with engine.connect() as watcher:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting:
            break
        time.sleep(0.02)
    release.touch()
    _, a_err = a.communicate(timeout=120)
    _, b_err = b.communicate(timeout=120)
    assert (a.returncode, b.returncode) == (0, 0), (a_err[-1500:], b_err[-1500:])
    assert current_revision(engine) == head_revision()
    # B says what it found once it held the lock (A's schema), not what it read before waiting
    assert f"schema {head_revision()}, already current" in b_err, b_err[-1500:]
    assert "schema empty" not in b_err
    engine.dispose()


def test_db_upgrade_says_what_it_found_and_did(empty_store_url: str) -> None:
    """`gapwatch db upgrade` on an empty store, then again: the second finds nothing to do."""
    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app

    said = []
    for _ in range(2):
        result = CliRunner().invoke(app, ["db", "upgrade", "--db", empty_store_url])
        assert result.exit_code == 0, result.output
        said.append(result.stderr)
    assert f"schema empty -> {head_revision()}" in said[0]
    assert f"schema {head_revision()}, already current" in said[1]


@pytest.mark.postgres
def test_0010_lets_gapwatch_replayer_write_the_projections_and_nothing_else(
    pg_empty_url: str,
) -> None:
    """The dashboard's login (deploy/sql/roles.sql) refreshes replay's projections as a member of
    gapwatch_replayer: 0010 grants it those tables and their sequences, not the log, the facts or
    the schema, and its downgrade takes them back (tests/k8s/test_db_roles.py runs a refresh)."""
    engine = make_engine(pg_empty_url)
    rights = text(
        "SELECT has_table_privilege('gapwatch_replayer', 'replay_state', 'INSERT, UPDATE, DELETE'),"
        " has_table_privilege('gapwatch_replayer', 'replay_windows', 'INSERT, DELETE'),"
        " has_sequence_privilege('gapwatch_replayer', pg_get_serial_sequence('replay_segments',"
        " 'id'), 'USAGE'),"
        " has_table_privilege('gapwatch_replayer', 'events', 'INSERT, UPDATE, DELETE, TRUNCATE'),"
        " has_table_privilege('gapwatch_replayer', 'facts', 'INSERT, UPDATE, DELETE, TRUNCATE'),"
        " has_table_privilege('gapwatch_replayer', 'replay_state', 'TRUNCATE'),"
        " has_schema_privilege('gapwatch_replayer', current_schema(), 'CREATE')"
    )
    upgrade(engine)
    with engine.connect() as conn:
        assert tuple(conn.execute(rights).one()) == (True, True, True, False, False, False, False)
    downgrade(engine, "0009_views_also")
    with engine.connect() as conn:
        assert not any(conn.execute(rights).one())
    upgrade(engine)
    with engine.connect() as conn:
        assert tuple(conn.execute(rights).one())[:3] == (True, True, True)
    engine.dispose()


def _store_at_0011(url: str) -> tuple[int, int]:
    """A SQLite store made by the previous head with the real samples (facts derived), then a
    retention of every event: (the largest id it used, the facts projector's position)."""
    from datetime import UTC, datetime, timedelta

    from gapwatch.recorder.maintain import maintain
    from gapwatch.recorder.writer import EventWriter
    from gapwatch.replay.facts import write_facts
    from tests.store.samples import real_observations

    engine = make_engine(url)
    upgrade(engine, "0011_projector_revision")
    EventWriter(engine, derive=write_facts).write(real_observations())
    with engine.connect() as conn:
        high = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
        position = conn.execute(text("SELECT position FROM projector_positions")).scalar_one()
    newest = max(o.observed_at for o in real_observations())
    maintain(engine, now=max(newest, datetime.now(UTC)) + timedelta(days=2),
             retention=timedelta(days=1))  # fmt: skip
    engine.dispose()
    return int(high), int(position)


def test_0012_numbers_events_above_every_id_a_retention_emptied_store_used(
    tmp_path: Path,
) -> None:
    """A store of the previous head that a retention emptied: after `upgrade`, the next events
    are numbered above the ids and the position it had, and derived (before 0012: ids from 1
    again, under the position, never derived)."""
    from gapwatch.recorder.writer import EventWriter
    from gapwatch.replay.facts import write_facts
    from tests.store.samples import real_observations
    from tests.store.test_writer import shifted

    url = f"sqlite:///{tmp_path / 'old.db'}"
    high, position = _store_at_0011(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 0
    upgrade(engine)
    obs = shifted(real_observations(), 9)
    assert EventWriter(engine, derive=write_facts).write(obs).inserted == len(obs)
    with engine.connect() as conn:
        ids = sorted(conn.execute(text("SELECT id FROM events")).scalars())
        derived = set(conn.execute(text("SELECT DISTINCT event_id FROM facts")).scalars())
        moved = conn.execute(text("SELECT position FROM projector_positions")).scalar_one()
    assert ids[0] > max(high, position)
    assert moved == ids[-1] and derived and derived <= set(ids)
    engine.dispose()


def test_0012_keeps_every_event_its_id_and_the_views(tmp_path: Path) -> None:
    """0012 rebuilds SQLite's `events`: every row with its id, the indexes by name, the views
    that read it; down and up again keep them too."""
    from gapwatch.recorder.writer import EventWriter
    from gapwatch.replay.facts import write_facts
    from tests.store.samples import real_observations

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0011_projector_revision")
    EventWriter(engine, derive=write_facts).write(real_observations())

    def rows() -> tuple[list[tuple[object, ...]], set[str | None], int]:
        with engine.connect() as conn:
            found = [tuple(r) for r in conn.execute(text("SELECT * FROM events ORDER BY id"))]
            indexes = {i["name"] for i in inspect(conn).get_indexes("events")}
            seen = conn.execute(text("SELECT count(*) FROM v_lane_samples")).scalar_one()
        return found, indexes, int(seen)

    before = rows()
    upgrade(engine)
    assert rows() == before and before[0] and before[2] > 0
    with engine.connect() as conn:
        made = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'events'")).scalar()
    assert "AUTOINCREMENT" in str(made)
    downgrade(engine, "0011_projector_revision")
    assert rows() == before
    upgrade(engine)
    assert rows() == before
    engine.dispose()
