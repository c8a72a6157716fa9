"""`gapwatch lab` end to end: the simulator's seed-3node cluster served over the real protocols
by the lab's fakes (a kube-apiserver fake speaking list/watch over HTTP, fake kube-proxies on
loopback addresses, moto's ELBv2 server over HTTP: no real cluster or cloud can run here),
recorded by real `gapwatch record` subprocesses into the session's real PostgreSQL, replayed by
`gapwatch gaps`, and compared with the simulator's truth. The short fault table's rows run in
tests/lab/test_lab_row_*.py (one file each), the other clouds in test_lab_cloud_*.py; the long
table (`gapwatch lab table --long`) outside CI."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from gapwatch.recorder.lab.compare import CLASS_PROBLEM
from gapwatch.recorder.lab.faults import FAULTS
from gapwatch.recorder.lab.table import SHORT_PLAN
from tests.lab.labcli import DURATION, SPEED, run

HERE = Path(__file__).parent


def _named(pattern: str, name: str) -> list[str]:
    return sorted(
        getattr(importlib.import_module(f"tests.lab.{p.stem}"), name) for p in HERE.glob(pattern)
    )


def test_ci_runs_every_row_of_the_short_fault_table() -> None:
    """Each row has its own file (xdist spreads files): none of the CI plan is left out."""
    assert _named("test_lab_row_*.py", "FAULT") == sorted(SHORT_PLAN)


def test_ci_runs_every_cloud_the_lab_fakes() -> None:
    clouds = sorted(f.removeprefix("lb-") for f in FAULTS if f.startswith("lb-"))
    assert _named("test_lab_cloud_*.py", "CLOUD") == clouds


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_seed_3node_recorded_windows_match_the_truth(
    pg_empty_url: str, lab_baselines: Path
) -> None:
    _code, reports, err = run(
        *("lab", "--speed", SPEED, "--duration", DURATION, "--db", pg_empty_url, "--json"),
        *("--baseline-cache", str(lab_baselines)),
        timeout=400,
    )
    assert reports is not None, err[-3000:]
    (report,) = reports
    assert report["lab"]["found"] == report["lab"]["true_windows"] == 3
    assert report["lab"]["false_positives"] == 0
    # every true window found, bounded, none false; classed right or honestly undecided (the
    # stored samples leave the order of its causes open: counted apart, labcli.CLASS_FLAKE's
    # comment); a class the samples decide wrongly is CLASS_FLAKE (asserted in the table's rows)
    assert [p for p in report["problems"] if not p.startswith(CLASS_PROBLEM)] == []
    classed = report["lab"]["class_agreement"] + report["lab"]["matched_undecided"]
    class_problems = [p for p in report["problems"] if p.startswith(CLASS_PROBLEM)]
    assert classed == 3 or class_problems, report["notes"]
    for kind, count in report["transitions"].items():
        assert count["expected"] > 0, kind
        assert count["lost"] == [] and count["duplicated"] == [], (kind, count)
