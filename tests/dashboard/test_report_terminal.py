"""`gapwatch report --format html` without `-o`, on a terminal: refused with what to type, as
`export events --format parquet` is. It poured the 4.8 MB page (Plotly's script inline) into
the terminal. Piped or redirected, it still writes the page to standard output.

A real process on a real pseudo-terminal: only there is standard output a terminal.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

from gapwatch.dashboard.demo import build_demo_store

ROOT = Path(__file__).resolve().parents[2]


def _report(url: str, *, terminal: bool) -> tuple[int, bytes, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="200")
    args = [sys.executable, "-m", "gapwatch.dashboard.cli", "report", "--format", "html"]
    if not terminal:
        done = subprocess.run(
            [*args, "--db", url], env=env, capture_output=True, timeout=120, check=False
        )
        return done.returncode, done.stdout, done.stderr.decode()
    master, slave = pty.openpty()
    shown = bytearray()

    def drain() -> None:  # a terminal reads all it is given; a full pty would block the writer
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side closed
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [*args, "--db", url], env=env, stdout=slave, stderr=subprocess.PIPE, timeout=120
        )
    finally:
        os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    return done.returncode, bytes(shown), done.stderr.decode()


def test_html_to_a_terminal_is_refused_and_to_a_pipe_written(tmp_path: Path) -> None:
    url = build_demo_store(tmp_path / "demo.db").url
    code, shown, err = _report(url, terminal=True)
    assert code == 2, err
    assert b"<!DOCTYPE" not in shown and len(shown) < 1000, len(shown)
    assert err.startswith("error: --format html is a page to open in a browser"), err
    assert "write it with -o FILE.html, or redirect standard output" in err
    code, page, err = _report(url, terminal=False)
    assert code == 0, err
    assert page.startswith(b"<!DOCTYPE html>") and len(page) > 1_000_000
