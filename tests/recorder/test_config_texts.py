"""A recorder config whose `db`, `cluster` or `listen` is not text is a one-line error.

Session 29's security review: `db:` written as a YAML list ended `gapwatch record` in a 101-line
traceback (`'list' object has no attribute 'strip'`). Now one line names the key, never the
value (a `db` holds a password), and the exit is 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import gapwatch

SECRET = "Hunter2Secret"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("db", f"[postgresql://rec:{SECRET}@db:5432/gw]"),
        ("db", f"{{url: postgresql://rec:{SECRET}@db:5432/gw}}"),
        ("cluster", "[prod]"),
        ("listen", "8080"),
    ],
)
def test_a_key_that_is_not_text_is_named_in_one_line(tmp_path: Path, key: str, value: str) -> None:
    config = tmp_path / "recorder.yaml"
    lines = {"cluster": "prod", "db": f"sqlite:///{tmp_path / 'store.db'}"}
    lines[key] = value
    config.write_text("".join(f"{k}: {v}\n" for k, v in lines.items()))
    done = gapwatch("record", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1
    said = done.stdout + done.stderr
    assert f"{config}: {key}: expected text" in said
    assert "Traceback" not in said and SECRET not in said
    assert len(said.strip().splitlines()) == 1, said
