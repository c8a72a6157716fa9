"""The LB's settings reads of each Service, found once and kept by log position (replay_state).

What-if and advice replay a node-driven LB with the health-check settings its target group was
read with (replay.measure.target_group_settings: `TargetGroupAttributes` from the LB poller,
CloudTrail's `TargetChange`). Those rows carry no resourceVersion, so no index of `events` finds
them by Service: reading them scanned the cluster's whole log on every what-if (0.9 s on the
1.1M-event demo store, most of the What-if page's time). Here `remember` (run by every refresh)
scans only the events after the position it reached, by primary key, and keeps the ids of the
reads it finds; `lb_settings` reads those rows by id plus whatever came after the position.

replay_state rows: `lbset:` -> the log position scanned up to (the facts projector's, which
never passes an id that may still commit); `lbset:CLUSTER/NAMESPACE/NAME:ID` -> ID, one per
settings read. Events are append-only: a kept id stays right (retention dropping its partition
just makes the read vanish, as from the log).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, select

from gapwatch.recorder.projector import FACTS
from gapwatch.recorder.tables import events, projector_positions
from gapwatch.recorder.timefmt import to_micros, to_micros_or_none
from gapwatch.replay import state_rows
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.behind import caught_up
from gapwatch.replay.measure import Measured, Row, target_group_settings
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.tables import replay_state

#: The event kinds replay.measure reads LB settings from.
SETTINGS_KINDS = ("TargetGroupAttributes", "TargetChange")
POSITION_KEY = "lbset:"


def _prefix(svc: ServiceRef) -> str:
    return f"{POSITION_KEY}{svc.cluster}/{svc.namespace}/{svc.name}:"


def _stored(conn: Connection, low: str, high: str) -> list[int]:
    key = replay_state.c.key
    query = select(replay_state.c.value).where(key >= low, key < high)
    return [int(v) for v in conn.execute(query).scalars()]


def _position(conn: Connection) -> int:
    query = select(replay_state.c.value).where(replay_state.c.key == POSITION_KEY)
    return int(conn.execute(query).scalar() or 0)


def _positions(conn: Connection) -> tuple[int, int]:
    """`_position` and the facts projector's position, in one statement (one round trip)."""
    kept = select(replay_state.c.value).where(replay_state.c.key == POSITION_KEY)
    facts = select(projector_positions.c.position).where(projector_positions.c.name == FACTS)
    since, upto = conn.execute(select(kept.scalar_subquery(), facts.scalar_subquery())).one()
    return int(since or 0), int(upto or 0)


def remember(engine: Engine) -> int:
    """Scan the events between the kept position and the facts projector's, keep the ids of
    the settings reads found; returns how many were found.

    As projections.refresh: read first without writing (a read-only login on a current store
    never writes), then lock replay_state and check again (two refreshes at once)."""
    with caught_up(engine, _positions) as behind:
        if behind is None:
            return 0
        conn, since, upto = behind
        return _keep(conn, since, upto)


def remember_in(conn: Connection) -> int:
    """`remember` inside a transaction that already holds replay_state's lock (a refresh's:
    one commit for both)."""
    since, upto = _positions(conn)
    return _keep(conn, since, upto) if upto > since else 0


def _keep(conn: Connection, since: int, upto: int) -> int:
    t = events.c
    found = conn.execute(
        select(t.id, t.cluster, t.namespace, t.name).where(
            t.id > since, t.id <= upto, t.kind.in_(SETTINGS_KINDS)
        )
    ).all()
    rows = {
        f"{_prefix(ServiceRef(c, ns or '', name or ''))}{i}": int(i) for i, c, ns, name in found
    }
    state_rows.put(conn, {POSITION_KEY: upto, **rows})
    return len(rows)


def _rows(conn: Connection, svc: ServiceRef, where: ColumnElement[bool]) -> list[Row]:
    """The settings reads `where` selects, of the Service. The Service is matched here, not in
    SQL: given the cluster, SQLite would walk the cluster's (cluster, observed_at) index instead
    of the id range or list."""
    t = events.c
    query = select(
        t.cluster, t.namespace, t.name, t.kind, t.op, t.source, t.observed_at, t.source_time,
        t.payload,
    ).where(t.kind.in_(SETTINGS_KINDS), where)  # fmt: skip
    mine = (svc.cluster, svc.namespace, svc.name)
    return [
        Row(kind, op, source, to_micros(at), to_micros_or_none(own), payload)
        for cluster, ns, name, kind, op, source, at, own, payload in conn.execute(query)
        if (cluster, ns, name) == mine
    ]


def settings_rows(conn: Connection, svc: ServiceRef) -> list[Row]:
    """The Service's settings reads: those kept (by id) and any after the kept position."""
    prefix = _prefix(svc)
    kept = _stored(conn, prefix, prefix[:-1] + ";")  # ";" sorts right after ":"
    since = _position(conn)
    last = int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())
    rows: list[Row] = []
    if last > since:  # bounded on both sides: an index range even where statistics are stale
        rows += _rows(conn, svc, and_(events.c.id > since, events.c.id <= last))
    for start in range(0, len(kept), 500):
        rows += _rows(conn, svc, events.c.id.in_(kept[start : start + 500]))
    return rows


def lb_settings(conn: Connection, svc: ServiceRef, settings: DetectSettings) -> dict[str, Measured]:
    """The Service's target-group settings as read (else assumed): replay.measure's answer from
    the kept reads."""
    return target_group_settings(settings_rows(conn, svc), settings)
