"""An input of one huge line is refused in bounded memory (session 29's security review).

Every reader cuts a line at 16 MiB (recorder/ndjson.py MAX_LINE_BYTES), but the hint that runs
when every record was rejected (recorder/importers/sniff.py) looked for a `/metrics` page by
iterating the file's lines whole: `gapwatch import elb-access-log` of a file of one 400 MB line
peaked at 878 MB, 2.2 times the line, for that hint alone. Now 167 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.test_cli import ROOT

LINE_MB = 200
#: The import's peak resident memory allowed: an import of a small file peaks near 85 MB here,
#: the 16 MiB line reader adds a few chunks; reading the line whole would add 2 x 200 MB.
PEAK_LIMIT_MB = 300

#: Runs one gapwatch command as its only child and prints that child's peak resident size.
_MEASURE = (
    "import resource, subprocess, sys; "
    "done = subprocess.run([sys.executable, '-m', 'gapwatch.dashboard.cli', *sys.argv[1:]], "
    "capture_output=True, text=True); "
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024); "
    "print(done.stderr, file=sys.stderr)"
)


def test_a_file_of_one_huge_line_is_rejected_in_bounded_memory(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    source = tmp_path / "huge.log"
    with source.open("wb") as out:
        out.write(b'h2 2026-12-01T10:00:01.000000Z app/web/1 1.2.3.4:5 10.0.1.12:31805 "GET /')
        chunk = b"a" * (1024 * 1024)
        for _ in range(LINE_MB):
            out.write(chunk)
        out.write(b' HTTP/1.1"\n')
    db = migrated_sqlite(tmp_path / "store.db")  # as `gapwatch db upgrade --db` leaves it
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
    environ.update(PYTHONPATH=str(ROOT))
    args = ["import", "elb-access-log", str(source), "--db", db]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    code, peak_mb = (int(v) for v in done.stdout.split())
    assert code == 3, done.stderr
    assert "line longer than 16777216 bytes" in done.stderr
    assert peak_mb < PEAK_LIMIT_MB, f"peak {peak_mb} MB for a {LINE_MB} MB line"
