"""Drop a console query's connection once the server is past the query's deadline and grace.

`statement_timeout` asks the backend to stop; it stops at its next look for a cancel, which
PostgreSQL makes between a plan's steps and inside some functions, but not between the calls of
one expression: `SELECT array_length(array_fill(1, ARRAY[100000000]), 1) + ...` three times
answered a 2 s query after 14.8 s, and a query of a thousand such calls would hold the
dashboard's thread (and `gapwatch sql`) for hours (session 38). Nothing a login may do stops
that backend sooner (`pg_terminate_backend` is looked for at the same places), so the console
stops *waiting*: at the deadline plus `grace_s` the connection's socket is shut (the file
descriptor psycopg gives, `Connection.fileno()`, duplicated so that psycopg's own stays its to
close), the waiting call fails at once, and the query is reported as timed out. The backend runs
on until its expression ends and then finds its client gone; deploy/sql/roles.sql's
`CONNECTION LIMIT` on the console login bounds how many such backends one login can leave.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from gapwatch.recorder.sockshut import shut_duplicate


class Watchdog:
    """Shut `conn`'s socket after `after_s` seconds unless stopped first."""

    def __init__(self, conn: psycopg.Connection[Any], after_s: float) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._stopped = False
        self.fired = False
        self._timer = threading.Timer(max(0.0, after_s), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.fired = True
            try:
                fileno = self._conn.fileno()
            except psycopg.Error:
                return  # already closed
            shut_duplicate(fileno)

    def stop(self) -> None:
        """No shutdown after this returns (call before closing the connection)."""
        with self._lock:
            self._stopped = True
        self._timer.cancel()
