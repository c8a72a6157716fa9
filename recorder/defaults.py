"""Defaults every command shares, importable without loading the store's libraries.

`gapwatch --help` shows them, so they live apart from store.py (SQLAlchemy, Alembic), which
re-exports them.
"""

from __future__ import annotations

#: The event store when no --db / GAPWATCH_DB is given: SQLite in the current directory.
DEFAULT_URL = "sqlite:///gapwatch.db"
