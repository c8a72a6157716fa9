"""What every `gapwatch import FORMAT` does with its inputs before and while it writes: every
file is opened before the first batch (a missing one halfway stopped an import after some
batches were committed, and said nothing of them), `--errors` is never one of the inputs (it is
truncated when opened: the evidence was emptied), and Ctrl-C says what was committed.

The inputs as a user meets them (the console entry point in a subprocess); Ctrl-C in-process,
a KeyboardInterrupt raised where the test says, as in tests/test_cli_interrupt.py (a real SIGINT
races the work).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.importers import driver
from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import events
from tests.importers.helpers import FIXTURES
from tests.store.samples import real_observations
from tests.test_cli import gapwatch
from tests.test_cli_interrupt import store

AUDIT = FIXTURES / "falco-k8s-audit-minikube-2018.jsonl"


def stored(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(events)).scalar_one())
    engine.dispose()
    return n


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin, env={"GAPWATCH_CLUSTER": None})
    return result.exit_code, result.stderr


def an_input(fmt: str, path: Path) -> Path:
    """A good file of `fmt` (our NDJSON, or a real audit log) at `path`."""
    if fmt == "events":
        path.write_text("".join(dumps(o) + "\n" for o in real_observations()))
    else:
        path.write_bytes(AUDIT.read_bytes())
    return path


@pytest.mark.parametrize("fmt", ["events", "k8s-audit"])
def test_errors_file_that_is_an_input_is_refused_and_left_whole(tmp_path: Path, fmt: str) -> None:
    url = store(tmp_path / "s.db")
    data = an_input(fmt, tmp_path / "in.log")
    before = data.read_bytes()
    done = gapwatch("import", fmt, str(data), "--errors", str(data), "--db", url, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"Invalid value for --errors: {data} is also an input file" in done.stderr
    assert data.read_bytes() == before
    assert stored(url) == 0


@pytest.mark.parametrize("fmt", ["events", "k8s-audit"])
def test_a_missing_input_is_found_before_anything_is_written(tmp_path: Path, fmt: str) -> None:
    url = store(tmp_path / "s.db")
    data = an_input(fmt, tmp_path / "in.log")
    missing = tmp_path / "rotated.log.1"
    # batches of one line: before, the first file's batches were committed before the second
    # file was opened, and the error did not say so
    args = ("import", fmt, str(data), str(missing), "--batch-size", "1", "--db", url)
    done = gapwatch(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    said = f"error: {missing}: No such file or directory; nothing was imported"
    assert done.stderr.strip() == said
    assert stored(url) == 0
    done = gapwatch("import", fmt, str(data), str(tmp_path), "--db", url, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {tmp_path}: Is a directory; nothing was imported"
    assert stored(url) == 0


def test_ctrl_c_during_a_postmortem_import_says_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store(tmp_path / "s.db")
    real_parse = driver.parse_file

    def cut_after_5(*args: Any, **kwargs: Any) -> Iterator[driver.Outcome]:
        for n, item in enumerate(real_parse(*args, **kwargs)):
            if n == 5:  # two batches of 2 committed, the third in flight
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(driver, "parse_file", cut_after_5)
    # standard input: parsed in this thread (a file is read ahead in another)
    args = ("import", "k8s-audit", "-", "--batch-size", "2", "--db", url)
    code, err = invoke(*args, stdin=AUDIT.read_text())
    assert code == 130
    assert stored(url) == 4
    assert err.startswith("interrupted: 4 new events committed to ")
    assert "To resume, run the same command again" in err
    monkeypatch.setattr(driver, "parse_file", real_parse)
    code, err = invoke(*args, stdin=AUDIT.read_text())
    assert code == 0, err
    assert "8 observations: 4 new, 4 already stored" in err
