"""A store URL's password never reaches the screen, a log line or an error, whatever is wrong
with the URL; and a password typed on the command line (`--db`), where every user of the
machine can read it in `ps`, is pointed out (README.md, "Commands")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import gapwatch

PASSWORD = "PLANTEDpw9"

#: URLs wrong in the ways people get them wrong, each with the password in it.
BAD_URLS = [
    f"postgresql:/gw:{PASSWORD}@127.0.0.1/db",  # one slash short
    f"gw:{PASSWORD}@127.0.0.1:5432/db",  # no scheme at all
    f"postgresql://gw:{PASSWORD}@127.0.0.1:54x2/db",  # a port that is not a number
    f"postgresql://gw:{PASSWORD}@127.0.0.1:1/db",  # nothing listens
    f"postgresql://gw:{PASSWORD}@127.0.0.1:1/db?sslmode=bogus",
    f"mysql://gw:{PASSWORD}@127.0.0.1/db",
]
#: Commands that open the store each their own way.
COMMANDS = [
    ["gaps"],
    ["db", "upgrade"],
    ["sql", "SELECT 1"],
]


@pytest.mark.parametrize("url", BAD_URLS, ids=range(len(BAD_URLS)))
def test_a_bad_url_is_one_line_without_its_password(url: str, tmp_path: Path) -> None:
    for command in COMMANDS:
        done = gapwatch(*command, cwd=tmp_path, GAPWATCH_DB=url)
        said = done.stdout + done.stderr
        assert done.returncode == 1, (command, said)
        assert "Traceback" not in said and "╭" not in said, (command, said)
        assert PASSWORD not in said, (command, said)
        assert done.stderr.startswith("error: "), (command, said)
