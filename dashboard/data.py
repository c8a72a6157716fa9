"""What the pages read: the replay API's answers, narrowed by the filters, plus raw events.

The only module of the dashboard that touches the store. Everything is a plain function of an
Engine so the app can cache it and the benchmark can time it without Streamlit. The rollout page
asks the replay engine for the lanes of the rollout's nodes over the visible range only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from gapwatch.dashboard.eventcount import count_events
from gapwatch.dashboard.filters import Filters
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.tables import events
from gapwatch.recorder.timefmt import format_time, from_micros
from gapwatch.replay import api
from gapwatch.replay.model import Rollout, Segment, ServiceRef, Window

#: How much time the rollout page shows before and after a rollout.
MARGIN_US = 15_000_000

#: The `events` columns the rollout page lists for a window's events: all but the store's own
#: bookkeeping (the cluster is the page's already).
EVENT_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in events.columns if c.name not in ("cluster", "dedupe_key", "recorded_at")
)


@dataclass(frozen=True, slots=True)
class StoreInfo:
    events: int
    last_id: int
    first: datetime | None
    last: datetime | None
    clusters: list[str]


def store_info(engine: Engine) -> StoreInfo:
    """Counts and extent of the log; `last_id` changes whenever something new was recorded.

    The clusters by a skip scan of the (cluster, observed_at) index (one seek per cluster, not
    a pass over the log), each cluster's first and last time by a seek at either end; the count
    from the last look at the store plus the events recorded since (dashboard.eventcount: a
    pass over the log only when retention or a new store changed its beginning). One snapshot
    (PostgreSQL: repeatable read), so the count and the extent describe the same log."""
    e = events.c
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with translate_errors(engine), engine.connect().execution_options(**options) as conn:
        last_id = int(conn.execute(select(func.coalesce(func.max(e.id), 0))).scalar_one())
        clusters: list[str] = []
        firsts: list[Any] = []
        lasts: list[Any] = []
        while True:
            query = select(func.min(e.cluster))
            if clusters:
                query = query.where(e.cluster > clusters[-1])
            found = conn.execute(query).scalar()
            if found is None:
                break
            clusters.append(found)
            first = conn.execute(select(func.min(e.observed_at)).where(e.cluster == found))
            firsts.append(first.scalar_one())
            last = conn.execute(select(func.max(e.observed_at)).where(e.cluster == found))
            lasts.append(last.scalar_one())
        seen = list(zip(clusters, firsts, strict=True))
        count = count_events(conn, str(engine.url), last_id, seen)
    from gapwatch.recorder.tables import UTCDateTime

    conv = UTCDateTime().process_result_value
    return StoreInfo(
        events=count,
        last_id=last_id,
        first=conv(min(firsts), engine.dialect) if firsts else None,
        last=conv(max(lasts), engine.dialect) if lasts else None,
        clusters=sorted(clusters),
    )


def last_event_id(engine: Engine) -> int:
    with translate_errors(engine), engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())


def services(engine: Engine, filters: Filters) -> list[ServiceRef]:
    return [s for s in api.services(engine) if filters.matches(s)]


def _filtered(engine: Engine, filters: Filters) -> dict[str, Any]:
    return {
        "cluster": filters.cluster,
        "service": _service_ref(engine, filters),
        "since": filters.since,
        "until": filters.until,
    }


def windows(engine: Engine, filters: Filters) -> list[Window]:
    return list(api.windows(engine, **_filtered(engine, filters)))


def rollouts(
    engine: Engine, filters: Filters, known: Sequence[Window] | None = None
) -> list[Rollout]:
    """`known`: `windows` of the same filters, where the caller read them (the Overview): the
    rollouts' windows among them are not read again (replay.api.rollouts)."""
    return list(api.rollouts(engine, **_filtered(engine, filters), known=known))


def _service_ref(engine: Engine, filters: Filters) -> ServiceRef | None:
    if filters.service is None:
        return None
    for svc in api.services(engine):
        if filters.matches(svc):
            return svc
    ns, name = filters.service.split("/", 1)
    return ServiceRef(filters.cluster or "", ns, name)


@dataclass(frozen=True, slots=True)
class RolloutPage:
    """Everything the rollout page draws: the rollout, its lanes over the range, its windows."""

    rollout: Rollout
    segments: list[Segment]
    windows: list[Window]
    since_us: int
    until_us: int
    #: the lanes of the range that a retention dropped and a rebuild did not keep, in a
    #: sentence (api.retention_lanes_note); empty when none is missing
    lanes_note: str = ""


def _nodes(rollout: Rollout) -> list[str] | None:
    return list(rollout.nodes) or sorted({w.node for w in rollout.windows}) or None


def visible_range(
    rollout: Rollout, since_us: int | None = None, until_us: int | None = None
) -> tuple[int, int]:
    """The range the page shows: as asked, else the rollout with a margin either side."""
    lo = since_us if since_us is not None else rollout.start_us - MARGIN_US
    hi = until_us if until_us is not None else rollout.end_us + MARGIN_US
    return lo, hi


def slice_page(
    rollout: Rollout, segments: Sequence[Segment], since_us: int, until_us: int
) -> RolloutPage:
    """Pure: the page's view of `segments`: the rollout's nodes, overlapping the range."""
    nodes = _nodes(rollout)
    keep = set(nodes) if nodes else None
    return RolloutPage(
        rollout=rollout,
        segments=[
            s
            for s in segments
            if (keep is None or s.node in keep)
            and s.start_us < until_us
            and (s.end_us is None or s.end_us > since_us)
        ],
        windows=[w for w in rollout.windows if w.end_us >= since_us and w.start_us <= until_us],
        since_us=since_us,
        until_us=until_us,
    )


def rollout_page(
    engine: Engine,
    rollout: Rollout,
    *,
    since_us: int | None = None,
    until_us: int | None = None,
) -> RolloutPage:
    """The lanes of the rollout's nodes over the visible range, asked of the replay engine for
    that range and those nodes only."""
    lo, hi = visible_range(rollout, since_us, until_us)
    segments = api.timeline(
        engine, rollout.service, since=from_micros(lo), until=from_micros(hi), nodes=_nodes(rollout)
    )
    page = slice_page(rollout, segments, lo, hi)
    note = api.retention_lanes_note(engine, rollout.service, lo, page.segments)
    return replace(page, lanes_note=note) if note else page


def node_lanes(
    engine: Engine, service: ServiceRef, node: str, since_us: int, until_us: int
) -> list[Segment]:
    """One node's lanes over a time range, with no rollout: how a link opens a window that
    belongs to no rollout or node disruption."""
    return api.timeline(
        engine, service, since=from_micros(since_us), until=from_micros(until_us), nodes=[node]
    )


def events_by_id(engine: Engine, ids: Iterable[int]) -> list[dict[str, Any]]:
    """The stored events with these ids, in id order, as rows for a table."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    cols = [events.c[name] for name in EVENT_COLUMNS]
    with translate_errors(engine), engine.connect() as conn:
        rows = conn.execute(select(*cols).where(events.c.id.in_(wanted)).order_by(events.c.id))
        return [_event_row(dict(r._mapping)) for r in rows]


def _event_row(row: dict[str, Any]) -> dict[str, Any]:
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = format_time(value)
    payload = row.get("payload")
    if not isinstance(payload, str):
        import orjson

        row["payload"] = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    return row


def window_event_ids(win: Window) -> list[int]:
    return sorted(set(win.opened_by) | set(win.closed_by))


def service_rows(
    svcs: Sequence[ServiceRef], wins: Sequence[Window], rolls: Sequence[Rollout]
) -> list[dict[str, Any]]:
    """One row per LB-facing service: its windows, gap-seconds and rollouts in the range."""
    rows = []
    for svc in svcs:
        mine = [w for w in wins if w.service == svc]
        rows.append(
            {
                "cluster": svc.cluster,
                "service": svc.key,
                "windows": len(mine),
                "gap_s": round(sum(w.duration_s for w in mine), 6),
                "rollouts": sum(1 for r in rolls if r.service == svc),
                "nodes_hit": len({w.node for w in mine}),
            }
        )
    return rows
