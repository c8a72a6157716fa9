"""Read what replay.measure needs from the event log: one Service's target-group settings reads
and the cluster's watched changes that carry the API server's own time.

The watched rows are read by kind through the object-history index (rows with a
resourceVersion), at most `WATCH_SAMPLE_LIMIT` of them: enough for a delay's tail, bounded on a
store of millions of events.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, or_, select

from gapwatch.recorder.tables import events
from gapwatch.recorder.timefmt import to_micros, to_micros_or_none
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.measure import Measured, Row, target_group_settings, watch_delay
from gapwatch.replay.model import ServiceRef

#: Most watched changes read for the watch delay (newest first are not needed: any will do).
WATCH_SAMPLE_LIMIT = 5000
#: Kinds whose ADDED (creationTimestamp) or own time (Events) dates a change.
WATCH_KINDS = ("Event", "Pod", "EndpointSlice", "Node")


@dataclass(frozen=True, slots=True)
class Measurements:
    """What the log measured for one Service (else the assumptions, said so)."""

    service: ServiceRef
    lb: dict[str, Measured]
    watch: Measured


def _settings_rows(conn: Connection, svc: ServiceRef) -> list[Row]:
    t = events.c
    query = select(t.kind, t.op, t.source, t.observed_at, t.source_time, t.payload).where(
        t.cluster == svc.cluster,
        t.kind.in_(("TargetGroupAttributes", "TargetChange")),
        t.namespace == svc.namespace,
        t.name == svc.name,
    )
    return [
        Row(kind, op, source, to_micros(at), to_micros_or_none(own), payload)
        for kind, op, source, at, own, payload in conn.execute(query)
    ]


def _watch_rows(conn: Connection, cluster: str) -> list[Row]:
    t = events.c
    first = conn.execute(
        select(t.observed_at)
        .where(t.cluster == cluster, t.source == "k8s-watch")
        .order_by(t.observed_at)
        .limit(1)
    ).scalar()
    if first is None:
        return []
    query = (
        select(t.kind, t.op, t.source, t.observed_at, t.source_time)
        .where(
            t.cluster == cluster,
            t.kind.in_(WATCH_KINDS),
            t.resource_version.is_not(None),
            t.source == "k8s-watch",
            t.source_time.is_not(None),
            or_(t.kind == "Event", and_(t.op == "ADDED", t.source_time >= first)),
        )
        .limit(WATCH_SAMPLE_LIMIT)
    )
    rows = [Row("first", "", "k8s-watch", to_micros(first), None)]
    rows += [
        Row(kind, op, source, to_micros(at), to_micros_or_none(own))
        for kind, op, source, at, own in conn.execute(query)
    ]
    return rows


def measurements(conn: Connection, svc: ServiceRef, settings: DetectSettings) -> Measurements:
    """The Service's target-group settings and its cluster's watch delay, measured or assumed."""
    lb = target_group_settings(_settings_rows(conn, svc), settings)
    watch = watch_delay(_watch_rows(conn, svc.cluster), list_s=settings.list_s)
    return Measurements(svc, lb, watch)
