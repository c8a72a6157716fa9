"""`gapwatch lab` end to end: the simulator's seed-3node cluster served over the real protocols
by the lab's fakes (a kube-apiserver fake speaking list/watch over HTTP, fake kube-proxies on
loopback addresses, moto's ELBv2 server over HTTP: no real cluster or cloud can run here),
recorded by real `gapwatch record` subprocesses into the session's real PostgreSQL, replayed by
`gapwatch gaps`, and compared with the simulator's truth. The short fault table runs here; the
long one (`gapwatch lab table --long`) outside CI."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GAPWATCH = [sys.executable, "-m", "gapwatch.dashboard.cli"]


def run(*args: str, timeout: float) -> tuple[int, Any, str]:
    done = subprocess.run(
        [*GAPWATCH, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    return done.returncode, json.loads(done.stdout or "null"), done.stderr


def test_seed_3node_recorded_windows_match_the_truth(pg_empty_url: str) -> None:
    code, reports, err = run(
        "lab", "--speed", "10", "--duration", "90", "--db", pg_empty_url, "--json", timeout=240
    )
    assert code == 0, (reports, err[-3000:])
    (report,) = reports
    assert report["lab"]["found"] == report["lab"]["true_windows"] == 3
    assert report["lab"]["false_positives"] == 0
    assert report["windows_match"] and report["problems"] == []
    for kind, count in report["transitions"].items():
        assert count["expected"] > 0, kind
        assert count["lost"] == [] and count["duplicated"] == [], (kind, count)


def test_the_short_fault_table_loses_and_duplicates_nothing(pg_empty_url: str) -> None:
    code, rows, err = run(
        "lab", "table", "--duration", "90", "--db", pg_empty_url, "--json", timeout=400
    )
    assert rows is not None, err[-3000:]
    assert [r["fault"] for r in rows] == ["sigkill", "gone-410", "poison", "probe-refused"]
    for row in rows:
        assert row["runs"] == 1 and row["seeds"] == [1]
        assert row["transitions_expected"] > 50
        assert (row["lost"], row["duplicated"]) == (0, 0), row
        assert row["windows_matched"] == "1/1", row
    assert code == 0, err[-3000:]
