"""Alembic environment: the schema is gapwatch.recorder.tables.metadata, which the recorder's
tables and replay's read model (gapwatch.replay.tables) are defined on.

`recorder.store.upgrade` hands a live connection in through `config.attributes["connection"]`;
the plain `alembic` command line uses `sqlalchemy.url` (or GAPWATCH_DB) instead.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

import gapwatch.replay.tables  # noqa: F401  (defines its tables on the same MetaData)
from gapwatch.recorder.tables import compared, metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=compared(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(
        "GAPWATCH_DB", "sqlite:///gapwatch.db"
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
