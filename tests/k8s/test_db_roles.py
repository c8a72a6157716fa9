"""deploy/sql/roles.sql on a real PostgreSQL: the migration login migrates, the recorder's login
records (events, facts, checkpoints, quarantine) but cannot change the schema or delete, the
console's login passes the SQL guard, and the dashboard's login refreshes replay's projections
and writes nothing else. Login names get a unique suffix (roles are server-wide)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from sqlalchemy import Engine, Table, text
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from gapwatch.dashboard import data
from gapwatch.dashboard.errors import UnsafeLogin
from gapwatch.dashboard.filters import Filters
from gapwatch.dashboard.sqlconsole import run_query
from gapwatch.recorder import sources
from gapwatch.recorder.cliutil import open_store
from gapwatch.recorder.config import RecorderConfig
from gapwatch.recorder.errors import MaintenanceNotPermitted, StoreError
from gapwatch.recorder.maintain import maintain, run_periodically
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.run import Recorder
from gapwatch.recorder.store import downgrade, make_engine, upgrade
from gapwatch.recorder.writer import Checkpoint, EventWriter, no_derive
from gapwatch.replay import revision
from gapwatch.replay import tables as replay_tables
from gapwatch.replay.catchup import behind, catch_up
from gapwatch.replay.facts import write_facts
from tests.dashboard.test_reader import _read_like_the_app as read_like_the_app
from tests.dashboard.test_reader import _write as write_scenario
from tests.k8s.kustomize import kustomize

pytestmark = pytest.mark.postgres
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ROLES_SQL = DEPLOY / "sql" / "roles.sql"
#: replay's projection tables: what migration 0010's gapwatch_replayer may write
PROJECTIONS = sorted(
    t.name
    for t in vars(replay_tables).values()
    if isinstance(t, Table) and t.name.startswith("replay_")
)
LOGINS = ("gapwatch_migrator", "gapwatch_recorder", "gapwatch_console", "gapwatch_dashboard")


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


def _refused(engine: Engine, statement: str) -> str:
    """The error `statement` gets as `engine`'s login (it must get one)."""
    with pytest.raises(StoreError) as caught, engine.begin() as conn:
        try:
            conn.execute(text(statement))
        except Exception as exc:
            raise StoreError(str(exc)) from exc
    return str(caught.value)


def test_the_dashboards_login_refreshes_the_projections_and_writes_nothing_else(
    logins: dict[str, str],
) -> None:
    """deploy/components/dashboard runs the pages as gapwatch_dashboard (gapwatch_reader and
    migration 0010's gapwatch_replayer): a page's refresh of replay's projections behind the
    facts writes them (LOCK replay_state IN EXCLUSIVE MODE, DELETE, INSERT, COPY), which the
    console's read-only login may not; the dashboard's may, and may not write the log, the
    facts or the schema."""
    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator)
    migrator.dispose()
    recorder = make_engine(logins["gapwatch_recorder"])
    write_scenario(recorder, 1)  # a simulated rollout's log: windows, rollouts, lags, segments
    recorder.dispose()
    # the console's login reads, and may not refresh (a page as it fails)
    console = open_store(logins["gapwatch_console"])
    assert data.store_info(console).events > 0
    with pytest.raises(StoreError, match="permission denied for table replay_state"):
        data.windows(console, Filters())
    console.dispose()
    # what `gapwatch dashboard` does at start (the schema check) and on each page (catch up,
    # refresh, read), as the dashboard's login
    dashboard = open_store(logins["gapwatch_dashboard"])
    assert catch_up(dashboard).position > 0
    assert read_like_the_app(dashboard) > 0
    with dashboard.connect() as conn:
        written = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in PROJECTIONS
        }
        position = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
        refreshed = conn.execute(
            text("SELECT value FROM replay_state WHERE key = 'last_event_id'")
        ).scalar_one()
    assert all(written.values()), written  # every projection table written (ids: sequences)
    assert int(refreshed) == position  # the projections are the log's
    # more events, and the refresh changes the rows already there (DELETE, INSERT, COPY)
    recorder = make_engine(logins["gapwatch_recorder"])
    write_scenario(recorder, 2)
    recorder.dispose()
    assert read_like_the_app(dashboard) > 0
    with dashboard.connect() as conn:
        assert conn.execute(text("SELECT max(id) FROM events")).scalar_one() > position
        again = conn.execute(
            text("SELECT value FROM replay_state WHERE key = 'last_event_id'")
        ).scalar_one()
    assert int(again) > position
    # projections another gapwatch build made (its revision, replay.revision): the page's
    # refresh rebuilds them all, as the dashboard's login (LOCK, DELETE of every row, INSERT)
    migrator = make_engine(logins["gapwatch_migrator"])
    with migrator.begin() as conn:
        conn.execute(
            text("UPDATE replay_state SET value = value + 1 WHERE key = :k"), {"k": revision.KEY}
        )
    migrator.dispose()
    assert read_like_the_app(dashboard) > 0
    with dashboard.connect() as conn:
        rebuilt = conn.execute(
            text("SELECT value FROM replay_state WHERE key = :k"), {"k": revision.KEY}
        ).scalar_one()
    assert int(rebuilt) == revision.current()
    # events no projector derived (a raw-log writer): the dashboard may not derive them, says so
    # in its log and answers from the facts there are
    recorder = make_engine(logins["gapwatch_recorder"])
    EventWriter(recorder, derive=no_derive).write([_obs(10_000), _obs(10_001, name="late")])
    recorder.dispose()
    with capture_logs() as logs:
        assert catch_up(dashboard).position < behind(dashboard)[1]
    assert [e["event"] for e in logs] == ["facts behind the log"]
    assert read_like_the_app(dashboard) > 0
    for forbidden, refused in (
        ("INSERT INTO events (id) VALUES (1)", "permission denied for table events"),
        ("DELETE FROM events", "permission denied for table events"),
        ("UPDATE facts SET seq = seq", "permission denied for table facts"),
        ("DELETE FROM facts", "permission denied for table facts"),
        ("INSERT INTO facts SELECT * FROM facts", "permission denied for table facts"),
        ("UPDATE projector_positions SET position = 0", "permission denied for table projector"),
        ("TRUNCATE replay_state", "permission denied for table replay_state"),
        ("DROP TABLE replay_state", "must be owner of table replay_state"),
        ("ALTER TABLE replay_windows ADD COLUMN x int", "must be owner of table replay_windows"),
        ("CREATE TABLE evil (x int)", "permission denied for schema"),
        ("CREATE ROLE evil", "permission denied to create role"),
    ):
        assert refused in _refused(dashboard, forbidden), forbidden
    dashboard.dispose()


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


def test_the_recorders_login_records_which_code_derived_the_facts(
    logins: dict[str, str],
) -> None:
    """Migration 0011's columns of projector_positions are written by the login that derives
    the facts, the recorder's (gapwatch_writer may not write replay_state): on a store whose
    facts another build derived, its next batch marks them, and it derives them again in the
    background (0011 grants it DELETE on facts, nothing more); the dashboard's login reads the
    mark (and may not re-derive) and rebuilds the projections after; the migration login's
    `rebuild --rederive` does it at once."""
    from gapwatch.recorder.coderev import revision_of
    from gapwatch.recorder.projector import Projector
    from gapwatch.replay import api, projections
    from gapwatch.replay.catchup import derived_by

    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator)
    recorder = make_engine(logins["gapwatch_recorder"])
    EventWriter(recorder, derive=write_facts).write([_obs(1), _obs(2, name="b")])
    with migrator.begin() as conn:  # as another build's recorder left it
        conn.execute(text("UPDATE projector_positions SET revision = revision + 1"))
        before = conn.execute(text("SELECT position FROM projector_positions")).scalar_one()
    EventWriter(recorder, derive=write_facts).write([_obs(3, name="c")])
    # why the revision lives beside the position: the recorder's login may not write the
    # projections' state
    assert "permission denied for table replay_state" in _refused(
        recorder, "UPDATE replay_state SET value = 0"
    )
    dashboard = open_store(logins["gapwatch_dashboard"])
    api.refresh(dashboard)  # projections built on the marked facts
    seen = derived_by(dashboard)
    assert seen.other == (0, before) and seen.stored == revision_of(write_facts)
    assert "gapwatch replay --rebuild --rederive" in seen.message()
    assert "permission denied for table facts" in _refused(dashboard, "DELETE FROM facts")
    projector = Projector(recorder, write_facts)
    while projector.rederive_step(step=1)[1]:
        pass
    assert not derived_by(dashboard).mixed
    for forbidden in ("DELETE FROM events", "UPDATE facts SET seq = seq"):  # no more than that
        assert "permission denied" in _refused(recorder, forbidden), forbidden
    recorder.dispose()
    with capture_logs() as logs:
        api.refresh(dashboard)
    assert "facts were derived again: rebuilding the projections" in [e["event"] for e in logs]
    with migrator.begin() as conn:
        conn.execute(text("UPDATE projector_positions SET revision = revision + 1"))
    assert derived_by(dashboard).mixed
    projections.rebuild(migrator, rederive=True)
    assert not derived_by(dashboard).mixed
    dashboard.dispose()
    migrator.dispose()


def test_a_login_that_is_not_the_consoles_is_told_which_role_lets_it_call_set_config(
    logins: dict[str, str],
) -> None:
    """roles.sql revokes set_config from PUBLIC and grants it back to the migrator, the writer
    and the replayer: the SQL console refuses the dashboard pages', the recorder's and the
    migration's logins, by the role that gives it, with the console's login as the advice. The
    advice was the REVOKE from PUBLIC, which roles.sql had done: an operator who ran it got
    the same refusal again."""
    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator)
    migrator.dispose()
    for login, role in (
        ("gapwatch_dashboard", "gapwatch_replayer"),
        ("gapwatch_recorder", "gapwatch_writer"),
        ("gapwatch_migrator", make_url(logins["gapwatch_migrator"]).username),
    ):
        with pytest.raises(UnsafeLogin) as caught:
            run_query(logins[login], "SELECT 1")
        message = str(caught.value)
        assert f"granted to {role}: not a console login" in message, message
        assert "gapwatch_console" in message and "as a superuser" not in message, message
    assert run_query(logins["gapwatch_console"], "SELECT 1 AS one").rows == [(1,)]


def test_roles_sql_run_again_after_an_upgrade_lets_the_console_in(
    logins: dict[str, str], pg_empty_url: str
) -> None:
    """A store set up before roles.sql revoked set_config from PUBLIC (476535c) has PUBLIC's
    EXECUTE: after the upgrade the console's login is refused, told to revoke it and that
    roles.sql does; running roles.sql again in the store's database (it is idempotent, as
    deploy/README.md says) lets the console in."""
    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator)
    migrator.dispose()
    with psycopg.connect(_dsn(pg_empty_url), autocommit=True) as conn:  # as before 476535c
        conn.execute("GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) "
                     "TO PUBLIC")  # fmt: skip
    with pytest.raises(UnsafeLogin) as caught:
        run_query(logins["gapwatch_console"], "SELECT 1")
    assert "FROM PUBLIC (deploy/sql/roles.sql does it; run it again" in str(caught.value)
    script = ROLES_SQL.read_text()
    for login in LOGINS:
        script = script.replace(login, make_url(logins[login]).username or "")
    with psycopg.connect(_dsn(pg_empty_url), autocommit=True) as conn:
        conn.execute(script)
    assert run_query(logins["gapwatch_console"], "SELECT 1 AS one").rows == [(1,)]


def test_a_login_that_may_not_migrate_is_told_which_login_may(logins: dict[str, str]) -> None:
    """A store behind the code, met by the recorder's login (the node agent's DaemonSet has no
    migrate init container) or the dashboard's: the advice was `gapwatch db upgrade` with the
    same URL, which then failed with `must be owner of table projector_positions`; both now
    name the owner of the tables and deploy/'s migration login."""
    from gapwatch.recorder.errors import SchemaOutOfDate
    from gapwatch.recorder.store import require_current

    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator, "0010")
    owner = make_url(logins["gapwatch_migrator"]).username
    for login in ("gapwatch_recorder", "gapwatch_dashboard"):
        engine = make_engine(logins[login])
        name = make_url(logins[login]).username
        advice = f"run `gapwatch db upgrade` as {owner}, the owner of its tables (login {name}"
        with pytest.raises(SchemaOutOfDate) as behind_code:
            require_current(engine)
        assert advice in str(behind_code.value) and "gapwatch-db-migrate" in str(behind_code.value)
        with pytest.raises(StoreError) as refused:
            upgrade(engine)
        assert advice in str(refused.value), str(refused.value)
        engine.dispose()
    with pytest.raises(SchemaOutOfDate, match="with the same --db"):  # the owner may
        require_current(migrator)
    upgrade(migrator)
    recorder = make_engine(logins["gapwatch_recorder"])
    require_current(recorder)  # current now: nothing raised
    recorder.dispose()
    migrator.dispose()


def test_a_login_that_may_not_refresh_the_projections_is_told_which_may(
    logins: dict[str, str],
) -> None:
    """`gapwatch gaps` (or a page) as the console's or the recorder's login once the recorder has
    written: `permission denied for table replay_state` was all it said; it now says that login
    may not refresh replay's projections and which one may."""
    import os
    import subprocess
    import sys

    def gaps(login: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GAPWATCH_DB": logins[login], "COLUMNS": "400"}
        return subprocess.run([sys.executable, "-m", "gapwatch.dashboard.cli", "gaps"], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator)
    migrator.dispose()
    recorder = make_engine(logins["gapwatch_recorder"])
    write_scenario(recorder, 1)
    recorder.dispose()
    for login in ("gapwatch_console", "gapwatch_recorder"):
        done = gaps(login)
        assert done.returncode == 1
        said = " ".join(done.stderr.split())
        assert "permission denied for table replay_state: this login may not refresh replay's " \
            "projections" in said and "use one in gapwatch_replayer (deploy/: " \
            "gapwatch_dashboard" in said, said  # fmt: skip
    done = gaps("gapwatch_dashboard")
    assert done.returncode == 0, done.stderr


def test_each_login_may_advance_only_the_sequences_of_the_tables_it_writes(
    logins: dict[str, str],
) -> None:
    """Migrations 0005 and 0006 granted the recorder's group every sequence of the schema, the
    projections' too: its login could `nextval('replay_windows_id_seq')`, which only a refresh
    (gapwatch_replayer) needs. After 0013 it may not; it still records (an event, a quarantined
    one), the dashboard's login still refreshes, the migrator still migrates down and up."""
    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator)
    recorder = make_engine(logins["gapwatch_recorder"])
    for projection in ("replay_windows", "replay_lags", "replay_segments"):
        refused = _refused(recorder, f"SELECT nextval('{projection}_id_seq')")
        assert f"permission denied for sequence {projection}_id_seq" in refused
    console = make_engine(logins["gapwatch_console"])
    assert "permission denied" in _refused(console, "SELECT nextval('events_id_seq')")
    console.dispose()
    writer = EventWriter(recorder, derive=write_facts)
    result = writer.write([_obs(1), _obs(2, name="x" * 3000)])  # a quarantined one: its id too
    assert (result.inserted, result.quarantined) == (1, 1)
    write_scenario(recorder, 1)
    recorder.dispose()
    dashboard = open_store(logins["gapwatch_dashboard"])
    assert catch_up(dashboard).position > 0
    assert read_like_the_app(dashboard) > 0
    with dashboard.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM replay_windows")).scalar_one() > 0
    dashboard.dispose()
    # the migrator migrates the store down past 0013 and up again
    downgrade(migrator, "0012_sqlite_event_ids")
    upgrade(migrator)
    migrator.dispose()
    recorder = make_engine(logins["gapwatch_recorder"])
    assert "permission denied" in _refused(recorder, "SELECT nextval('replay_lags_id_seq')")
    assert EventWriter(recorder, derive=write_facts).write([_obs(5, name="after")]).inserted == 1
    recorder.dispose()


def _agent_configs() -> dict[str, RecorderConfig]:
    """The record.yaml of the central recorder and of the node agent, as deploy/overlays/node-agent
    renders them (both), by ConfigMap name."""
    configs: dict[str, RecorderConfig] = {}
    for doc in kustomize(DEPLOY / "overlays" / "node-agent"):
        if doc["kind"] == "ConfigMap" and "record.yaml" in doc.get("data", {}):
            loaded = yaml.safe_load(doc["data"]["record.yaml"])
            configs[doc["metadata"]["name"]] = RecorderConfig(maintain=loaded.get("maintain", True))
    return configs


def _maintenance_lines(url: str, config: RecorderConfig) -> list[str]:
    """The maintenance lines of a recorder started with `config`'s `maintain` as `url`'s login,
    logged within its first 2 s (the first maintenance runs at start)."""
    engine = make_engine(url)
    config = RecorderConfig(
        cluster="c1", listen="127.0.0.1:0", sources={"toy": {"rounds": 1}}, maintain=config.maintain
    )

    async def main(logs: list[MutableMapping[str, Any]]) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            Recorder(config=config, engine=engine, derive=write_facts).run(stop)
        )
        for _ in range(200):
            if any(str(e["event"]).startswith("maint") for e in logs):
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 30)

    with capture_logs() as logs:
        asyncio.run(main(logs))
    engine.dispose()
    return [str(e["event"]) for e in logs if str(e["event"]).startswith("maint")]


def test_only_the_central_recorder_tries_the_maintenance(
    logins: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every node agent (deploy/components/kube-proxy-agent, the recorder's login) tried the
    hourly maintenance and logged 'maintenance not permitted' at start: one line per node, every
    start. Its record.yaml says `maintain: false` now; the central recorder's does not."""
    monkeypatch.setitem(sources.REGISTRY, "toy", "tests.recorder.toysource:build")
    configs = _agent_configs()
    central, agent = configs["gapwatch-recorder"], configs["gapwatch-kube-proxy-agent"]
    assert (central.maintain, agent.maintain) == (True, False)
    migrator = make_engine(logins["gapwatch_migrator"])
    upgrade(migrator)
    migrator.dispose()
    recorder = logins["gapwatch_recorder"]
    assert _maintenance_lines(recorder, central) == ["maintenance not permitted"]
    assert _maintenance_lines(recorder, agent) == []
