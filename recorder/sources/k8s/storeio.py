"""What the watchers read back from the event store: last recorded state and checkpoints.

After a restart a watcher resumes from its checkpoint (`source_checkpoints`, written in the same
transaction as the events it covers) and knows the last recorded version of every object (the
newest `k8s-watch` row per object that is not a DELETED), so a relist after 410 Gone diffs against
what the store holds, not against nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import suppress
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select

from gapwatch.recorder.sources.k8s.noop import fingerprint
from gapwatch.recorder.sources.k8s.resources import SOURCE
from gapwatch.recorder.sources.k8s.state import Key, Known, LastRow, Version
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import events, source_checkpoints
from gapwatch.recorder.timefmt import parse_time


def _scope(cluster: str, kind: str, namespace: str | None) -> Any:
    where = and_(events.c.cluster == cluster, events.c.source == SOURCE, events.c.kind == kind)
    if namespace:
        where = and_(where, events.c.namespace == namespace)
    return where


#: Per (kind, namespace): the stored objects themselves (load_start's `objects_of`).
StoredObjects = dict[tuple[str, str | None], list[Mapping[str, Any]]]


def load_start(
    engine: Engine,
    *,
    cluster: str,
    streams: list[tuple[str, str | None]],
    objects_of: Collection[str] = (),
) -> tuple[dict[str, str], dict[tuple[str, str | None], Known], StoredObjects]:
    """Resume points, per (kind, namespace) the known state, and the stored objects of the kinds
    in `objects_of` (what a watch resumed without a relist never sends again: the ClusterView's
    Nodes and Services), from one snapshot.

    Rows and checkpoints are committed together, so reading both in one REPEATABLE READ
    transaction (PostgreSQL) gives a checkpoint that matches the rows: neither older (events
    replayed against newer state) nor newer (objects missing from the state).
    """
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    objects: StoredObjects = {}
    with translate_errors(engine), engine.connect() as conn:
        conn = conn.execution_options(**options)
        with conn.begin():
            known = {
                (kind, ns): _known(
                    conn,
                    cluster=cluster,
                    kind=kind,
                    namespace=ns,
                    objects=objects.setdefault((kind, ns), []) if kind in objects_of else None,
                )
                for kind, ns in streams
            }
            points = _resume_points(conn, cluster=cluster)
    return points, known, objects


def _resume_points(conn: Connection, *, cluster: str) -> dict[str, str]:
    query = source_checkpoints.select().where(
        source_checkpoints.c.cluster == cluster, source_checkpoints.c.source == SOURCE
    )
    return {
        row.key: str(row.value["resourceVersion"])
        for row in conn.execute(query)
        if isinstance(row.value, dict) and row.value.get("resourceVersion")
    }


def _known(
    conn: Connection,
    *,
    cluster: str,
    kind: str,
    namespace: str | None,
    objects: list[Mapping[str, Any]] | None = None,
) -> Known:
    newest = (
        select(func.max(events.c.id))
        .where(_scope(cluster, kind, namespace))
        .group_by(events.c.namespace, events.c.name)
    )
    query = select(
        events.c.namespace, events.c.name, events.c.op, events.c.resource_version, events.c.payload
    ).where(events.c.id.in_(newest))
    known: Known = {}
    for row in conn.execute(query):
        if row.op == "DELETED" or row.resource_version is None:
            continue
        key = (row.namespace or "", row.name or "")
        known[key] = Version(row.resource_version, fingerprint(kind, row.payload))
        if objects is not None and isinstance(row.payload, Mapping):
            objects.append(row.payload)
    return known


def load_last(
    engine: Engine, *, cluster: str, kind: str, namespace: str | None, keys: list[Key]
) -> dict[Key, LastRow]:
    """The newest stored row of each of `keys` (absent when nothing was stored)."""
    found: dict[Key, LastRow] = {}
    wanted = set(keys)
    names = sorted({name for _, name in keys})
    with translate_errors(engine), engine.connect() as conn:
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            newest = (
                select(func.max(events.c.id))
                .where(_scope(cluster, kind, namespace), events.c.name.in_(chunk))
                .group_by(events.c.namespace, events.c.name)
            )
            query = select(
                events.c.namespace,
                events.c.name,
                events.c.op,
                events.c.resource_version,
                events.c.payload,
            ).where(events.c.id.in_(newest))
            for row in conn.execute(query):
                key = (row.namespace or "", row.name or "")
                if key in wanted:
                    found[key] = LastRow(row.op, row.resource_version, row.payload)
    return found


def load_resume_times(
    engine: Engine, *, cluster: str, streams: Collection[tuple[str, str | None]]
) -> dict[str, datetime]:
    """stream -> when the stream was last known in sync up to its checkpoint's resourceVersion
    (the recorder's clock: the start of a stretch a relist after 410 Gone may pass over).

    That is the checkpoint's `at`, as the watcher stamped it. A checkpoint written before the
    watcher stamped them (an older recorder) has none: then the newest stored observation of that
    stream (same cluster, `k8s-watch`, that kind, that namespace scope), whose `observed_at` is a
    clock reading at which the watch had just delivered it, so the stream was in sync then. The
    bound holds because a row and the checkpoint that covers it commit in one transaction: the
    checkpoint is at or past every stored row of its stream, so what a relist passes over was
    written after that row's moment (minus the delivery delay replay's `watch_skew_s` allows
    for, as for a stamp). It is never later than the true moment (bookmarks and no-op updates
    move the checkpoint without a row), so the stretch can only be longer, never hide a change.
    No stored row: none (unknown; replay then reaches back to the start of the data).
    Both read in one snapshot, like `load_start`.
    """
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    query = source_checkpoints.select().where(
        source_checkpoints.c.cluster == cluster, source_checkpoints.c.source == SOURCE
    )
    wanted = {kind + (f"/{ns}" if ns else ""): (kind, ns) for kind, ns in streams}
    out: dict[str, datetime] = {}
    with translate_errors(engine), engine.connect() as conn:
        conn = conn.execution_options(**options)
        with conn.begin():
            for row in conn.execute(query).all():
                value = row.value if isinstance(row.value, dict) else {}
                at = value.get("at")
                if isinstance(at, str):
                    with suppress(ValueError):
                        out[row.key] = parse_time(at)
                if row.key in out or row.key not in wanted or not value.get("resourceVersion"):
                    continue
                newest = conn.execute(
                    select(func.max(events.c.observed_at)).where(_scope(cluster, *wanted[row.key]))
                ).scalar()
                if newest is not None:
                    out[row.key] = newest
    return out


def load_resume_points(engine: Engine, *, cluster: str) -> dict[str, str]:
    """stream ("Pod", "Pod/ns") -> the resourceVersion its last committed batch reached."""
    with translate_errors(engine), engine.connect() as conn:
        return _resume_points(conn, cluster=cluster)
