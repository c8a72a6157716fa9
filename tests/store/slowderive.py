"""A derive hook the derive process can import by name (tests/store/test_derive_process.py):
replay's own, after a pause inside the projector's transaction, so that a test can kill the
process while a batch is being derived and not yet committed."""

from __future__ import annotations

import time

from sqlalchemy import Connection

from gapwatch.recorder.observation import Observation
from gapwatch.replay.facts import write_facts

PAUSE_S = 0.3


def slow_facts(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    time.sleep(PAUSE_S)
    write_facts(conn, rows)
