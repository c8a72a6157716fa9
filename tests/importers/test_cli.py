"""`gapwatch import FORMAT` and `gapwatch simulate --format` as a user runs them (subprocess)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from tests.importers.helpers import FIXTURES
from tests.test_cli import gapwatch


def test_import_reports_file_line_keeps_good_records_and_exits_3(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    migrated_sqlite(tmp_path / "gapwatch.db")  # the default store, as `db upgrade` leaves it
    good = (FIXTURES / "falco-k8s-audit-minikube-2018.jsonl").read_text().splitlines()
    data = tmp_path / "audit.log"
    data.write_text("\n".join([good[4], "{not json", good[5], '{"kind": "Pod"}']) + "\n")
    result = gapwatch("import", "k8s-audit", str(data), "--errors", "bad.ndjson", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert f"{data}:2: not valid JSON" in result.stderr
    assert f"{data}:4: kind 'Pod': not an audit Event" in result.stderr
    assert "4 records: 2 imported (Pod 2), 0 skipped, 2 rejected" in result.stderr
    assert "2 observations: 2 new, 0 already stored" in result.stderr
    rejected = [orjson.loads(line) for line in (tmp_path / "bad.ndjson").read_text().splitlines()]
    assert [(r["line"], r["raw"]) for r in rejected] == [(2, "{not json"), (4, '{"kind": "Pod"}')]


def test_strict_writes_nothing_and_stdin_works(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    migrated_sqlite(tmp_path / "gapwatch.db")
    text = (FIXTURES / "plaso-aws_elb_access.log").read_text() + "\nnot a log line\n"
    strict = gapwatch("import", "elb-access-log", "--strict", "-", cwd=tmp_path, stdin=text)
    assert strict.returncode == 3
    assert "<stdin>:17: not an ALB, NLB or Classic ELB access-log line" in strict.stderr
    assert "--strict: 1 bad records, nothing written" in strict.stderr
    stats = gapwatch("db", "stats", "--json", cwd=tmp_path)
    assert orjson.loads(stats.stdout) == []
    relaxed = gapwatch("import", "elb-access-log", "-", cwd=tmp_path, stdin=text)
    assert relaxed.returncode == 3
    assert "16 observations: 16 new" in relaxed.stderr


def test_an_access_log_with_no_line_imported_says_nothing_of_failed_requests(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    """A file of which no line is an access-log line (here prose) imports nothing; the summary
    must not add "0 lines are the LB's own 502/503/504", which reads as "the LB failed no
    request" when nothing was read at all. A real log still gets the count."""
    migrated_sqlite(tmp_path / "gapwatch.db")
    prose = "an access log is described here\nbut no line of it is one\n"
    result = gapwatch("import", "elb-access-log", "-", cwd=tmp_path, stdin=prose)
    assert result.returncode == 3
    assert "2 rejected" in result.stderr
    assert "502/503/504" not in result.stderr
    real = (FIXTURES / "plaso-aws_elb_access.log").read_text()
    counted = gapwatch("import", "elb-access-log", "-", cwd=tmp_path, stdin=real)
    assert counted.returncode == 0, counted.stderr
    assert "lines are the LB's own 502/503/504" in counted.stderr


def test_metadata_level_audit_says_objects_are_missing(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    migrated_sqlite(tmp_path / "gapwatch.db")
    sample = FIXTURES / "falco-k8s-audit-minikube-2018.jsonl"
    result = gapwatch("import", "k8s-audit", str(sample), "--cluster", "minikube", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "note: 6 changes had no object" in result.stderr
    stats = orjson.loads(gapwatch("db", "stats", "--json", cwd=tmp_path).stdout)
    assert {(r["cluster"], r["kind"], r["events"]) for r in stats} == {
        ("minikube", "APIRequest", 6),
        ("minikube", "Pod", 2),
    }


def test_simulate_writes_each_postmortem_format(tmp_path: Path) -> None:
    missing = gapwatch("simulate", "--format", "cloudtrail", cwd=tmp_path)
    assert missing.returncode == 2 and "--out" in missing.stderr
    wrong = gapwatch("simulate", "--format", "yaml", "--out", "x", cwd=tmp_path)
    assert wrong.returncode == 2
    made = gapwatch("simulate", "--format", "cloudtrail", "--out", "ct.json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    records = orjson.loads((tmp_path / "ct.json").read_bytes())["Records"]
    assert records and {r["eventName"] for r in records} <= {"RegisterTargets", "DeregisterTargets"}
    assert f"seed-3node seed 1: {len(records)} records (CloudTrail record {len(records)});" in (
        made.stderr
    )


def test_simulate_counts_the_access_log_lines_it_writes(tmp_path: Path) -> None:
    """It said '1418 observations (access-log failed request 133, access-log line 1285)' for a
    file of 1285 lines: the failed requests are some of the lines (the truth counts them)."""
    args = ("simulate", "--seed", "3", "--format", "elb-access-log", "--out", "alb.log")
    made = gapwatch(*args, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    lines = len((tmp_path / "alb.log").read_text().splitlines())
    assert f"seed-3node seed 3: {lines} records (access-log line {lines});" in made.stderr
    assert "; 133 failed requests (502 133);" in made.stderr
