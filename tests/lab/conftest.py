"""The lab's end-to-end run, once per test file that names one in LAB_ARGS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.labcli import Run, run_in_own_database


@pytest.fixture(scope="module")
def lab_run(request: pytest.FixtureRequest, pg_template: str | None) -> Iterator[Run]:
    """`gapwatch LAB_ARGS` (the module's) once for the module, in its own empty database."""
    yield from run_in_own_database(pg_template, *request.module.LAB_ARGS)
