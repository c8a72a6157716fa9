"""Inputs that are not regular files: a pipe (`<(zcat capture.gz)`, `/dev/stdin` in a
pipeline), a FIFO (`mkfifo`), a device (`/dev/zero`), gzip on standard input.

Before (session 32's attack), every input was opened once to check it opens and once more for
its size before the import read it: a pipe's first buffer (8 KB, the whole of a small capture)
went to those looks, the import started in the middle of a line and called it line 1 (`not
valid JSON`), the rest imported as if nothing were missing; a FIFO was opened, read and closed
by the check, its writer killed by SIGPIPE, and the import waited for ever on the second open;
a gzip stream through a pipe stopped with `File or stream is not seekable`; `/dev/zero` was
skipped 16 MiB at a time for ever; gzip on standard input was read as text (every line
rejected) unless `--strict` had spooled it to a file.

The console entry point in a subprocess, fed through a real pipe or FIFO by a thread of the
test (bash's `<(...)` is such a pipe, named /dev/fd/N); nothing faked. The subprocess timeout
only stops a run that hangs, as main's did.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.importers.test_inputs import an_input, stored
from tests.test_cli import ROOT
from tests.test_cli_interrupt import store

#: copies of the sample input: past one read buffer (8 KB) and past the gzip sniff's first read
COPIES = 40


def run(
    args: list[str], *, pass_fds: tuple[int, ...] = (), stdin: bytes | None = None
) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
    environ.update(PYTHONPATH=str(ROOT), COLUMNS="200")
    child = subprocess.Popen(
        [sys.executable, "-m", "gapwatch.dashboard.cli", *args],
        env=environ, pass_fds=pass_fds, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    for fd in pass_fds:
        os.close(fd)  # the child's copy is the only reader left
    try:
        _out, err = child.communicate(stdin or b"", timeout=120)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail(f"gapwatch {' '.join(args)} still running after 120 s")
    return child.returncode, err.decode()


def feed(write: object, data: bytes) -> threading.Thread:
    """Write `data` to the pipe end `write` (an fd, or a FIFO's path) from a thread."""

    def work() -> None:
        try:
            if isinstance(write, int):
                with os.fdopen(write, "wb") as out:
                    out.write(data)
            else:
                with open(str(write), "wb") as out:  # blocks until the import opens it
                    out.write(data)
        except BrokenPipeError:  # the import closed it early: what main did
            pass

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def sample(fmt: str, tmp_path: Path) -> tuple[bytes, int]:
    """(COPIES of a good input of `fmt`, its number of records)."""
    one = an_input(fmt, tmp_path / f"one.{fmt}").read_bytes()
    return one * COPIES, one.count(b"\n") * COPIES


def summary(fmt: str, records: int) -> str:
    if fmt == "events":
        return f"{records} valid lines: "
    return f"{records} records: "


@pytest.mark.parametrize("fmt", ["events", "k8s-audit"])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_pipe_is_read_whole_from_its_first_line(
    tmp_path: Path, fmt: str, compressed: bool
) -> None:
    url = store(tmp_path / "s.db")
    data, records = sample(fmt, tmp_path)
    read, write = os.pipe()
    thread = feed(write, gzip.compress(data) if compressed else data)
    code, err = run(["import", fmt, f"/dev/fd/{read}", "--db", url], pass_fds=(read,))
    thread.join()
    assert code == 0, err
    assert summary(fmt, records) in err
    assert "rejected" not in err.replace("0 rejected", "")
    assert stored(url) > 0


def test_a_fifo_is_opened_once_and_read_whole(tmp_path: Path) -> None:
    url = store(tmp_path / "s.db")
    data, records = sample("events", tmp_path)
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    thread = feed(fifo, gzip.compress(data))
    code, err = run(["import", "events", str(fifo), "--db", url])
    thread.join(timeout=10)
    assert code == 0, err
    assert summary("events", records) in err


def test_a_fifo_whose_every_line_is_rejected_gets_no_hint_that_reopens_it(tmp_path: Path) -> None:
    # the hint reads a rejected file's first records again: a FIFO would wait for a writer
    url = store(tmp_path / "s.db")
    data, records = sample("events", tmp_path)
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    thread = feed(fifo, data)
    code, err = run(["import", "k8s-audit", str(fifo), "--db", url])
    thread.join(timeout=10)
    assert code == 3, err
    assert f"{records} records: 0 imported" in err


def test_strict_refuses_a_pipe_it_could_read_only_once(tmp_path: Path) -> None:
    url = store(tmp_path / "s.db")
    data, _records = sample("events", tmp_path)
    read, write = os.pipe()
    thread = feed(write, data)
    code, err = run(
        ["import", "events", "--strict", f"/dev/fd/{read}", "--db", url], pass_fds=(read,)
    )
    thread.join()
    assert code == 1, err
    assert f"error: /dev/fd/{read} is a pipe, which can be read once, and --strict" in err
    assert err.rstrip().endswith("nothing was imported")
    assert stored(url) == 0


@pytest.mark.parametrize("fmt", ["events", "k8s-watch"])
def test_a_device_is_refused_before_anything_is_read(tmp_path: Path, fmt: str) -> None:
    url = store(tmp_path / "s.db")
    code, err = run(["import", fmt, "/dev/zero", "--db", url])
    assert code == 1, err
    assert err.strip() == (
        "error: /dev/zero: a character device, not a file or a pipe; nothing was imported"
    )


def test_gzip_on_standard_input_is_read_as_gzip(tmp_path: Path) -> None:
    url = store(tmp_path / "s.db")
    data, records = sample("events", tmp_path)
    code, err = run(["import", "events", "-", "--db", url], stdin=gzip.compress(data))
    assert code == 0, err
    assert summary("events", records) in err
    assert "0 rejected" in err
