"""What the watchers read back from the event store: last recorded state and checkpoints.

After a restart a watcher resumes from its checkpoint (`source_checkpoints`, written in the same
transaction as the events it covers) and knows the last recorded version of every object (the
newest `k8s-watch` row per object that is not a DELETED; every object change has a
resourceVersion), so a relist after 410 Gone diffs against
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


def _objects(cluster: str, kind: str, namespace: str | None) -> Any:
    """The stored changes of one stream's objects, from any source. `resource_version IS NOT
    NULL` (every object change has one) is what lets PostgreSQL and SQLite use the partial
    object-history index (recorder/tables.py); without it they cannot."""
    where = and_(
        events.c.cluster == cluster, events.c.kind == kind, events.c.resource_version.is_not(None)
    )
    if namespace:
        where = and_(where, events.c.namespace == namespace)
    return where


def _scope(cluster: str, kind: str, namespace: str | None) -> Any:
    """The stored changes of one stream's objects that a watch recorded."""
    return and_(_objects(cluster, kind, namespace), events.c.source == SOURCE)


_ROW = (
    events.c.namespace,
    events.c.name,
    events.c.op,
    events.c.resource_version,
    events.c.payload,
    events.c.source,
)


def _newest(
    conn: Connection, cluster: str, kind: str, namespace: str | None, names: list[str] | None
) -> list[Any]:
    """The newest row a watch recorded of each object of the stream (of those named `names`).

    The newest row per object is found from the index alone (an index-only scan: the index has
    no `source`), whatever recorded it; only an object whose newest row another source wrote
    (an import of audit events or objects into the same cluster) is looked up again with the
    source, row by row. On 200,000 rows of the realistic mix, filtering on `source` first made
    PostgreSQL scan every row (no index fits) or fetch each row of the stream from the heap
    (benchmarks/resume_queries.py: benchmarks/README.md has the plans and times)."""
    where = _objects(cluster, kind, namespace)
    if names is not None:
        where = and_(where, events.c.name.in_(names))
    group = (events.c.namespace, events.c.name)
    newest = select(func.max(events.c.id)).where(where).group_by(*group)
    rows = list(conn.execute(select(*_ROW).where(events.c.id.in_(newest))))
    others = {(r.namespace, r.name) for r in rows if r.source != SOURCE}
    if not others:
        return rows
    mine = [r for r in rows if r.source == SOURCE]
    listed = sorted({name for _, name in others if name is not None})
    for start in range(0, len(listed), 500):
        chunk = listed[start : start + 500]
        scoped = and_(_scope(cluster, kind, namespace), events.c.name.in_(chunk))
        again = select(func.max(events.c.id)).where(scoped).group_by(*group)
        found = conn.execute(select(*_ROW).where(events.c.id.in_(again)))
        mine += [r for r in found if (r.namespace, r.name) in others]
    return mine


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
    known: Known = {}
    for row in _newest(conn, cluster, kind, namespace, None):
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
            for row in _newest(conn, cluster, kind, namespace, names[start : start + 500]):
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
