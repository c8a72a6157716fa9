"""Tables printed by `emit_rows` (`db stats`, `sql`, `assumptions`) never cut a cell and never
break a word: a table that fits the terminal (80 columns in a pipe) is a table; one that does not
is printed one block per row, one `column  value` line per column (psql's expanded display).
Folded into 80 columns, `assumptions` read `proxy_lag_mi` / `n_s` and `sql "SELECT * FROM
events"` broke every header into two-letter pieces."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gapwatch.recorder.cliutil import OutputFormat, emit_rows
from tests.test_cli import ROOT


def test_a_row_too_wide_is_a_block_of_whole_cells(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    first, last = "2026-12-04T22:08:08.444261Z", "2026-12-04T23:59:59.999999Z"
    row = {
        "cluster": "eu-prod-1", "source": "k8s-watch", "kind": "EndpointSlice",
        "events": 123456, "first": first, "last": last,
    }  # fmt: skip
    emit_rows([row, row], list(row), OutputFormat.table, title="events")
    out = capsys.readouterr().out.splitlines()
    assert "…" not in "\n".join(out)
    assert max(len(line) for line in out) <= 80
    assert out[0] == "events" and out[1].startswith("-[ 1 ]") and "-[ 2 ]" in out[8]
    assert out[2:8] == [f"{k.ljust(7)}  {v}" for k, v in row.items()]


def test_a_table_that_fits_stays_a_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    emit_rows([{"cluster": "seed", "events": 296}], ["cluster", "events"], OutputFormat.table)
    out = capsys.readouterr().out
    assert "┃ cluster ┃ events ┃" in out and "│ seed    │ 296    │" in out


def test_a_long_value_wraps_under_its_column_whole(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    source = "kube-proxy --iptables-sync-period defaults to 30 s " * 3
    emit_rows(
        [{"name": "proxy_lag_max_s", "source": source}], ["name", "source"], OutputFormat.table
    )
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "name    proxy_lag_max_s"
    assert all(len(line) <= 60 for line in out)
    assert out[2].startswith("source  kube-proxy") and out[3].startswith(" " * 8)
    assert " ".join(line[8:] for line in out[2:]).split() == source.split()


def test_assumptions_in_a_pipe_name_each_assumption_whole(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    migrated_sqlite(tmp_path / "gapwatch.db")  # the default store, as `db upgrade` leaves it
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="80")  # gapwatch() sets 200
    done = subprocess.run(
        [sys.executable, "-m", "gapwatch.dashboard.cli", "assumptions"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    names = [line.split()[1] for line in lines if line.startswith("name ")]
    assert "proxy_lag_min_s" in names and "node_clock_s" in names
