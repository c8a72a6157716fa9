"""Retention on both backends: it drops the expired days' events, their facts and their dedupe
keys, and nothing else (every other row of every table is compared before and after) but
replay's mark that the projections of the span dropped are kept (replay.kept_rows)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.maintain import maintain
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.partitions import (
    DROPPED_MARK,
    PARTITION_TABLE,
    day_partitions,
    parse_retention,
)
from gapwatch.recorder.writer import Checkpoint, EventWriter
from gapwatch.replay.facts import write_facts
from tests.store.samples import real_observations

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
#: 90 days before NOW: the cutoff.
CUTOFF = NOW - timedelta(days=90)
#: When each batch was observed. PostgreSQL drops a day only when it ended before the cutoff
#: (so "cutoff -1h", on the cutoff's own day, stays); SQLite deletes by time.
TIMES = {
    "100 days ago": NOW - timedelta(days=100),
    "day before the cutoff's": CUTOFF - timedelta(days=1),
    "cutoff -1h": CUTOFF - timedelta(hours=1),
    "cutoff +1h": CUTOFF + timedelta(hours=1),
    "yesterday": NOW - timedelta(days=1),
    "now": NOW,
}
GONE_ON = {
    "sqlite": {"100 days ago", "day before the cutoff's", "cutoff -1h"},
    "postgresql": {"100 days ago", "day before the cutoff's"},
}


def batch(label: str) -> list[Observation]:
    """The real samples observed at TIMES[label], with resourceVersions of their own."""
    when = TIMES[label]
    return [
        replace(o, observed_at=when + timedelta(milliseconds=i), previous_observed_at=None,
                resource_version=None if o.resource_version is None
                else f"{o.resource_version}-{label}")
        for i, o in enumerate(real_observations())
    ]  # fmt: skip


def snapshot(engine: Engine) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table and view (partitions read through `events`)."""
    with engine.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if not PARTITION_TABLE.match(n)]
        names += inspect(conn).get_view_names()
        return {n: {_hashable(r) for r in conn.execute(text(f"SELECT * FROM {n}"))} for n in names}


def _hashable(row: Any) -> tuple[Any, ...]:
    return tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in row)


def fill(engine: Engine) -> dict[str, set[int]]:
    """One batch per TIMES label (facts derived), checkpoints and a replay state; the ids."""
    if engine.dialect.name == "postgresql":
        maintain(engine, now=NOW - timedelta(days=101), ahead_days=102)
    writer = EventWriter(engine, derive=write_facts)
    ids = {}
    for label in TIMES:
        with engine.connect() as conn:
            high = conn.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one()
        writer.write(batch(label), [Checkpoint("kind-dev", "k8s-watch", label, {"rv": 1})])
        with engine.connect() as conn:
            ids[label] = set(
                conn.execute(text(f"SELECT id FROM events WHERE id > {high}")).scalars()
            )
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO replay_state (key, value) VALUES ('last_event_id', 7)"))
    return ids


def test_retention_drops_partitions_and_nothing_else(engine: Engine) -> None:
    ids = fill(engine)
    before = snapshot(engine)
    gone_labels = GONE_ON[engine.dialect.name]
    gone = set().union(*(ids[label] for label in gone_labels))
    assert any(r[0] in gone for r in before["facts"]), "the dropped events must have facts"

    done = maintain(engine, now=NOW, retention=parse_retention("90d"), ahead_days=0)

    after = snapshot(engine)
    assert {r[0] for r in after["events"]} == {r[0] for r in before["events"]} - gone
    assert after["events"] == {r for r in before["events"] if r[0] not in gone}
    assert after["facts"] == {r for r in before["facts"] if r[0] not in gone}
    assert done.dropped.events == len(gone)
    assert done.dropped.derived == len(before["facts"]) - len(after["facts"])
    if engine.dialect.name == "postgresql":
        with_rows = {f"events_p{TIMES[label]:%Y%m%d}" for label in gone_labels}
        assert with_rows <= set(done.dropped.partitions)  # and the empty days around them
        with engine.connect() as conn:
            left = day_partitions(conn)
        assert min(left) == CUTOFF.date()  # every day that ended before the cutoff is gone
        assert not set(left.values()) & set(done.dropped.partitions)
        gone_keys = {r[12] for r in before["events"] if r[0] in gone and r[10] is not None}
        assert after["event_keys"] == {k for k in before["event_keys"] if k[1] not in gone_keys}
        assert done.dropped.keys == len(gone_keys) > 0
    untouched = set(before) - {"events", "facts", "event_keys", "v_lane_samples"}
    # but the one mark that tells replay to keep the projections of the span dropped
    mark = {r for r in after["replay_state"] if r[0] == DROPPED_MARK}
    assert mark and mark.isdisjoint(before["replay_state"])
    after["replay_state"] -= mark
    assert {n: after[n] for n in untouched} == {n: before[n] for n in untouched}
    assert untouched >= {"source_checkpoints", "replay_state", "quarantine"}
    # the view over facts lost exactly the dropped facts' samples
    assert after["v_lane_samples"] <= before["v_lane_samples"]

    again = maintain(engine, now=NOW, retention=parse_retention("90d"), ahead_days=0)
    assert (again.dropped.events, again.dropped.partitions) == (0, [])


def test_an_object_change_whose_row_expired_is_stored_again(engine: Engine) -> None:
    fill(engine)
    maintain(engine, now=NOW, retention=parse_retention("90d"), ahead_days=0)
    seen_again = [
        replace(o, observed_at=NOW + timedelta(minutes=5))
        for o in batch("100 days ago")
        if o.resource_version is not None
    ]
    assert EventWriter(engine, derive=write_facts).write(seen_again).inserted == len(seen_again)
    kept = [o for o in batch("yesterday") if o.resource_version is not None]
    late = [replace(o, observed_at=NOW + timedelta(minutes=6)) for o in kept]
    assert EventWriter(engine, derive=write_facts).write(late).inserted == 0


@pytest.mark.parametrize("value", ["90", "0d", "3m", "-1d", ""])
def test_a_bad_retention_is_a_usage_error(value: str, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(app, ["db", "maintain", "--db", url, "--retention", value])
    assert result.exit_code == 2
    assert "--retention" in result.output and "90d" in result.output


@pytest.mark.parametrize("value", ["9999999d", "1500000w"])
def test_a_retention_before_the_year_1_is_a_usage_error(value: str, tmp_path: Any) -> None:
    """`--retention 9999999d` printed an OverflowError traceback (now - retention is before the
    year 1): a retention that long keeps everything, which is giving none."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert CliRunner().invoke(app, ["db", "upgrade", "--db", url]).exit_code == 0
    for extra in (["--dry-run"], []):
        args = ["db", "maintain", "--db", url, "--retention", value, *extra]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "2000"})
        assert result.exit_code == 2, (extra, result.output)
        assert f"--retention: '{value}': more than 365,000 days" in result.stderr
        assert "give no retention" in result.stderr


def test_db_maintain_applies_retention_from_now(store_url: str, engine: Engine) -> None:
    """The command measures from the real clock: rows from 2020 are long expired."""
    old = [replace(o, observed_at=o.observed_at.replace(year=2020)) for o in real_observations()]
    fresh = [
        replace(o, observed_at=datetime.now(UTC), resource_version=o.resource_version and "new")
        for o in real_observations()
    ]
    if engine.dialect.name == "postgresql":
        maintain(engine, now=old[0].observed_at, ahead_days=1)
    writer = EventWriter(engine, derive=write_facts)
    writer.write(old)
    writer.write(fresh)
    result = CliRunner().invoke(
        app, ["db", "maintain", "--db", store_url, "--retention", "13w", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["dropped_events"] == len(old)
    assert summary["partitioned"] is (engine.dialect.name == "postgresql")
    # how far ahead the days are ready: what the CronJob's log shows an operator
    ahead = datetime.now(UTC).date() + timedelta(days=7)
    assert summary["partitions_until"] == (ahead.isoformat() if summary["partitioned"] else None)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == len(fresh)


def test_db_maintain_says_what_it_did_of_the_partitions(store_url: str, engine: Engine) -> None:
    """`--ahead-days 30` on SQLite printed only 'retention: none given, nothing dropped', as if
    30 days of partitions were ready: it says SQLite has none; PostgreSQL says how far they go."""
    result = CliRunner().invoke(app, ["db", "maintain", "--db", store_url, "--ahead-days", "30"])
    assert result.exit_code == 0, result.output
    if engine.dialect.name == "postgresql":
        ahead = datetime.now(UTC).date() + timedelta(days=30)
        assert f"(days up to {ahead:%Y-%m-%d} have one)" in result.stderr
    else:
        assert "partitions: none on SQLite" in result.stderr
        assert "--ahead-days are PostgreSQL's" in result.stderr
    assert "retention: none given, nothing dropped" in result.stderr


def test_ids_never_go_back_after_a_retention_that_expires_every_event(engine: Engine) -> None:
    """A retention that deletes every event (a store idle for longer than its retention), then
    new events: they get ids above every id used before, and the facts projector derives them.
    Before, SQLite numbered them from 1 again, under the projector's position: stored, never
    derived (PostgreSQL's sequence never went back)."""
    if engine.dialect.name == "postgresql":
        maintain(engine, now=NOW - timedelta(days=101), ahead_days=2)
    writer = EventWriter(engine, derive=write_facts)
    writer.write(batch("100 days ago"))
    with engine.connect() as conn:
        high = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
    done = maintain(engine, now=NOW, retention=parse_retention("90d"), ahead_days=0)
    assert done.dropped.events == high  # every event went

    fresh = batch("now")
    assert writer.write(fresh).inserted == len(fresh)
    with engine.connect() as conn:
        new_ids = sorted(conn.execute(text("SELECT id FROM events")).scalars())
        derived = set(conn.execute(text("SELECT DISTINCT event_id FROM facts")).scalars())
        position = conn.execute(
            text("SELECT position FROM projector_positions WHERE name = 'facts'")
        ).scalar_one()
    assert len(new_ids) == len(fresh) and new_ids[0] > high
    assert position == new_ids[-1]  # the projector read every new event
    assert derived and derived <= set(new_ids)  # and derived facts of them
