"""The replay engine's API for the dashboard and the CLI: thin, typed, engine in, model out.

Windows, rollouts and timelines (lane segments, by time range) come from the projections
(brought up to date first); what-if and advice fold the one Service's facts on demand. Times
are aware datetimes or None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, or_, select, text

from gapwatch.recorder.progresslines import Track
from gapwatch.recorder.store import translate_errors
from gapwatch.recorder.timefmt import from_micros, to_micros, to_micros_or_none
from gapwatch.replay import advise as advise_mod
from gapwatch.replay import (
    checkpoint_file,
    openness_scope,
    owned,
    projections,
    retained,
    scope,
    segment_store,
)
from gapwatch.replay import measure as measure_mod
from gapwatch.replay import openness as openness_mod
from gapwatch.replay import whatif as whatif_mod
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.catchup import catch_up
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.fold import FoldState
from gapwatch.replay.load import load_state
from gapwatch.replay.logclock import LogClock, log_clocks
from gapwatch.replay.measure import Measured, measured_values
from gapwatch.replay.measure_store import Measurements
from gapwatch.replay.measure_store import measurements as _measurements
from gapwatch.replay.model import Advice, Rollout, Segment, ServiceRef, WhatIf, Window
from gapwatch.replay.rollout_range import rollout_range
from gapwatch.replay.tables import replay_rollouts, replay_windows

_SERVICES = """
SELECT DISTINCT cluster, namespace, name FROM facts
WHERE fact IN ('health', 'nodeport', 'target')
   OR (fact = 'service' AND text1 = 'Local' AND state IN ('LoadBalancer', 'NodePort'))
ORDER BY cluster, namespace, name
"""


def services(engine: Engine) -> list[ServiceRef]:
    """The LB-facing Services the store knows: those the projections computed (a few rows of
    replay_state), or, on a store whose projections predate that record, a pass over the facts."""
    refresh(engine)
    with translate_errors(engine), engine.connect() as conn:
        known = scope.stored_services(conn)
        if known is not None:
            return known
        return [ServiceRef(c, ns or "", n or "") for c, ns, n in conn.execute(text(_SERVICES))]


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
    query = _filtered(select(*scope.WINDOW_COLUMNS), t, cluster, service, since, until)
    query = query.order_by(t.c.start_us, t.c.namespace, t.c.service, t.c.node)
    with translate_errors(engine), engine.connect() as conn:
        return [scope.window_from_row(r) for r in conn.execute(query)]


def rollouts(
    engine: Engine,
    *,
    cluster: str | None = None,
    service: str | ServiceRef | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    known: Sequence[Window] | None = None,
) -> list[Rollout]:
    """Rollouts and node disruptions with their windows, in start order.

    `known`: the windows `windows` gave for the same filters, where the caller has them (the
    Overview): a rollout's windows among them are not read again, only those outside the time
    range (a rollout's windows are its Service's, so the cluster and Service filters hold them
    all); without a time filter nothing more is read."""
    refresh(engine)
    if isinstance(service, ServiceRef):
        cluster, service = service.cluster, service.key
    t = replay_rollouts
    query = _filtered(select(t), t, cluster, service, since, until).order_by(t.c.start_us, t.c.id)
    by_rollout: dict[str, list[Window]] = {}
    with translate_errors(engine), engine.connect() as conn:
        rows = list(conn.execute(query))
        ids = sorted({r.id for r in rows})
        w = replay_windows
        order = (w.c.start_us, w.c.namespace, w.c.service, w.c.node)
        outside = _outside(w, since, until) if known is not None else None
        if known is not None:
            wanted = set(ids)
            for win in known:
                if win.rollout in wanted:
                    by_rollout.setdefault(str(win.rollout), []).append(win)
        for i in range(0, len(ids), 500) if outside is not False else ():  # these rollouts'
            mine = select(*scope.WINDOW_COLUMNS).where(w.c.rollout.in_(ids[i : i + 500]))
            if outside is not None:
                mine = mine.where(outside)
            for row in conn.execute(mine.order_by(*order)):
                win = scope.window_from_row(row)
                by_rollout.setdefault(str(win.rollout), []).append(win)
    if known is not None and outside is not False:  # known and read apart: in the read's order
        for wins in by_rollout.values():
            wins.sort(key=lambda x: (x.start_us, x.service.namespace, x.service.name, x.node))
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


def _outside(table: Any, since: datetime | None, until: datetime | None) -> Any:
    """The condition on windows outside `_filtered`'s time range; False without a time filter
    (no window is outside it)."""
    conds = []
    if since is not None:
        conds.append(table.c.end_us < to_micros_or_none(since))
    if until is not None:
        conds.append(table.c.start_us >= to_micros_or_none(until))
    return or_(*conds) if conds else False


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
    rollout: Rollout | None = None,
) -> list[Window]:
    """The windows the recorded timeline would have had under other settings (those that
    overlap [since, until)); `rollout`: only the windows it owns (replay.owned), over its range
    (replay.rollout_range) unless both bounds are given. With both bounds, from the
    projections and the facts around the range only (replay.scope); else the Service's whole
    history is folded."""
    if rollout is not None and since is None and until is None:
        since, until = _rollout_bounds(engine, rollout)
    if since is not None and until is not None:
        return scope.whatif(load_scope(engine, service, since, until), settings, rollout)
    catch_up(engine)
    state = load_state(engine, service=service)
    lo, hi = to_micros_or_none(since), to_micros_or_none(until)
    assumed = assumptions(engine)
    lb = measured_lb(engine, service)
    found = [
        w
        for w in whatif_mod.whatif(state, settings, [service], assumed, lb=lb)
        if (lo is None or w.end_us >= lo) and (hi is None or w.start_us < hi)
    ]
    return found if rollout is None else owned.owner(state, rollout, (), assumed).owned(found)


def _rollout_bounds(engine: Engine, rollout: Rollout) -> tuple[datetime, datetime]:
    lo, hi = rollout_range(rollout, assumptions(engine))
    return from_micros(lo), from_micros(hi)


def load_scope(
    engine: Engine, service: ServiceRef, since: datetime, until: datetime
) -> scope.Scope:
    """The Service over [since, until) for what-if and advice (projections refreshed first)."""
    refresh(engine)
    with translate_errors(engine), engine.connect() as conn:
        settings = projections.stored_settings(conn)
        return scope.load(conn, service, to_micros(since), to_micros(until), settings)


def advise(
    engine: Engine,
    service: ServiceRef,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    rollout: Rollout | None = None,
) -> Advice:
    """Measured lags and the smallest settings that close every observed window (of those
    that overlap [since, until), when both are given: replay.scope); `rollout`: of those, the
    ones it owns (replay.owned), over its range (replay.rollout_range) unless both bounds are
    given."""
    if rollout is not None and since is None and until is None:
        since, until = _rollout_bounds(engine, rollout)
    if since is not None and until is not None:
        return scope.advise(load_scope(engine, service, since, until), rollout)
    catch_up(engine)
    return _advise(engine, service, load_state(engine, service=service))


def _advise(engine: Engine, service: ServiceRef, state: FoldState) -> Advice:
    measured = measurements(engine, service).lb
    return advise_mod.advise(state, service, assumptions(engine), measured)


def advise_and_openness(
    engine: Engine, service: ServiceRef, windows: Sequence[Window]
) -> tuple[Advice, dict[Window, openness_mod.Openness]]:
    """`advise(engine, service)` (everything recorded) and `openness(engine, service,
    windows)` from one fold of the Service's facts (a postmortem asks for both: on the large
    demo store each fold is ~14 s)."""
    catch_up(engine)
    state = load_state(engine, service=service)
    possible = _possible(engine, windows, service)
    why = openness_mod.openness(state, possible, assumptions(engine)) if possible else {}
    return _advise(engine, service, state), why


def _possible(engine: Engine, windows: Sequence[Window], service: ServiceRef) -> list[Window]:
    """The Service's possible windows among `windows` whose samples the store still holds
    (`retention_dropped` gives the others)."""
    possible = [w for w in windows if not w.certain and w.service == service]
    if not possible:
        return []
    gone = set(retained.dropped(possible, retained.first_events_us(engine, [service.cluster])))
    return [w for w in possible if w not in gone]


def retention_advice_note(engine: Engine, service: ServiceRef, windows: Sequence[Window]) -> str:
    """What an advice over `windows` (the Service's) cannot answer for: those whose timeline
    retention dropped (replay.retained.advice_note); empty without one."""
    first = retained.first_events_us(engine, [service.cluster])
    return retained.advice_note(len(retained.before_held(windows, first)), len(windows))


def retention_lanes_note(
    engine: Engine, service: ServiceRef, since_us: int | None, segments: Sequence[Segment]
) -> str:
    """A sentence when the lanes of a range from `since_us` (None: from the start) that a
    retention dropped and a rebuild did not keep are missing from `segments` (the lanes read
    for it): replay.retained.lanes_gone_note; empty otherwise. Reads the cluster's first held
    event and, only when the range begins before it, the Service's windows."""
    first = retained.first_events_us(engine, [service.cluster])[service.cluster]
    if first is not None and since_us is not None and since_us >= first:
        return ""
    before = any(first is None or s.start_us < first for s in segments)
    kept = 0 if before else len(retained.before_held(windows(engine, service=service), {
        service.cluster: first
    }))  # fmt: skip
    return retained.lanes_gone_note(service.cluster, since_us, first, before, kept)


def retention_kept_note(
    engine: Engine, windows: Sequence[Window], rollouts: Sequence[Rollout] = ()
) -> str:
    """A sentence on the windows and rollouts among these that an earlier replay computed from
    events retention dropped since, kept as they were (replay.retained.kept_note); empty
    without one. Reads the first held event of their clusters (an index lookup each)."""
    clusters = {w.service.cluster for w in windows} | {r.service.cluster for r in rollouts}
    if not clusters:
        return ""
    return retained.kept_note(windows, rollouts, retained.first_events_us(engine, sorted(clusters)))


def retention_dropped(engine: Engine, windows: Sequence[Window]) -> tuple[list[Window], str]:
    """The possible windows among `windows` whose samples retention dropped (`openness` does
    not read them: the facts left would call recorded lanes unrecorded), and a sentence saying
    so (empty without one: replay.retained)."""
    possible = [w for w in windows if not w.certain]
    if not possible:
        return [], ""
    first = retained.first_events_us(engine, [w.service.cluster for w in possible])
    gone = retained.dropped(possible, first)
    return gone, retained.dropped_note(gone, first)


def openness(
    engine: Engine, service: ServiceRef, windows: Sequence[Window]
) -> dict[Window, openness_mod.Openness]:
    """Why each possible window of the Service among `windows` (as `windows(...)` gives them)
    is only possible, and what would have decided it (replay.openness): from the whole store's
    fold a long-running process keeps when it is current (replay.checkpoint_file: the
    dashboard following a recorder), else from the facts around the windows and the
    projections (replay.openness_scope: the cost is the windows' span, not the Service's
    history), else (projections that predate its stored values, CloudTrail membership calls)
    from one fold of the Service's facts; {} without a possible window (nothing folded). A
    window whose samples retention dropped is left out (`retention_dropped`)."""
    possible = _possible(engine, windows, service)
    if not possible:
        return {}
    catch_up(engine)
    settings = assumptions(engine)
    with checkpoint_file.current(engine) as kept:  # a long-running process's, when current
        if kept is not None:
            return openness_mod.openness(kept, possible, settings)
    refresh(engine)  # the scoped read rests on the projections' stored values
    with translate_errors(engine), engine.connect() as conn:
        scoped = openness_scope.scoped_openness(conn, service, possible, settings)
    if scoped is not None:
        return scoped
    return openness_mod.openness(load_state(engine, service=service), possible, settings)


def measurements(engine: Engine, service: ServiceRef) -> Measurements:
    """What the log measured for the Service (LB health-check settings, watch delay), each
    said to be measured (from how many samples) or assumed (the default and its source)."""
    assumed = assumptions(engine)
    with translate_errors(engine), engine.connect() as conn:
        return _measurements(conn, service, assumed)


def log_evidence(
    engine: Engine, service: ServiceRef, reads: Mapping[str, Measured]
) -> tuple[dict[str, Measured], Measured, LogClock | None]:
    """What `gapwatch assumptions` prints beside the settings read from the events (`reads`:
    `measurements(...).lb`), from one fold of the Service's facts: its target-group settings
    as detection used them (the poller's and CloudTrail's Create/ModifyTargetGroup statements:
    replay.measure.stated_reads), the watch skew detection used, and its LB access log's
    clock against its windows (replay.logclock; None: no failed line tied to its nodes)."""
    settings = assumptions(engine)
    found = windows(engine, service=service)
    state = load_state(engine, service=service)
    return (
        measure_mod.stated_reads(state, service, reads),
        measure_mod.watch_skew(state, service, settings),
        log_clocks(state, found, settings).get(service),
    )


def gate_evidence(engine: Engine, service: ServiceRef) -> Measured:
    """The ProxyTerminatingEndpoints gate detection reads for the Service's cluster, measured
    (kube-proxy's feature-gate metric, its /configz) or assumed (replay.gate_reading)."""
    from gapwatch.replay.gate_reading import gate_reading

    state = load_state(engine, service=service)
    return gate_reading(state, service.cluster, assumptions(engine))


def lag_bound_evidence(engine: Engine, service: ServiceRef) -> Measured:
    """kube-proxy's lag bound where the probes measured too few lags: 2 x the sync period the
    Service's nodes stated in their /configz, or the assumption (replay.syncperiod)."""
    from gapwatch.replay.syncperiod import lag_bound_reading

    state = load_state(engine, service=service)
    return lag_bound_reading(state, service, assumptions(engine))


def measured_lb(engine: Engine, service: ServiceRef) -> dict[str, float]:
    """The LB settings the log measured for the Service (name -> value; only measured ones)."""
    return measured_values(measurements(engine, service).lb)


def assumptions(engine: Engine) -> DetectSettings:
    """The assumptions the projections are computed with (replay_state `assume:*` rows)."""
    with translate_errors(engine), engine.connect() as conn:
        return projections.stored_settings(conn)


def refresh(
    engine: Engine, *, checkpoint: Checkpoint | None = None, track: Track | None = None
) -> int:
    """Incremental projection update (facts caught up with the log first); returns the events
    processed. A long-running caller passes the same `checkpoint` every time (it holds the
    whole store's fold state: new facts are folded into it, not history re-folded). `track`:
    each step's progress (recorder.progresslines), for a command's first read of a large store."""
    catch_up(engine, track=track)
    return projections.refresh(engine, checkpoint=checkpoint, track=track)
