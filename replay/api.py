"""The replay engine's API for the dashboard and the CLI: thin, typed, engine in, model out.

Windows, rollouts and timelines (lane segments, by time range) come from the projections
(brought up to date first); what-if and advice fold the one Service's facts on demand. Times
are aware datetimes or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, text

from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.timefmt import to_micros, to_micros_or_none
from gapwatch.replay import advise as advise_mod
from gapwatch.replay import projections, segment_store
from gapwatch.replay import whatif as whatif_mod
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.catchup import catch_up
from gapwatch.replay.load import load_state
from gapwatch.replay.model import Advice, Rollout, Segment, ServiceRef, WhatIf, Window
from gapwatch.replay.tables import replay_rollouts, replay_windows

_SERVICES = """
SELECT DISTINCT cluster, namespace, name FROM facts
WHERE fact IN ('health', 'nodeport', 'target')
   OR (fact = 'service' AND text1 = 'Local' AND state IN ('LoadBalancer', 'NodePort'))
ORDER BY cluster, namespace, name
"""


def services(engine: Engine) -> list[ServiceRef]:
    """The LB-facing Services the store knows."""
    catch_up(engine)
    with translate_errors(engine), engine.connect() as conn:
        return [ServiceRef(c, ns or "", n or "") for c, ns, n in conn.execute(text(_SERVICES))]


def _window(r: Any) -> Window:
    m = r._mapping
    return Window(
        service=ServiceRef(m["cluster"], m["namespace"], m["service"]),
        node=m["node"],
        cls=m["class"],
        start_us=m["start_us"],
        end_us=m["end_us"],
        start_earliest_us=m["start_earliest_us"],
        start_latest_us=m["start_latest_us"],
        end_earliest_us=m["end_earliest_us"],
        end_latest_us=m["end_latest_us"],
        provenance=m["provenance"],
        opened_by=tuple(int(x) for x in m["opened_by"].split(",") if x),
        closed_by=tuple(int(x) for x in m["closed_by"].split(",") if x),
        rollout=m["rollout"],
        failed_requests=m["failed_requests"],
        certain=bool(m["certain"]),
    )


def _filtered(query: Any, table: Any, cluster: str | None, service: str | None,
              since: datetime | None, until: datetime | None) -> Any:  # fmt: skip
    if cluster is not None:
        query = query.where(table.c.cluster == cluster)
    if service is not None:
        namespace, _, name = service.partition("/")
        query = query.where(table.c.namespace == namespace, table.c.service == name)
    if since is not None:
        query = query.where(table.c.end_us >= to_micros_or_none(since))
    if until is not None:
        query = query.where(table.c.start_us < to_micros_or_none(until))
    return query


def windows(
    engine: Engine,
    *,
    cluster: str | None = None,
    service: str | ServiceRef | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Window]:
    """Gap windows (projection, refreshed first), in start order."""
    refresh(engine)
    if isinstance(service, ServiceRef):
        cluster, service = service.cluster, service.key
    t = replay_windows
    query = _filtered(select(t), t, cluster, service, since, until).order_by(
        t.c.start_us, t.c.namespace, t.c.service, t.c.node
    )
    with translate_errors(engine), engine.connect() as conn:
        return [_window(r) for r in conn.execute(query)]


def rollouts(
    engine: Engine,
    *,
    cluster: str | None = None,
    service: str | ServiceRef | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Rollout]:
    """Rollouts and node disruptions with their windows, in start order."""
    found = windows(engine, cluster=cluster, service=service)
    by_rollout: dict[str, list[Window]] = {}
    for w in found:
        if w.rollout:
            by_rollout.setdefault(w.rollout, []).append(w)
    if isinstance(service, ServiceRef):
        cluster, service = service.cluster, service.key
    t = replay_rollouts
    query = _filtered(select(t), t, cluster, service, since, until).order_by(t.c.start_us, t.c.id)
    with translate_errors(engine), engine.connect() as conn:
        rows = list(conn.execute(query))
    return [
        Rollout(
            id=r.id,
            service=ServiceRef(r.cluster, r.namespace, r.service),
            kind=r.kind,
            workload=r.workload,
            revision_from=r.revision_from,
            revision_to=r.revision_to,
            start_us=r.start_us,
            end_us=r.end_us,
            windows=tuple(by_rollout.get(r.id, ())),
            nodes=tuple(n for n in r.nodes.split(",") if n),
        )
        for r in rows
    ]


def timeline(
    engine: Engine,
    service: ServiceRef,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    nodes: Sequence[str] | None = None,
) -> list[Segment]:
    """Every lane segment of the Service's (chosen) nodes that overlaps [since, until).

    Read from the segments projection (brought up to date first): the cost is the range's
    segments, not the Service's history; the answer is the full fold's (replay.segment_store)."""
    refresh(engine)
    with translate_errors(engine), engine.connect() as conn:
        return segment_store.read_range(
            conn, service, to_micros_or_none(since), to_micros_or_none(until), nodes
        )


def state_at(engine: Engine, service: ServiceRef, at: datetime) -> list[Segment]:
    """What every lane of every node held at `at` (the segments overlapping [at, at + 1 us))."""
    us = to_micros(at)
    refresh(engine)
    with translate_errors(engine), engine.connect() as conn:
        return segment_store.read_range(conn, service, us, us + 1)


def whatif(
    engine: Engine,
    service: ServiceRef,
    settings: WhatIf,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Window]:
    """The windows the recorded timeline would have had under other settings."""
    catch_up(engine)
    state = load_state(engine, service=service)
    lo, hi = to_micros_or_none(since), to_micros_or_none(until)
    assumed = assumptions(engine)
    return [
        w
        for w in whatif_mod.whatif(state, settings, [service], assumed)
        if (lo is None or w.end_us >= lo) and (hi is None or w.start_us < hi)
    ]


def advise(engine: Engine, service: ServiceRef) -> Advice:
    """Measured lags and the smallest settings that close every observed window."""
    catch_up(engine)
    return advise_mod.advise(load_state(engine, service=service), service, assumptions(engine))


def assumptions(engine: Engine) -> DetectSettings:
    """The assumptions the projections are computed with (replay_state `assume:*` rows)."""
    with translate_errors(engine), engine.connect() as conn:
        return projections.stored_settings(conn)


def refresh(engine: Engine) -> int:
    """Incremental projection update (facts caught up with the log first); returns the events
    processed."""
    catch_up(engine)
    return projections.refresh(engine)
