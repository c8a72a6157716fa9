"""`gapwatch probe` refuses bad input with a usage error naming the option, and a store that is
not migrated with one clean line (the real entry point, in a subprocess)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from tests.kubeproxy.probeproc import GAPWATCH

OK = ["--service", "default/nginx", "--health-check-node-port", "31805", "--node", "n1=10.0.0.1"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--service": "nginx"}, "expected NAMESPACE/NAME"),
        ({"--node": "10.0.0.1"}, "expected NAME=ADDRESS"),
        ({"--health-check-node-port": None}, "give --health-check-node-port, --node-port or both"),
        # the settings' own names (interval_s, a config file's key) were in these messages
        ({"--interval": "0.01"}, "Invalid value for --interval: must be 0.1..3600"),
        ({"--timeout": "-1"}, "Invalid value for --timeout: must be above 0 and at most 60"),
        ({"--heartbeat": "0.5"}, "Invalid value for --heartbeat: must be at least --interval"),
        ({"--duration": "0"}, "must be above 0"),
        ({"--health-check-node-port": "70000"}, "70000 is not a TCP port (1-65535)"),
        ({"--healthz-port": "0"}, "0 is not a TCP port (1-65535)"),
    ],
)
def test_bad_options_are_usage_errors(change: dict[str, str | None], message: str) -> None:
    args: list[str] = []
    given: dict[str, str | None] = dict(zip(OK[::2], OK[1::2], strict=True))
    given.update(change)
    for key, value in given.items():
        if value is not None:
            args += [key, value]
    result = CliRunner().invoke(app, ["probe", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output


def test_an_unmigrated_store_is_one_clean_line(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "new.db").close()  # there, but never migrated
    db = f"sqlite:///{tmp_path / 'new.db'}"
    done = subprocess.run(
        [GAPWATCH, "probe", *OK, "--duration", "1", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: the store {db} is empty: run `gapwatch db upgrade` with the same --db (or "
        "GAPWATCH_DB)"
    ]
