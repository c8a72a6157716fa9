"""Every ingest path stores the same facts, and the overlapped projection is really overlapped.

The paths: the writer projecting each batch after its commit (the recorder's), the writer with
the projection overlapped with the next batch (`write_all`, `gapwatch import`), `import_files`
from an NDJSON file, and a log-only writer whose facts the projector derives later from the
stored JSONB (`catch_up`, what read commands do first). Each must store exactly what
`replay.facts.derive` gives for the observations in memory, on the benchmark's realistic mix and
on every simulator preset but `large` (too big for a test), on both backends (real SQLite and
PostgreSQL; on SQLite the overlap falls back to projecting in turn).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from benchmarks.observations import generate
from gapwatch.recorder.importer import import_files
from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import PRESETS, load_scenario, run
from gapwatch.recorder.writer import EventWriter, no_derive
from gapwatch.replay.catchup import catch_up
from gapwatch.replay.facts import derive_all, write_facts

Rows = list[tuple[int, Observation]]
#: Small batches, so every path crosses several batch (and projection) boundaries.
BATCH = 97


def stored_facts(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM facts ORDER BY event_id, seq"))]


def expected(observations: list[Observation]) -> list[tuple[Any, ...]]:
    """derive of the observations in memory, numbered as the writer numbers a fresh store."""
    return [tuple(f) for f in derive_all(enumerate(observations, start=1))]


def _inline(engine: Engine, obs: list[Observation], tmp: Path) -> None:
    writer = EventWriter(engine, derive=write_facts)
    for start in range(0, len(obs), BATCH):
        writer.write(obs[start : start + BATCH])


def _overlapped(engine: Engine, obs: list[Observation], tmp: Path) -> None:
    result = EventWriter(engine, derive=write_facts).write_all(obs, batch_size=BATCH)
    assert result.inserted == len(obs) and result.underived == 0


def _imported(engine: Engine, obs: list[Observation], tmp: Path) -> None:
    path = tmp / "obs.ndjson"
    path.write_text("".join(dumps(o) + "\n" for o in obs))
    report = import_files(engine, [str(path)], derive=write_facts, batch_size=BATCH)
    assert report.error_count == 0 and report.written.inserted == len(obs)


def _caught_up(engine: Engine, obs: list[Observation], tmp: Path) -> None:
    EventWriter(engine, derive=no_derive).write_all(obs, batch_size=BATCH)
    assert stored_facts(engine) == []
    assert catch_up(engine).projected == len(obs)


PATHS = {"inline": _inline, "overlapped": _overlapped, "import": _imported, "catch-up": _caught_up}


def _mix() -> list[Observation]:
    return list(generate(600, seed=3))


def _preset(name: str) -> list[Observation]:
    return list(run(load_scenario(name), seed=1).observations)


SOURCES = ["realistic-mix", *(name for name in PRESETS if name != "large")]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("path", list(PATHS))
def test_every_path_stores_the_facts_derive_gives(
    engine: Engine, tmp_path: Path, source: str, path: str
) -> None:
    obs = _mix() if source == "realistic-mix" else _preset(source)
    want = expected(obs)
    assert want, "a source without facts proves nothing"
    PATHS[path](engine, obs, tmp_path)
    assert stored_facts(engine) == want


@pytest.mark.postgres
def test_the_next_batch_commits_while_the_projection_runs(pg_url: str) -> None:
    """Overlap, shown by order rather than timing: the first batch's projection does not finish
    until it sees the second batch committed by the writer. Projecting in turn, the writer would
    wait for the projection and the second batch would never come (the wait is bounded)."""
    from gapwatch.recorder.store import make_engine

    engine = make_engine(pg_url)
    obs = _mix()[:40]
    seen: list[int] = []
    stored_meanwhile: list[int] = []  # events committed while the first projection waited

    def committed() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())

    def held(conn: Connection, rows: Rows) -> None:
        if not stored_meanwhile:
            deadline = time.monotonic() + 60
            while committed() < 40 and time.monotonic() < deadline:
                time.sleep(0.02)
            stored_meanwhile.append(committed())
        seen.append(len(rows))
        write_facts(conn, rows)

    try:
        result = EventWriter(engine, derive=held).write_all(obs, batch_size=20)
        assert stored_meanwhile == [40], "the writer waited for the projection"
        # it returned only after the last projection: every fact is there
        assert result.inserted == 40 and result.underived == 0 and seen == [20, 20]
        assert stored_facts(engine) == expected(obs)
    finally:
        engine.dispose()


def test_a_failed_derivation_is_counted_when_overlapped(engine: Engine) -> None:
    """An event the projector steps over shows in `underived` of the total, overlapped or not;
    the events are stored all the same."""
    obs = _mix()[:50]
    bad_id = 30

    def fussy(conn: Connection, rows: Rows) -> None:
        if any(event_id == bad_id for event_id, _ in rows):
            raise ValueError("cannot derive this one")
        write_facts(conn, rows)

    result = EventWriter(engine, derive=fussy).write_all(obs, batch_size=10)
    assert (result.inserted, result.underived) == (50, 1)
    ids = {row[0] for row in stored_facts(engine)}
    assert bad_id not in ids and {bad_id - 1, bad_id + 1} <= ids
