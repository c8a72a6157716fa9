"""The CI fault table's `poison` row: tests/lab/faultrow.py's tests on `gapwatch lab table --only
poison` (the simulator's seed-3node cluster over the lab's wire-level fakes, recorded by real
`gapwatch record` subprocesses into the session's real PostgreSQL)."""

from tests.lab.faultrow import *  # noqa: F403 (its tests and pytestmark)

FAULT = "poison"
LAB_ARGS = ("lab", "table", "--only", FAULT)
