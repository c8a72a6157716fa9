"""The dashboard's errors, under the recorder's base so the CLI prints them as one line.

GapwatchError (recorder.errors)
└── DashboardError        the dashboard could not do what was asked
    └── QueryError        a SQL console query failed
        ├── QueryRejected     it tried to change something (the console is read-only)
        │   └── UnsafeLogin   the console's database login could escape the reader role
        └── QueryTimeout      it ran longer than the console's statement timeout
"""

from __future__ import annotations

from gapwatch.recorder.errors import GapwatchError


class DashboardError(GapwatchError):
    """The dashboard could not do what was asked."""


class QueryError(DashboardError):
    """A SQL console query failed (bad SQL, unknown table, ...)."""


class QueryRejected(QueryError):
    """The query tried to write, or to do something the read-only console does not allow."""


class QueryTimeout(QueryError):
    """The query ran past the console's statement timeout and was cancelled."""


class UnsafeLogin(QueryRejected):
    """The console's PostgreSQL login is privileged (or cannot become gapwatch_reader): refused."""
