"""A value with a bare CR comes back from a standard CSV reader as the same value.

`csv.writer(out, lineterminator="\\n")` quotes what holds a delimiter, a quote or a LF, not a
bare CR: `a\\rb` went out unquoted and Python's csv module (as pandas and spreadsheets) read it
as two rows (session 31 found it). Every CSV gapwatch writes: `--csv` tables (`db stats`),
`gapwatch sql --csv`, `export events --format csv`, and the SQL console's download. Real
processes for the CLI, their stdout read as bytes from a pipe.
"""

from __future__ import annotations

import csv
import io

import pytest

from gapwatch.dashboard.sqlconsole import QueryResult, to_csv
from tests.test_cli_escapes import gapwatch, one_observation_store

CLUSTER = "a\rb"
NODE = "ip-10-0-1-12\r\n\rx"


def read(output: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(output.decode(), newline="")))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return one_observation_store(tmp_path_factory.mktemp("cr"), CLUSTER, NODE)


def test_the_cli_csv_outputs_read_back_the_same_values(store: str) -> None:
    stats = read(gapwatch("db", "stats", "--db", store, "--csv").stdout)
    assert [r[0] for r in stats] == ["cluster", CLUSTER]
    done = gapwatch("sql", "SELECT cluster, node, 'x' || char(13) AS t FROM events", "--db",
                    store, "--csv")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert read(done.stdout) == [["cluster", "node", "t"], [CLUSTER, NODE, "x\r"]]
    exported = read(gapwatch("export", "events", "--db", store, "--format", "csv").stdout)
    head, row = exported
    assert (row[head.index("cluster")], row[head.index("node")]) == (CLUSTER, NODE)


def test_rows_still_end_in_a_line_feed(store: str) -> None:
    out = gapwatch("sql", "SELECT 1 AS n, 'y' AS m", "--db", store, "--csv").stdout
    assert out == b"n,m\n1,y\n"


def test_the_consoles_download_reads_back_the_same_values() -> None:
    result = QueryResult(columns=["v", "w"], rows=[("a\rb", None), ("c", 2)], truncated=False,
                         elapsed_s=0.0)  # fmt: skip
    text = to_csv(result)
    assert read(text.encode()) == [["v", "w"], ["a\rb", ""], ["c", "2"]]
    assert text.endswith("c,2\n")
