"""The lab's end-to-end run, once per test file that names one in LAB_ARGS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.labcli import Run, run_in_own_database


@pytest.fixture(scope="session")
def lab_baselines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's `--baseline-cache`: six of the runs share one scenario, seed and settings,
    so one computes the baseline (three gapwatch subprocesses) and the others read it."""
    return tmp_path_factory.mktemp("lab-baselines")


@pytest.fixture(scope="module")
def lab_run(
    request: pytest.FixtureRequest, pg_template: str | None, lab_baselines: Path
) -> Iterator[Run]:
    """`gapwatch LAB_ARGS` (the module's) once for the module, in its own empty database."""
    yield from run_in_own_database(pg_template, *request.module.LAB_ARGS, cache=lab_baselines)
