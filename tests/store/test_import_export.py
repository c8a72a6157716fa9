"""NDJSON import (good lines kept, bad ones reported with file and line, nothing duplicated) and
export (ndjson, csv, parquet) on both backends, against real SQLite files and a real Postgres."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select

from gapwatch.recorder import exporter
from gapwatch.recorder.importer import error_writer, import_files
from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import events
from gapwatch.replay.facts import write_facts
from tests.store.samples import real_observations


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def export_text(engine: Engine) -> str:
    out = io.StringIO()
    exporter.export_ndjson(exporter.iter_events(engine), out)
    return out.getvalue()


def mixed_file(path: Path, observations: list[Observation]) -> dict[int, str]:
    """Valid lines, one exact duplicate, blank lines and four kinds of bad line.
    Returns {line number: expected fragment of the error} for the bad ones."""
    lines = [dumps(o) for o in observations]
    bad = {
        3: ("{not json", "not valid JSON"),
        6: (
            '{"observed_at": "2026-01-01T00:00:00Z"}',
            "missing required field(s): cluster, source, kind, op, payload",
        ),
        9: (dumps(observations[0]).replace('"op":"ADDED"', '"op":"CREATED"'), "op: 'CREATED'"),
        12: ("[1, 2, 3]", "expected a JSON object"),
    }
    out: list[str] = []
    good = iter([*lines, lines[1]])  # the last valid line is a duplicate of the second
    number = 0
    while True:
        number += 1
        if number in bad:
            out.append(bad[number][0])
        elif number == 4:
            out.append("   ")
        else:
            line = next(good, None)
            if line is None:
                break
            out.append(line)
    path.write_text("\n".join(out) + "\n")
    return {n: msg for n, (_line, msg) in bad.items()}


def test_import_keeps_good_lines_once_and_reports_bad_ones(engine: Engine, tmp_path: Path) -> None:
    observations = real_observations()
    path = tmp_path / "mixed.ndjson"
    expected_errors = mixed_file(path, observations)
    rejected = tmp_path / "rejected.ndjson"
    with rejected.open("wb") as sink:
        report = import_files(
            engine, [str(path)], derive=write_facts, batch_size=4, on_error=error_writer(sink)
        )
    assert report.error_count == len(expected_errors)
    assert {e.line: e.file for e in report.errors} == dict.fromkeys(expected_errors, str(path))
    for error in report.errors:
        assert expected_errors[error.line] in error.reason, error
    assert report.lines_ok == len(observations) + 1
    assert report.written.inserted == len(observations)
    assert report.written.duplicates == 1
    assert count(engine) == len(observations)
    # Nothing is lost: every rejected line is written out unchanged, with its reason.
    written = [orjson.loads(line) for line in rejected.read_bytes().splitlines()]
    raw_lines = path.read_text().splitlines()
    assert [(w["line"], w["raw"]) for w in written] == [
        (n, raw_lines[n - 1]) for n in sorted(expected_errors)
    ]
    # Importing the same file again adds nothing.
    again = import_files(engine, [str(path)], derive=write_facts)
    assert again.written.inserted == 0
    assert count(engine) == len(observations)


def test_strict_import_writes_nothing_when_a_line_is_bad(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "mixed.ndjson"
    mixed_file(path, real_observations())
    report = import_files(engine, [str(path)], derive=write_facts, strict=True)
    assert report.strict_aborted
    assert report.error_count == 4
    assert count(engine) == 0


def test_gzip_input_is_read_by_content(engine: Engine, tmp_path: Path) -> None:
    observations = real_observations()
    path = tmp_path / "events.data"  # no .gz suffix on purpose
    path.write_bytes(gzip.compress("".join(dumps(o) + "\n" for o in observations).encode()))
    report = import_files(engine, [str(path)], derive=write_facts)
    assert report.error_count == 0
    assert count(engine) == len(observations)


def test_truncated_gzip_is_reported_not_crashed(engine: Engine, tmp_path: Path) -> None:
    observations = real_observations()
    data = gzip.compress("".join(dumps(o) + "\n" for o in observations).encode())
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(data[: len(data) // 2])
    report = import_files(engine, [str(path)], derive=write_facts)
    assert report.error_count == 1
    assert "the file was cut short" in report.errors[0].reason
    assert report.lines_ok == count(engine) < len(observations)


def test_export_import_export_is_byte_identical(
    store_url: str, empty_store_url: str, tmp_path: Path
) -> None:
    from gapwatch.recorder.store import upgrade

    source = make_engine(store_url)
    path = tmp_path / "in.ndjson"
    path.write_text("".join(dumps(o) + "\n" for o in real_observations()))
    import_files(source, [str(path)], derive=write_facts)
    first = export_text(source)
    target = make_engine(empty_store_url)
    upgrade(target)
    again = tmp_path / "again.ndjson"
    again.write_text(first)
    import_files(target, [str(again)], derive=write_facts)
    assert export_text(target) == first
    # And the data survived the trip: same observations as went in.
    back = [orjson.loads(line) for line in first.splitlines()]
    assert back == [orjson.loads(dumps(o)) for o in real_observations()]


def test_export_filters_by_cluster_and_time(engine: Engine) -> None:
    from gapwatch.recorder.writer import EventWriter

    a, b = real_observations("a"), real_observations("b")
    EventWriter(engine, derive=write_facts).write(a + b)
    rows = list(exporter.iter_events(engine, cluster="b"))
    assert [obs for _id, obs in rows] == b
    since, until = a[3].observed_at, a[8].observed_at
    window = [o for _i, o in exporter.iter_events(engine, cluster="a", since=since, until=until)]
    assert window == [o for o in a if since <= o.observed_at < until]


def test_csv_and_parquet_exports_carry_every_event(engine: Engine, tmp_path: Path) -> None:
    from gapwatch.recorder.writer import EventWriter

    observations = real_observations()
    EventWriter(engine, derive=write_facts).write(observations)
    buffer = io.StringIO()
    assert exporter.export_csv(exporter.iter_events(engine), buffer) == len(observations)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [orjson.loads(r["payload"]) for r in rows] == [o.payload for o in observations]
    assert [r["observed_at"] for r in rows] == [o.to_dict()["observed_at"] for o in observations]
    parquet = tmp_path / "events.parquet"
    assert exporter.export_parquet(exporter.iter_events(engine), str(parquet)) == len(observations)
    table = pq.read_table(parquet).to_pylist()
    assert [r["kind"] for r in table] == [o.kind for o in observations]
    assert [r["observed_at"] for r in table] == [o.observed_at for o in observations]
    assert [orjson.loads(r["payload"]) for r in table] == [o.payload for o in observations]


@pytest.mark.parametrize("batch_size", [1, 3, 1000])
def test_ids_follow_input_order(engine: Engine, tmp_path: Path, batch_size: int) -> None:
    observations = real_observations()
    path = tmp_path / "in.ndjson"
    path.write_text("".join(dumps(o) + "\n" for o in observations))
    import_files(engine, [str(path)], derive=write_facts, batch_size=batch_size)
    assert [obs for _id, obs in exporter.iter_events(engine)] == observations
