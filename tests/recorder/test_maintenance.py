"""The recorder maintains its store: at start it applies its configured retention (and on
PostgreSQL creates the day partitions ahead); a bad retention is a configuration error."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder import sources
from gapwatch.recorder.config import RecorderConfig, load_config
from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.maintain import run_periodically
from gapwatch.recorder.partitions import day_partitions, is_partitioned
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts
from tests.recorder.test_run import NOW, run_once
from tests.store.samples import real_observations


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sources.REGISTRY, "toy", "tests.recorder.toysource:build")


def test_the_recorder_applies_its_retention_at_start(engine: Engine) -> None:
    old = [replace(o, observed_at=o.observed_at.replace(year=2020)) for o in real_observations()]
    EventWriter(engine, derive=write_facts).write(old)
    config = RecorderConfig(
        cluster="c", listen="127.0.0.1:0", sources={"toy": {"rounds": 1}}, retention="90d"
    )
    run_once(engine, config)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT cluster, source FROM events")).all()
        facts = conn.execute(text("SELECT count(*) FROM facts WHERE cluster = 'kind-dev'"))
        assert facts.scalar_one() == 0
        if is_partitioned(conn):  # today and the 7 days after NOW exist
            days = day_partitions(conn)
            assert {NOW.date() + timedelta(days=d) for d in range(8)} <= set(days)
            assert min(days) >= (NOW - timedelta(days=90)).date()
    assert left == [("c", "toy-counter")]


def test_maintenance_failing_does_not_stop_the_recorder(tmp_path: Path) -> None:
    """A store that cannot be maintained (here: none at all) is logged; the loop goes on."""
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    stop = asyncio.Event()

    async def main() -> None:
        task = asyncio.create_task(
            run_periodically(
                engine, retention=timedelta(days=1), ahead_days=0, clock=lambda: NOW,
                stop=stop, every_s=0.01,
            )
        )  # fmt: skip
        await asyncio.sleep(0.1)
        assert not task.done()  # still retrying
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())


@pytest.mark.parametrize("value", ["90", "3 months", "0d", "9999999d"])
def test_a_bad_retention_in_the_config_names_the_file(value: str, tmp_path: Path) -> None:
    """9999999d was taken, and the recorder's hourly maintenance then failed on a cutoff before
    the year 1 (OverflowError)."""
    path = tmp_path / "record.yaml"
    path.write_text(f"cluster: c\nretention: '{value}'\nsources: {{toy: {{rounds: 1}}}}\n")
    with pytest.raises(ConfigError, match=r"record.yaml: .*(90d|at least one day|365,000 days)"):
        load_config(path, {})


def test_retention_comes_from_the_environment_too(tmp_path: Path) -> None:
    path = tmp_path / "record.yaml"
    path.write_text("cluster: c\nsources: {toy: {rounds: 1}}\n")
    assert load_config(path, {}).retention == ""
    assert load_config(path, {"GAPWATCH_RETENTION": "13w"}).retention == "13w"
    with pytest.raises(ConfigError, match="expected a number of days"):
        load_config(path, {"GAPWATCH_RETENTION": "13"})


def test_a_bad_retention_names_its_key_or_variable(tmp_path: Path) -> None:
    """The value alone (`record.yaml: 'none': expected ...`) named no key, and one from
    GAPWATCH_RETENTION was blamed on the file."""
    path = tmp_path / "record.yaml"
    path.write_text("cluster: c\nretention: none\nsources: {toy: {rounds: 1}}\n")
    with pytest.raises(ConfigError, match=r"^\S*record.yaml: retention: 'none': expected"):
        load_config(path, {})
    with pytest.raises(ConfigError, match=r"^GAPWATCH_RETENTION: '13': expected"):
        load_config(path, {"GAPWATCH_RETENTION": "13"})


def test_db_maintain_names_the_variable_a_bad_retention_came_from(tmp_path: Path) -> None:
    """deploy/base's CronJob gapwatch-maintain runs `gapwatch db maintain` with no option and
    the retention from ConfigMap gapwatch-cluster (GAPWATCH_RETENTION): `retention=none` there
    failed every run with `--retention: 'none': ...`, an option nobody had given, and no
    partition was created ahead meanwhile."""
    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app

    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {"GAPWATCH_RETENTION": "none"}
    done = CliRunner().invoke(app, ["db", "maintain", "--db", url], env=env)
    assert done.exit_code == 2
    assert "GAPWATCH_RETENTION (deploy/: key `retention` of ConfigMap gapwatch-cluster): " \
        "'none': expected" in done.output  # fmt: skip
    typed = CliRunner().invoke(app, ["db", "maintain", "--db", url, "--retention", "none"])
    assert typed.exit_code == 2 and "--retention: 'none': expected" in typed.output


def test_the_days_left_ahead_are_reported_for_a_gauge(engine: Engine) -> None:
    """The recorder's gauge gapwatch_recorder_partition_days_ahead hears, after each run, how
    many days of partitions are left after today: what an alert watches, since the log says a
    login that may not maintain the store only once (PostgreSQL); no figure without partitions."""
    heard: list[int | None] = []
    stop = asyncio.Event()

    def now() -> datetime:
        stop.set()  # one run
        return NOW

    asyncio.run(
        run_periodically(
            engine, retention=None, ahead_days=3, clock=now, stop=stop, days_ahead=heard.append
        )
    )
    with engine.connect() as conn:
        partitioned = is_partitioned(conn)
        last = max(day_partitions(conn), default=None) if partitioned else None
    if partitioned:  # the migration's days ahead of the real today, and NOW's 3 more
        assert last is not None and heard == [(last - NOW.date()).days]
        assert (last - NOW.date()).days >= 3
    else:
        assert heard == [None]


def test_maintain_false_is_read_and_refuses_a_retention(tmp_path: Path) -> None:
    """`maintain: false` (deploy/'s node agents) turns the hourly maintenance off; a retention
    beside it would drop nothing, so it is an error, as is a value that is not a boolean."""
    path = tmp_path / "record.yaml"
    path.write_text("cluster: c\nmaintain: false\nsources: {toy: {rounds: 1}}\n")
    assert load_config(path, {}).maintain is False
    with pytest.raises(ConfigError, match=r"retention is set and maintain is false"):
        load_config(path, {"GAPWATCH_RETENTION": "13w"})
    path.write_text("cluster: c\nmaintain: 'no'\nsources: {toy: {rounds: 1}}\n")
    with pytest.raises(ConfigError, match=r"record.yaml: maintain: expected true or false"):
        load_config(path, {})
    path.write_text("cluster: c\nsources: {toy: {rounds: 1}}\n")
    assert load_config(path, {}).maintain is True
