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
from collections.abc import Iterator
from typing import Any

import pytest

# 900 s: pytest-timeout counts a module fixture's setup in its first test, and the short table
# took 283 s at 10x with the machine at load 5 (300 s was the limit)
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]

#: Simulated seconds per wall second. 5x, as tests/lab/test_lab_clouds.py: pytest's workers run
#: beside the lab, and at 10x a prober look 0.9 s wall late on a loaded machine put NODE2's
#: window 8.8 s (simulated) outside its bounds (the short table's probe-refused row, a full run
#: at load 5); the recording claims are about what a recorder at 1x would store.
SPEED = "5"

GAPWATCH = [sys.executable, "-m", "gapwatch.dashboard.cli"]
#: The seed-3node NODE2 window (true closed-before-deregistered, 64.2-69.9 s: the old pod
#: terminating, the LB healthy throughout, the replacement ready at 67 s) is sometimes recorded
#: `pod-gone-before-deregistered (or closed-before-deregistered: undecided)` (issue 13's
#: CLASS_FLAKE, 1 run in 8 or more under load). Issue 17 found why from a failing run's stored
#: rows: the prober's looks left kube-proxy's close anywhere in 63.15-67.66 s and the old pod's
#: death (finishedAt 67 s, seen gone at 68.41 s) in 66.0-68.41 s: the samples do not order the
#: two causes, and undecided is the honest answer. The verdict now calls such a window
#: matched-undecided when the stored rows leave the order open (recorder/lab/classorder.py),
#: counted apart (`matched_undecided`), and a class problem when they order it: these tests
#: are strict.


def run(*args: str, timeout: float) -> tuple[int, Any, str]:
    done = subprocess.run(
        [*GAPWATCH, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    return done.returncode, json.loads(done.stdout or "null"), done.stderr


def test_seed_3node_recorded_windows_match_the_truth(pg_empty_url: str) -> None:
    _code, reports, err = run(
        "lab", "--speed", SPEED, "--duration", "90", "--db", pg_empty_url, "--json", timeout=400
    )
    assert reports is not None, err[-3000:]
    (report,) = reports
    assert report["lab"]["found"] == report["lab"]["true_windows"] == 3
    assert report["lab"]["false_positives"] == 0
    # every true window found, bounded, none false, classed right or honestly undecided (the
    # stored samples leave the order of its causes open: counted apart, module comment)
    assert report["problems"] == [], report["problems"]
    classed = report["lab"]["class_agreement"] + report["lab"]["matched_undecided"]
    assert classed == 3, report["notes"]
    for kind, count in report["transitions"].items():
        assert count["expected"] > 0, kind
        assert count["lost"] == [] and count["duplicated"] == [], (kind, count)


@pytest.fixture(scope="module")
def short_table(pg_template: str | None) -> Iterator[tuple[int, Any, str]]:
    """`gapwatch lab table` (the CI plan) once for this module, in its own empty database."""
    from tests.conftest import _require_pg, drop_pg_database, new_pg_database

    url = new_pg_database(_require_pg(pg_template), migrated=False)
    try:
        args = ["--speed", SPEED, "--duration", "90", "--db", url, "--json"]
        yield run("lab", "table", *args, timeout=800)
    finally:
        drop_pg_database(url)


def test_the_short_fault_table_loses_and_duplicates_nothing(
    short_table: tuple[int, Any, str],
) -> None:
    _code, rows, err = short_table
    assert rows is not None, err[-3000:]
    assert [r["fault"] for r in rows] == ["sigkill", "gone-410", "poison", "probe-refused"]
    for row in rows:
        assert row["runs"] == 1 and row["seeds"] == [1]
        assert row["transitions_expected"] > 50
        assert (row["lost"], row["duplicated"]) == (0, 0), (row["fault"], row["details"])
        if row["fault"] != "probe-refused":  # its windows: the next test
            # found, bounded, none false; a differing class only: tested below
            matched = int(row["windows_matched"].split("/")[0]) + row["differing_only_in_class"]
            assert matched + row["windows_matched_undecided"] == 1, (row["fault"], row["details"])


def test_a_refused_health_port_changes_no_window(short_table: tuple[int, Any, str]) -> None:
    _code, rows, err = short_table
    assert rows is not None, err[-3000:]
    (refused,) = [r for r in rows if r["fault"] == "probe-refused"]
    assert not any("false positives" in d for d in refused["details"]), refused["details"]
    matched = int(refused["windows_matched"].split("/")[0]) + refused["differing_only_in_class"]
    assert matched + refused["windows_matched_undecided"] == 1, refused["details"]


def test_every_row_gives_every_window_its_true_class(short_table: tuple[int, Any, str]) -> None:
    """Every window of every row takes its true class, or names it as undecided where the
    stored samples leave the order of its causes open (matched-undecided: the module comment);
    a class the samples decide wrongly is a problem."""
    code, rows, err = short_table
    assert rows is not None, err[-3000:]
    differing = [
        (r["fault"], r["details"])
        for r in rows
        if r["windows_matched"] != "1/1" and r["windows_matched_undecided"] != 1
    ]
    assert differing == [], differing
    assert code == 0, err[-3000:]
