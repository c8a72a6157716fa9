"""deploy/sql/roles.sql on a real PostgreSQL: the migration login migrates, the recorder's login
records (events, facts, checkpoints, quarantine) but cannot change the schema or delete, and the
console's login passes the SQL guard. Login names get a unique suffix (roles are server-wide)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from gapwatch.dashboard.sqlconsole import run_query
from gapwatch.recorder.errors import MaintenanceNotPermitted, StoreError
from gapwatch.recorder.maintain import maintain, run_periodically
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.writer import Checkpoint, EventWriter
from gapwatch.replay.facts import write_facts

pytestmark = pytest.mark.postgres
ROLES_SQL = Path(__file__).resolve().parents[2] / "deploy" / "sql" / "roles.sql"
LOGINS = ("gapwatch_migrator", "gapwatch_recorder", "gapwatch_console")


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(False)


@pytest.fixture
def logins(pg_empty_url: str) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    names = {login: f"{login}_{suffix}" for login in LOGINS}
    script = ROLES_SQL.read_text()
    for login, name in names.items():
        script = script.replace(login, name)
    with psycopg.connect(_dsn(pg_empty_url), autocommit=True) as conn:
        conn.execute(script)
    try:
        yield {login: make_url(pg_empty_url).set(username=name).render_as_string(False)
               for login, name in names.items()}  # fmt: skip
    finally:
        database = make_url(pg_empty_url).database or ""
        with psycopg.connect(_dsn(pg_empty_url, database="postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            for name in names.values():
                conn.execute(f"DROP ROLE IF EXISTS {name}")


def _obs(i: int, name: str = "svc") -> Observation:
    return Observation(
        observed_at=datetime(2026, 11, 25, tzinfo=UTC) + timedelta(seconds=i),
        cluster="c1", source="k8s-watch", kind="Service", op="ADDED", namespace="default",
        name=name, resource_version=str(i),
        payload={"metadata": {"name": name}, "spec": {"type": "LoadBalancer"}},
    )  # fmt: skip


def test_each_login_can_do_its_job_and_no_more(logins: dict[str, str]) -> None:
    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator)
    migrator.dispose()
    recorder = make_engine(logins["gapwatch_recorder"])
    writer = EventWriter(recorder, derive=write_facts)
    batch = [_obs(1), _obs(2, name="x" * 3000), _obs(3, name="other")]
    result = writer.write(batch, [Checkpoint("c1", "k8s-watch", "Service", "3")])
    assert (result.inserted, result.quarantined) == (2, 1)
    writer.write([], [Checkpoint("c1", "k8s-watch", "Service", "4")])  # an upsert: UPDATE
    for forbidden in ("CREATE TABLE evil (x int)", "DELETE FROM events", "DROP TABLE events",
                      "TRUNCATE events", "ALTER TABLE events ADD COLUMN x int"):  # fmt: skip
        with pytest.raises(StoreError), recorder.begin() as conn:
            try:
                conn.execute(text(forbidden))
            except Exception as exc:
                raise StoreError(str(exc)) from exc
    recorder.dispose()
    counted = run_query(logins["gapwatch_console"], "SELECT count(*) AS n FROM facts")
    assert counted.rows[0][0] > 0


def _maintenance_warnings(
    engine: Engine, clock: list[datetime], days_ahead: list[int | None] | None = None
) -> list[str]:
    """The warnings of the recorder's maintenance loop over one run per reading of `clock`
    (and into `days_ahead`, what its gauge heard)."""
    readings = list(clock)
    stop = asyncio.Event()

    def now() -> datetime:
        if len(readings) == 1:
            stop.set()  # this run is the last
        return readings.pop(0)

    async def main() -> None:
        await run_periodically(
            engine,
            retention=None,
            ahead_days=7,
            clock=now,
            stop=stop,
            every_s=0.001,
            days_ahead=None if days_ahead is None else days_ahead.append,
        )

    with capture_logs() as logs:
        asyncio.run(asyncio.wait_for(main(), 60))
    return [e["event"] for e in logs if e["log_level"] == "warning"]


def test_the_recorders_login_is_told_it_may_not_maintain_the_store(
    logins: dict[str, str],
) -> None:
    """deploy/: the recorder's login writes but does not own `events`, so it cannot create the
    day partitions. It is told so once, by name (not 'permission denied for table
    events_default' every hour from its first minute), and warned again each run once the days
    created ahead are down to tomorrow; the migration login maintains the store."""
    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator)  # today and 7 days ahead
    recorder = make_engine(logins["gapwatch_recorder"])
    today = datetime.now(UTC)
    last = today.date() + timedelta(days=7)
    with pytest.raises(MaintenanceNotPermitted) as caught:
        maintain(recorder, now=today)
    owner = make_url(logins["gapwatch_migrator"]).username
    message = str(caught.value)
    assert f"only its owner, {owner}, may" in message
    assert "gapwatch db maintain" in message and "CronJob gapwatch-maintain" in message
    assert f"end on {last:%Y-%m-%d}" in message
    assert caught.value.last_day == last
    heard: list[int | None] = []
    assert _maintenance_warnings(recorder, [today] * 3, heard) == ["maintenance not permitted"]
    day_before_last = today + timedelta(days=6)
    warned = _maintenance_warnings(recorder, [day_before_last] * 3, heard)
    assert warned == ["maintenance not permitted"] * 3
    assert heard == [7, 7, 7, 1, 1, 1]  # the gauge an alert watches, every run
    assert maintain(migrator, now=day_before_last).created  # the owner may
    recorder.dispose()
    migrator.dispose()
