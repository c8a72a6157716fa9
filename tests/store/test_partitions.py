"""Day partitions of `events` on a real PostgreSQL: dedupe across partitions, ids in commit order
across partitions, rows of days without a partition kept and moved by `maintain`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder import partitions
from gapwatch.recorder.maintain import maintain
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts
from tests.store.parallel import write_in_parallel
from tests.store.samples import real_observations

pytestmark = pytest.mark.postgres

DAY = date(2026, 12, 2)
MIDNIGHT = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.fixture
def pg(pg_url: str) -> Engine:
    engine = make_engine(pg_url)
    maintain(engine, now=datetime.combine(DAY, datetime.min.time(), UTC), ahead_days=1)
    return engine


def at(observations: list[Observation], when: datetime) -> list[Observation]:
    """The observations moved to `when` (a millisecond apart), everything else unchanged."""
    return [replace(o, observed_at=when + timedelta(milliseconds=i), previous_observed_at=None)
            for i, o in enumerate(observations)]  # fmt: skip


def objects() -> list[Observation]:
    """The Kubernetes object changes among the real samples (deduplicated by resourceVersion)."""
    found = [o for o in real_observations() if o.resource_version is not None]
    assert len(found) >= 3
    return found


def where_stored(engine: Engine) -> list[tuple[str, str]]:
    """(partition, dedupe_key) of every stored row."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT tableoid::regclass::text, dedupe_key FROM events"))
        return sorted((r[0], r[1]) for r in rows)


def test_an_object_change_seen_on_both_sides_of_midnight_is_stored_once(pg: Engine) -> None:
    writer = EventWriter(pg, derive=write_facts)
    before = at(objects(), MIDNIGHT - timedelta(seconds=1))
    after = at(objects(), MIDNIGHT + timedelta(seconds=1))
    assert writer.write(before).inserted == len(before)
    again = writer.write(after)  # a second recorder, after midnight: the same changes
    assert (again.inserted, again.duplicates) == (0, len(after))
    assert {p for p, _ in where_stored(pg)} == {"events_p20261202"}
    # ... and the other way round, both sightings in one batch
    fresh = another_store(pg)
    both = EventWriter(fresh, derive=write_facts).write([*after, *before])
    assert (both.inserted, both.duplicates) == (len(after), len(before))
    assert {p for p, _ in where_stored(fresh)} == {"events_p20261203"}
    with fresh.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM event_keys")).scalar() == len(after)
    fresh.dispose()
    from tests.conftest import drop_pg_database

    drop_pg_database(fresh.url.render_as_string(hide_password=False))


def another_store(engine: Engine) -> Engine:
    """A fresh migrated database on `engine`'s server, with the days of this module."""
    from tests.conftest import new_pg_database

    other = make_engine(new_pg_database(engine.url.render_as_string(hide_password=False)))
    maintain(other, now=datetime.combine(DAY, datetime.min.time(), UTC), ahead_days=1)
    return other


def test_a_probe_sample_written_twice_is_stored_once(pg: Engine) -> None:
    samples = at([o for o in real_observations() if o.resource_version is None], MIDNIGHT)
    writer = EventWriter(pg, derive=write_facts)
    assert writer.write(samples).inserted == len(samples)
    assert writer.write(samples).inserted == 0
    assert {p for p, _ in where_stored(pg)} == {"events_p20261203"}


def test_ids_follow_commit_order_across_partitions(pg: Engine) -> None:
    """A later batch of an earlier day still gets higher ids: a reader tailing by id sees it."""
    writer = EventWriter(pg, derive=write_facts)
    writer.write(at(real_observations(), MIDNIGHT + timedelta(hours=1)))
    with pg.connect() as conn:
        seen = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
    late = at(real_observations(cluster="other"), MIDNIGHT - timedelta(hours=1))
    writer.write(late)
    with pg.connect() as conn:
        tail = conn.execute(
            text("SELECT id, tableoid::regclass::text FROM events WHERE id > :x ORDER BY id"),
            {"x": seen},
        ).all()
    assert len(tail) == len(late)
    assert {p for _, p in tail} == {"events_p20261202"}


def test_interleaved_writers_on_two_days_commit_ids_in_order(pg: Engine) -> None:
    previous: set[int] = set()

    def read() -> None:
        nonlocal previous
        with pg.connect() as conn:
            ids = set(conn.execute(text("SELECT id FROM events")).scalars())
        high = max(previous, default=0)
        assert {i for i in ids if i <= high} == previous  # nothing appeared behind a reader
        previous = ids

    def day(start: datetime, cluster: str) -> list[list[Observation]]:
        return [at(real_observations(cluster), start + timedelta(minutes=i)) for i in range(12)]

    batches = [day(MIDNIGHT - timedelta(hours=2), "a"), day(MIDNIGHT + timedelta(hours=2), "b")]
    write_in_parallel(pg, write_facts, batches, meanwhile=read)
    assert len({p for p, _ in where_stored(pg)}) == 2


def test_a_day_without_partition_waits_in_default_until_maintain_moves_it(pg: Engine) -> None:
    old = at(real_observations(), datetime(2026, 3, 13, 10, tzinfo=UTC))
    EventWriter(pg, derive=write_facts).write(old)
    with pg.connect() as conn:
        before = conn.execute(text("SELECT id, dedupe_key FROM events ORDER BY id")).all()
        facts = conn.execute(text("SELECT count(*) FROM facts")).scalar_one()
    assert {p for p, _ in where_stored(pg)} == {partitions.DEFAULT_PARTITION}
    done = maintain(pg, now=datetime.combine(DAY, datetime.min.time(), UTC), ahead_days=1)
    assert (done.created, done.moved) == (["events_p20260313"], len(old))
    assert {p for p, _ in where_stored(pg)} == {"events_p20260313"}
    with pg.connect() as conn:
        assert conn.execute(text("SELECT id, dedupe_key FROM events ORDER BY id")).all() == before
        assert conn.execute(text("SELECT count(*) FROM facts")).scalar_one() == facts
    later = at(objects(), datetime(2026, 3, 13, 11, tzinfo=UTC))  # the same changes, seen again
    assert EventWriter(pg, derive=write_facts).write(later).inserted == 0
    again = maintain(pg, now=datetime.combine(DAY, datetime.min.time(), UTC), ahead_days=1)
    assert (again.created, again.moved) == ([], 0)
