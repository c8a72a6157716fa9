"""The batch writer on both backends: idempotence, checkpoints atomic with events, the derive
hook, the Postgres fast path and its fallback, streaming with flat memory."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.tables import events
from gapwatch.recorder.writer import Checkpoint, EventWriter, load_checkpoints
from gapwatch.replay.facts import write_facts
from tests.store.parallel import write_in_parallel
from tests.store.samples import real_observations


def stored(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [(r.id, r.dedupe_key) for r in conn.execute(select(events).order_by(events.c.id))]


def shifted(observations: list[Observation], seconds: int) -> list[Observation]:
    """Copies that are new observations: later in time, newer resourceVersions."""
    out = []
    for obs in observations:
        rv = None if obs.resource_version is None else f"{obs.resource_version}{seconds}"
        out.append(
            replace(
                obs, observed_at=obs.observed_at + timedelta(seconds=seconds), resource_version=rv
            )
        )
    return out


def test_duplicates_inside_and_across_batches_are_stored_once(engine: Engine) -> None:
    writer = EventWriter(engine, derive=write_facts)
    obs = real_observations()
    assert writer.write(obs).inserted == len(obs)
    # A batch mixing new rows and already-stored ones (Postgres: the fast path fails, the
    # staging path keeps the new rows), and a batch with a row twice.
    new = shifted(obs, 60)
    result = writer.write(obs[:3] + new + new[:2])
    assert (result.offered, result.inserted) == (3 + len(new) + 2, len(new))
    keys = [k for _id, k in stored(engine)]
    assert len(keys) == len(set(keys)) == 2 * len(obs)
    # The fast path is taken again later and still stores everything new.
    for i in range(10):
        assert writer.write(shifted(obs, 120 + i)).inserted == len(obs)
    assert len(stored(engine)) == 12 * len(obs)


def test_checkpoints_commit_with_their_events(engine: Engine) -> None:
    writer = EventWriter(engine, derive=write_facts)
    obs = real_observations()
    writer.write(obs, [Checkpoint("kind-dev", "k8s-watch", "endpointslices", {"rv": "10"})])
    assert load_checkpoints(engine, "kind-dev", "k8s-watch") == {"endpointslices": {"rv": "10"}}

    def explode(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
        raise RuntimeError("derived table failed")

    # Facts are derived after the commit (recorder/projector.py): a derive that fails on every
    # row costs neither the events nor their checkpoint; each failure is recorded instead.
    failing = EventWriter(engine, derive=explode)
    result = failing.write(
        shifted(obs, 5), [Checkpoint("kind-dev", "k8s-watch", "endpointslices", {"rv": "11"})]
    )
    assert result.inserted == len(obs)
    assert len(stored(engine)) == 2 * len(obs)
    assert load_checkpoints(engine, "kind-dev", "k8s-watch") == {"endpointslices": {"rv": "11"}}
    with engine.connect() as conn:
        failed = conn.execute(text("SELECT count(*) FROM projector_failures")).scalar_one()
    assert failed == len(obs)


def test_one_batch_may_carry_two_checkpoints_of_one_key(engine: Engine) -> None:
    """A busy sampler saves two states of one target in one batch: PostgreSQL refuses an upsert
    that names a key twice ("cannot affect row a second time"), so the batch keeps the newest
    observed state (timed) or the last one given (untimed), on both stores."""
    writer = EventWriter(engine, derive=write_facts)
    t0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)

    def probe(code: int, seconds: int) -> Checkpoint:
        at = t0 + timedelta(seconds=seconds)
        return Checkpoint("kind-dev", "kube-proxy-probe", "node-a", {"code": code}, at=at)

    watch = [Checkpoint("kind-dev", "k8s-watch", "pods", {"rv": rv}) for rv in ("1", "2")]
    writer.write(real_observations(), [probe(503, 0), probe(200, 2), probe(0, 1), *watch])
    assert load_checkpoints(engine, "kind-dev", "kube-proxy-probe") == {"node-a": {"code": 200}}
    assert load_checkpoints(engine, "kind-dev", "k8s-watch") == {"pods": {"rv": "2"}}


def test_derive_sees_exactly_the_new_rows_with_their_ids(engine: Engine) -> None:
    seen: list[tuple[int, Observation]] = []

    def derive(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
        seen.extend(rows)

    writer = EventWriter(engine, derive=derive)
    obs = real_observations()
    writer.write(obs[:5])
    writer.write(obs)  # five already stored
    assert [o for _i, o in seen] == obs
    assert [i for i, _o in seen] == [i for i, _k in stored(engine)]


def test_write_all_streams_with_flat_memory(engine: Engine) -> None:
    base = real_observations()

    def many(n: int) -> Any:
        for i in range(n):
            yield shifted(base, i + 1)[i % len(base)]

    writer = EventWriter(engine, derive=write_facts)
    tracemalloc.start()
    writer.write_all(many(400), batch_size=50)
    small = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    result = writer.write_all(many(4000), batch_size=50)
    large = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.offered == 4000
    # Ten times the input must not need anything like ten times the memory.
    assert large < small * 3, (small, large)


def test_postgres_readers_see_ids_in_commit_order(pg_url: str) -> None:
    """Two writers interleave; the table lock makes ids commit in order, so a reader tailing by
    id that saw id N never later finds a smaller id appear."""
    from gapwatch.recorder.store import make_engine

    engine = make_engine(pg_url)
    obs = real_observations()
    previous: set[int] = set()

    def read() -> None:
        nonlocal previous
        with engine.connect() as conn:
            ids = {r[0] for r in conn.execute(text("SELECT id FROM events"))}
        high = max(previous, default=0)
        # No id at or below what a reader already saw may show up later.
        assert {i for i in ids if i <= high} == previous
        previous = ids

    batches = [[shifted(obs, k * 1000 + i) for i in range(15)] for k in range(2)]
    assert write_in_parallel(engine, write_facts, batches, meanwhile=read) > 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 30 * len(obs)


def test_unreachable_store_is_a_clean_error(tmp_path: Any) -> None:
    from gapwatch.recorder.store import make_engine

    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match=r"127\.0\.0\.1"):
        EventWriter(engine, derive=write_facts).write(real_observations())
