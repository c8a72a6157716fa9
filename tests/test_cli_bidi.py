"""A stored name's bidirectional controls and zero-width characters are shown in the CLI's
output for people, kept exact in its machine formats to a pipe.

Session 31 left them: `visible` escaped C0 and C1 only, so a cluster of `prod` + U+202E
(RIGHT-TO-LEFT OVERRIDE) + `ved` was printed as is, and a terminal drew it reversed after the
override ("Trojan Source", CVE-2021-42574); a zero-width space made `prod` and `prod\\u200b`
two clusters that read alike. Real processes, their stdout and stderr pipes read as bytes.
"""

from __future__ import annotations

import json
import unicodedata

import pytest

from tests.test_cli_escapes import gapwatch, one_observation_store

CLUSTER = "prod\u202eved\u2066x\u2069\u200b"
NODE = "ip-10-0-1-12\u200d\U000e0041"
SHOWN = b"prod\\u202eved\\u2066x\\u2069\\u200b"
NODE_SHOWN = b"ip-10-0-1-12\\u200d\\udb40\\udc41"


def hidden(output: bytes) -> list[str]:
    """The format characters (Cf) and line separators (Zl, Zp) in `output`."""
    text = output.decode()
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cf", "Zl", "Zp")]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return one_observation_store(tmp_path_factory.mktemp("bidi"), CLUSTER, NODE)


def test_a_close_match_shows_the_override(store: str) -> None:
    done = gapwatch("gaps", "--db", store, "--cluster", "prod")
    assert done.returncode == 2
    assert hidden(done.stderr) == [] and SHOWN in done.stderr, done.stderr


def test_tables_show_the_controls(store: str) -> None:
    stats = gapwatch("db", "stats", "--db", store).stdout
    assert hidden(stats) == [] and SHOWN in stats, stats
    done = gapwatch("sql", "SELECT cluster, node FROM events", "--db", store)
    assert done.returncode == 0, done.stderr
    assert hidden(done.stdout) == [], done.stdout
    assert SHOWN in done.stdout and NODE_SHOWN in done.stdout


def test_machine_formats_to_a_pipe_keep_the_stored_bytes(store: str) -> None:
    as_json = gapwatch("db", "stats", "--db", store, "--json").stdout
    assert [r["cluster"] for r in json.loads(as_json)] == [CLUSTER]
    as_csv = gapwatch("db", "stats", "--db", store, "--csv").stdout
    assert CLUSTER.encode() in as_csv
    rows = gapwatch("sql", "SELECT cluster, node FROM events", "--db", store, "--csv").stdout
    assert rows.decode().splitlines()[1] == f"{CLUSTER},{NODE}"
    exported = json.loads(gapwatch("export", "events", "--db", store).stdout)
    assert (exported["cluster"], exported["node"]) == (CLUSTER, NODE)
