"""The CI fault table's `sigkill` row: tests/lab/faultrow.py's tests on `gapwatch lab table --only
sigkill` (the simulator's seed-3node cluster over the lab's wire-level fakes, recorded by real
`gapwatch record` subprocesses into the session's real PostgreSQL)."""

from tests.lab.faultrow import *  # noqa: F403 (its tests and pytestmark)

FAULT = "sigkill"
LAB_ARGS = ("lab", "table", "--only", FAULT)
