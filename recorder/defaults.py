"""Defaults every command shares, importable without loading the store's libraries.

`gapwatch --help` shows them, so they live apart from store.py (SQLAlchemy, Alembic), which
re-exports them.
"""

from __future__ import annotations

#: The event store when no --db / GAPWATCH_DB is given: SQLite in the current directory.
DEFAULT_URL = "sqlite:///gapwatch.db"
#: Seconds to wait for a PostgreSQL server to answer a new connection (libpq `connect_timeout`;
#: the URL's own `?connect_timeout=N` wins). Without it a server that accepts the TCP connection
#: and never answers hung every command silently, and a dropped SYN took the kernel's ~2 minutes.
#: The same 10 s as the Kubernetes watcher's connect timeout.
PG_CONNECT_TIMEOUT_S = 10
#: PostgreSQL: day partitions created ahead of today (the recorder and `db maintain`): a recorder
#: whose maintenance fails for a week still writes into day partitions, not into the default one.
DEFAULT_AHEAD_DAYS = 7
