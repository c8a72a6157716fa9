"""Reading back a source's checkpoints: what `Emitted.checkpoint` stored with its batch.

A checkpoint is `(cluster, source, key) -> value` (any JSON), committed in the same transaction
as the observations put before it (recorder.spool), so a source that resumes from it loses and
duplicates nothing. Any source may keep several keys (the Kubernetes source: one per stream).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import source_checkpoints


def read_checkpoints(conn: Connection, *, cluster: str, source: str) -> dict[str, Any]:
    """key -> value of every checkpoint `source` stored for `cluster` (inside a transaction)."""
    query = source_checkpoints.select().where(
        source_checkpoints.c.cluster == cluster, source_checkpoints.c.source == source
    )
    return {row.key: row.value for row in conn.execute(query)}


def load_checkpoints(engine: Engine, *, cluster: str, source: str) -> dict[str, Any]:
    """`read_checkpoints` in a connection of its own."""
    with translate_errors(engine), engine.connect() as conn:
        return read_checkpoints(conn, cluster=cluster, source=source)
