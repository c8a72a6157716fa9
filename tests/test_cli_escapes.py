"""A name stored from the log cannot drive the terminal of whoever reads the CLI's output.

Session 31's review pushed a `cluster` of `esc\\u001b[2J\\u001b]0;pwned\\u0007x`: stored as data
(right), then printed raw: `gapwatch gaps --cluster x` listed it as a close match, which cleared
the screen and set the terminal's title, and `db stats` printed it too. Now every control
character (C0 but tab and newline, DEL, C1) reaches a person's output as its escape
(recorder/visible.py); JSON and CSV to a pipe stay exact. Real processes: the console script's
entry point, its stdout and stderr pipes read as bytes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ENTRY = "from gapwatch.dashboard.entry import main; main()"
#: ESC sequences (CSI, OSC, a bare C1 CSI), BEL, DEL, a CR that would overwrite the line
NAME = "esc\x1b[2J\x1b]0;pwned\x07x\x9b31m\x7f\rok"
NODE = "ip-10-0-1-12\x1b[5m"
SHOWN = "esc\\u001b[2J\\u001b]0;pwned\\u0007x\\u009b31m\\u007f\\u000dok"
#: what no output for people may hold: C0 but tab and newline, DEL, C1 (UTF-8: C2 80-9F)
CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")


def gapwatch(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        input=stdin,
        capture_output=True,
        timeout=300,
    )


def observation(cluster: str, node: str) -> dict[str, object]:
    return {
        "cluster": cluster,
        "kind": "ProxyHealth",
        "name": "istio-ingressgateway",
        "namespace": "istio-system",
        "node": node,
        "observed_at": "2026-11-25T09:55:46.123456Z",
        "op": "OBSERVED",
        "payload": {"error": None, "port": 31805, "status": 200, "body": {"localEndpoints": 1}},
        "previous_observed_at": "2026-11-25T09:55:45.123456Z",
        "resource_version": None,
        "source": "kube-proxy-probe",
        "source_time": None,
    }


def one_observation_store(root: Path, cluster: str, node: str) -> str:
    """A SQLite store in `root` holding one observation of this cluster and node, imported
    from standard input as anyone's file would be; its URL."""
    url = f"sqlite:///{root / 's.db'}"
    assert gapwatch("db", "upgrade", "--db", url).returncode == 0
    line = json.dumps(observation(cluster, node))
    done = gapwatch("import", "events", "--db", url, "-", stdin=line.encode() + b"\n")
    assert done.returncode == 0, done.stderr
    return url


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store holding one observation whose cluster and node carry escapes."""
    return one_observation_store(tmp_path_factory.mktemp("escapes"), NAME, NODE)


def assert_shown(output: bytes) -> None:
    assert not CONTROL.search(output), output
    assert SHOWN.encode() in output


def test_a_close_match_is_shown_not_obeyed(hostile: str) -> None:
    done = gapwatch("gaps", "--db", hostile, "--cluster", "x")
    assert done.returncode == 2
    assert b"close matches: " in done.stderr
    assert_shown(done.stderr)
    assert done.stderr.count(b"\n") == 1  # one line, the CR shown


def test_db_stats_and_sql_tables_show_the_escapes(hostile: str) -> None:
    assert_shown(gapwatch("db", "stats", "--db", hostile).stdout)
    done = gapwatch("sql", "SELECT cluster, node FROM events", "--db", hostile)
    assert done.returncode == 0, done.stderr
    assert_shown(done.stdout)
    assert b"ip-10-0-1-12\\u001b[5m" in done.stdout


def test_machine_formats_to_a_pipe_stay_exact(hostile: str) -> None:
    as_json = gapwatch("db", "stats", "--db", hostile, "--json").stdout
    assert [r["cluster"] for r in json.loads(as_json)] == [NAME]
    as_csv = gapwatch("db", "stats", "--db", hostile, "--csv").stdout
    assert NAME.encode() in as_csv  # the bytes stored (CSV has no escapes to write them as)
    rows = gapwatch("sql", "SELECT cluster FROM events", "--db", hostile, "--json").stdout
    assert json.loads(rows) == [{"cluster": NAME}]
    exported = gapwatch("export", "events", "--db", hostile).stdout.decode()
    assert json.loads(exported)["node"] == NODE


def test_a_bad_line_quoted_in_an_import_error_is_shown(hostile: str, tmp_path: Path) -> None:
    """`FILE:LINE: reason` quotes what it could not read; a line of escapes is shown."""
    bad = json.dumps(observation(NAME, NODE)).replace('"op": "OBSERVED"', '"op": "\x1b[2J"')
    done = gapwatch("import", "events", "--db", hostile, "-", stdin=bad.encode() + b"\n{\x1b[2J\n")
    assert done.returncode == 3
    assert b"<stdin>:1:" in done.stderr or b"-:1:" in done.stderr, done.stderr
    assert not CONTROL.search(done.stderr), done.stderr
