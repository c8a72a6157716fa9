"""Materialized projections: windows, rollouts, lag samples and lane segments, from facts.

`rebuild` recomputes everything from the facts (optionally re-deriving the facts from the events
first); `refresh` processes only the events after the stored last event id: it finds the Services
those facts touch (directly, or through a pod's namespace or a node), recomputes each of them from
its facts and replaces its rows. A Service is always recomputed whole, so incremental and
from-scratch give identical rows (tests/replay/test_projections.py). All in one transaction.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, nullcontext
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, delete, insert, or_, select, text

from gapwatch.recorder.dburl import store_key
from gapwatch.recorder.progresslines import Track
from gapwatch.recorder.store import translate_errors
from gapwatch.replay import factrow as F
from gapwatch.replay import (
    kept_rows,
    node_cache,
    node_rows,
    openness_scope,
    revision,
    scope,
    segment_tail,
    settings_reads,
    state_rows,
)
from gapwatch.replay.assumptions import (
    DEFAULTS,
    STATE_PREFIX,
    DetectSettings,
    from_state,
    to_state,
)
from gapwatch.replay.behind import caught_up
from gapwatch.replay.checkpoint import Checkpoint, cluster_values, lane_versions, touched
from gapwatch.replay.context import nodes_of
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, lb_facing
from gapwatch.replay.group import group
from gapwatch.replay.impact import Impact, access_impact
from gapwatch.replay.lags import LagSample, lag_samples
from gapwatch.replay.load import fold_stored, no_gc, rederive_facts
from gapwatch.replay.logclock import counted
from gapwatch.replay.model import Rollout, ServiceRef, Window
from gapwatch.replay.projection_rows import write_rows
from gapwatch.replay.segment_store import (
    delete_service,
    segment_rows,
    write_stored,
    write_tails,
)
from gapwatch.replay.segments import lane_segments
from gapwatch.replay.tables import (
    replay_segments,
    replay_state,
)

log = structlog.get_logger("gapwatch.replay.projections")

STATE_KEY = "last_event_id"
#: replay_state: bumped by every re-derivation of the facts (replay.checkpoint_file)
EPOCH_KEY = "facts_epoch"
#: replay_state: the facts projector's `rederived` count the projections were built with (a
#: range of facts derived again since, by the recorder in the background: rebuilt)
REDERIVED_KEY = "facts_rederived"
_REDERIVED = "(SELECT coalesce(max(rederived), 0) FROM projector_positions WHERE name = 'facts')"


def compute(
    state: FoldState,
    services: Sequence[ServiceRef],
    settings: DetectSettings = DEFAULTS,
    impact: Impact | None = None,
    cache: node_cache.Cache | None = None,
    *,
    on_node: Callable[[float], None] | None = None,
) -> tuple[list[Window], list[Rollout], list[LagSample]]:
    """Windows (with rollout ids and failed requests), rollouts and lags of the Services
    (`impact`: `impact.access_impact(state)`, when the caller keeps it; `cache`: the windows
    per node found last time, replay.node_cache; `on_node(1)` after each node's detection)."""
    with no_gc():
        if cache is None:
            found = detect(state, services, settings, on_node=on_node)
        else:
            if impact is None and state.access:
                impact = access_impact(state)
            found = []
            for svc in services:
                found += node_cache.windows(state, svc, settings, cache, impact, on_node=on_node)
            found.sort(key=lambda w: (w.start_us, w.service, w.node))
        # failed access-log lines counted on the LB's clock (replay.logclock)
        windows = counted(state, found, settings, impact=impact)
        rollouts, windows = group(state, windows, services, settings)
        return windows, rollouts, lag_samples(state, services, settings)


def _replace(
    conn: Connection,
    svc: ServiceRef,
    settings: DetectSettings,
    state: FoldState | None = None,
    nodes: Sequence[str] | None = None,
    impact: Impact | None = None,
    cache: node_cache.Cache | None = None,
    kept: node_rows.Kept | None = None,
    on_node: Callable[[float], None] | None = None,
    context: dict[str, int] | None = None,
    facing: AbstractSet[ServiceRef] | None = None,
) -> None:
    """Recompute the Service's rows from `state` (None: its own facts, folded from the start)
    and rewrite those that changed; its lane segments only on `nodes` (None: every node);
    `kept`: the rows each Service stored last time (replay.node_rows); `on_node`, `context`:
    `_write`'s; `facing`: `lb_facing(state)`, when the caller has it."""
    if state is None:
        state = fold_stored(conn, FoldState(), service=svc)
    if svc not in (facing if facing is not None else lb_facing(state)):
        for table, _at in kept_rows.KEPT:  # but the rows of a span retention dropped
            kept_rows.delete_service(conn, table, svc.cluster, svc.namespace, svc.name)
        delete_service(conn, svc)
        if not kept_rows.holds(conn, svc.cluster, svc.namespace, svc.name):
            _forget_context(conn, svc)  # else the readers know it by its context
        if kept is not None:
            kept.pop(svc, None)
        return
    _write(conn, state, [svc], settings, nodes, diff=True, impact=impact, cache=cache, kept=kept,
           on_node=on_node, context=context)  # fmt: skip


def _write(
    conn: Connection,
    state: FoldState,
    services: Sequence[ServiceRef],
    settings: DetectSettings,
    nodes: Sequence[str] | None = None,
    *,
    diff: bool = False,
    impact: Impact | None = None,
    cache: node_cache.Cache | None = None,
    kept: node_rows.Kept | None = None,
    on_node: Callable[[float], None] | None = None,
    context: dict[str, int] | None = None,
) -> None:
    """Compute the Services' rows and store them: inserted (`diff` False: the tables hold none
    of theirs) or as a diff against the one Service's stored rows (with `cache` and `kept`:
    node by node, replay.node_rows; the segments of a node whose rows are kept only on its
    moved lanes, from where their inputs changed: replay.segment_tail); `on_node(1)` after
    each node's detection (a progress bar's advance: one Service on 300 nodes is one long
    step); their context rows (replay.scope) added to `context` for the caller to store with
    its own replay_state rows (one statement), or stored here where it is None."""
    if cache is not None and kept is not None:
        impact = access_impact(state) if impact is None else impact
        for svc in services:
            node_rows.write_service(
                conn, state, svc, settings, impact, cache, kept, empty=not diff, on_node=on_node
            )
    else:
        windows, rollouts, lags = compute(state, services, settings, impact, cache, on_node=on_node)
        write_rows(conn, windows, rollouts, lags, services[0] if diff else None)
    moved: dict[str, int] = {}
    for svc in services:
        mine = {**scope.context_rows(state, svc, settings),
                **openness_scope.context_rows(state, svc, settings)}  # fmt: skip
        rows = kept.get(svc) if kept is not None else None
        if rows is not None:  # the context it stored last time, kept with its rows
            stored, rows.context = rows.context, mine
            if diff and stored:  # only the values that moved (a refresh moves a few of ~700)
                mine = {k: v for k, v in mine.items() if stored.get(k) != v}
        moved.update(mine)
    if context is not None:
        context.update(moved)
    elif moved:
        _store_context(conn, moved)
    with no_gc():
        for svc in services:
            if nodes is not None and not nodes:
                continue  # no lane of any node changed
            rows = kept.get(svc) if kept is not None else None
            held = rows.segments if rows is not None else None
            versions = lane_versions(state, svc, settings) if held is not None else {}
            if held is not None and nodes is not None and all(n in held for n in nodes):
                # the moved lanes from where their inputs changed (replay.segment_tail)
                found = segment_tail.tails(state, svc, nodes, held, versions, settings)
                if found is not None and write_tails(conn, svc, found, held, versions):
                    continue
            segs = segment_rows(lane_segments(state, svc, nodes, settings=settings))
            write_stored(conn, svc, segs, nodes, held, versions)


def _store_context(conn: Connection, rows: dict[str, int]) -> None:
    state_rows.put(conn, rows)


def _forget_context(conn: Connection, svc: ServiceRef | None = None) -> None:
    """Drop the stored context of one Service (of every one: None)."""
    pattern = "ctx:%" if svc is None else scope.context_key(svc, "%")
    conn.execute(delete(replay_state).where(replay_state.c.key.like(pattern)))


def _forget_context_but(conn: Connection, prefixes: set[str]) -> None:
    """Drop the stored context of every Service but those whose keys start with one of
    `prefixes` (none: every Service's, `_forget_context`)."""
    if not prefixes:
        _forget_context(conn)
        return
    keys = conn.execute(
        select(replay_state.c.key).where(replay_state.c.key.like("ctx:%"))
    ).scalars()
    gone = [k for k in keys if not any(k.startswith(p) for p in prefixes)]
    for i in range(0, len(gone), 10_000):
        conn.execute(delete(replay_state).where(replay_state.c.key.in_(gone[i : i + 10_000])))


def _state_value(conn: Connection, key: str) -> int:
    value = conn.execute(
        select(replay_state.c.value).where(replay_state.c.key == key)
    ).scalar_one_or_none()
    return int(value or 0)


def _last(conn: Connection) -> int:
    return _state_value(conn, STATE_KEY)


def facts_epoch(conn: Connection) -> int:
    """How many times the facts were re-derived (a fold state of older facts is void)."""
    return _state_value(conn, EPOCH_KEY)


def positions(conn: Connection) -> tuple[int, int]:
    """`_last` and `_max_fact_event` in one statement (one round trip, twice a refresh): the
    last fact event the projections hold, and the store's newest."""
    last, newest, _built, _moved = looks(conn)
    return last, newest


#: `_due`'s position for projections that other code built (replay.revision), or built before
#: the recorder derived a range of their facts again (recorder.derivedby): behind any store
STALE = -1


def _due(conn: Connection) -> tuple[int, int]:
    """`positions`, the projections' position read as `STALE` where projections exist that
    another revision of replay's code built (or one from before the revision was recorded), or
    that were built before facts below their position were derived again: what a refresh must
    bring up to date, in the same one statement."""
    last, newest, built, moved = looks(conn)
    stale = last > 0 and (built != revision.current() or moved)
    return (STALE if stale else last), newest


def looks(conn: Connection) -> tuple[int, int, int | None, bool]:
    """The last fact event the projections hold, the store's newest, the replay revision
    that built them (None: not recorded), and whether facts were derived again since, in the
    one statement a refresh's look sends."""

    def value(key: str) -> Any:
        return select(replay_state.c.value).where(replay_state.c.key == key).scalar_subquery()

    last, newest, built, rederived, seen = conn.execute(
        select(
            value(STATE_KEY),
            text("(SELECT coalesce(max(event_id), 0) FROM facts)"),
            value(revision.KEY),
            text(_REDERIVED),
            value(REDERIVED_KEY),
        )
    ).one()
    moved = int(rederived or 0) != int(seen or 0)
    return int(last or 0), int(newest), None if built is None else int(built), moved


def _built_with(conn: Connection) -> dict[str, int]:
    """What the projections record of what built them: this replay code's revision and the
    facts projector's `rederived` count."""
    rederived = int(conn.execute(text(f"SELECT {_REDERIVED}")).scalar_one())
    return {revision.KEY: revision.current(), REDERIVED_KEY: rederived}


def _set_last(conn: Connection, value: int) -> None:
    state_rows.put(conn, {STATE_KEY: value})


def _max_fact_event(conn: Connection) -> int:
    return int(conn.execute(text("SELECT coalesce(max(event_id), 0) FROM facts")).scalar_one())


def stored_settings(conn: Connection) -> DetectSettings:
    """The assumptions the stored projections were computed with (the defaults when none are
    recorded)."""
    return _settings_and_kept(conn)[0]


def _settings_and_kept(conn: Connection) -> tuple[DetectSettings, dict[str, int | None], bool]:
    """`stored_settings`, the boundaries of the rows kept from a span retention dropped and
    whether a retention marked the store since (replay.kept_rows), in one statement."""
    rows = conn.execute(
        select(replay_state.c.key, replay_state.c.value).where(
            or_(replay_state.c.key.like(STATE_PREFIX + "%"), kept_rows.state_keys())
        )
    ).all()
    found = {k: int(v) for k, v in rows}
    bounds, marked = kept_rows.stored(found)
    return from_state(found), bounds, marked


def _store_settings(conn: Connection, settings: DetectSettings) -> None:
    state_rows.put(conn, to_state(settings))


def rebuild(
    engine: Engine,
    *,
    rederive: bool = False,
    settings: DetectSettings | None = None,
    checkpoint: Checkpoint | None = None,
    track: Track | None = None,
    forget_dropped: bool = False,
) -> int:
    """Recompute every projection from scratch, under `settings` (None: the ones recorded, else
    the defaults), and record them; returns the number of windows. The rows of the span
    retention dropped are kept (replay.kept_rows) unless `forget_dropped`. `checkpoint` (if
    given) keeps the folded state for the next `refresh`; `track` (recorder.progresslines) shows
    each step's progress: on a large store a rebuild takes minutes."""
    step = track or _untracked
    if checkpoint is not None:
        checkpoint.forget()
    if rederive:
        with translate_errors(engine), engine.begin() as conn:  # saved fold states are void
            epoch = _state_value(conn, EPOCH_KEY) + 1
            conn.execute(delete(replay_state).where(replay_state.c.key == EPOCH_KEY))
            conn.execute(insert(replay_state).values(key=EPOCH_KEY, value=epoch))
        events = _count(engine, "events") if track is not None else None
        with step("re-deriving facts", events) as advance:
            rederive_facts(engine, on_events=advance if track is not None else None)
    with translate_errors(engine), engine.begin() as conn:
        _lock(conn)
        return _rebuild_in(conn, engine, settings, checkpoint, track, forget_dropped)


def _lock(conn: Connection) -> None:
    """The refresh lock (replay.behind): one writer of the projections at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE replay_state IN EXCLUSIVE MODE"))


def _rebuild_in(
    conn: Connection,
    engine: Engine,
    settings: DetectSettings | None,
    checkpoint: Checkpoint | None,
    track: Track | None,
    forget_dropped: bool = False,
) -> int:
    """`rebuild`'s recomputation, in the caller's transaction (holding the lock); returns the
    number of windows. The windows, rollouts and lags of the span retention dropped stay
    (replay.kept_rows: no fact left recomputes them) unless `forget_dropped`."""
    step = track or _untracked
    if settings is None:
        settings = stored_settings(conn)
    _store_settings(conn, settings)
    state_rows.put(conn, _built_with(conn))
    bounds = {} if forget_dropped else kept_rows.boundaries(conn)
    kept_rows.clear(conn, bounds)
    kept = kept_rows.services(conn) if bounds else set()
    conn.execute(delete(replay_segments))
    newest = _max_fact_event(conn)
    facts = _count(conn, "facts") if track is not None else None
    with step("folding facts", facts) as advance:
        on_rows = advance if track is not None else None
        state = fold_stored(conn, FoldState(), until_id=newest, on_rows=on_rows)
    services = lb_facing(state)
    # a Service whose rows are all kept (none of its events left) keeps its context: the
    # readers know it by it (api.services) and read its scope from it
    _forget_context_but(conn, {scope.context_key(ServiceRef(*k), "") for k in kept}
                        - {scope.context_key(s, "") for s in services})  # fmt: skip
    impact = None if checkpoint is None else access_impact(state)
    with _detecting(track, state, services) as on_node:
        _write(
            conn,
            state,
            services,
            settings,
            impact=impact,
            cache=None if checkpoint is None else checkpoint.windows,
            kept=None if checkpoint is None else checkpoint.rows,
            on_node=on_node,
        )
    kept_rows.detach(conn, bounds)
    _store_context(conn, {scope.COMPLETE: 1})
    _set_last(conn, newest)
    if checkpoint is not None:
        checkpoint.seed(store_key(engine.url), newest, state)
        checkpoint.impact, checkpoint.settings = impact, settings
        # the state was built with the cyclic GC off (load.no_gc): its millions of objects
        # are not yet counted as long-lived, and the first full collection after it would
        # scan them all inside some later refresh; done now, with the rebuild that made them
        gc.collect()
        for cluster in sorted({s.cluster for s in services}):
            checkpoint.values[cluster] = cluster_values(state, cluster, settings)
    return int(conn.execute(text("SELECT count(*) FROM replay_windows")).scalar_one())


def _untracked(_description: str, _total: float | None) -> nullcontext[Callable[[float], None]]:
    return nullcontext(lambda _n: None)


def _count(where: Engine | Connection, table: str, after: int = 0, until: int | None = None) -> int:
    """Rows in `table` (events or facts; of the events after `after`, up to `until`), for a
    progress bar's total."""
    column = "id" if table == "events" else "event_id"
    bounds = f" WHERE {column} > {int(after)}" if after or until is not None else ""
    if until is not None:
        bounds += f" AND {column} <= {int(until)}"
    query = text(f"SELECT count(*) FROM {table}{bounds}")
    if isinstance(where, Connection):
        return int(where.execute(query).scalar_one())
    with translate_errors(where), where.connect() as conn:
        return int(conn.execute(query).scalar_one())


@contextmanager
def _detecting(
    track: Track | None, state: FoldState, services: Sequence[ServiceRef], which: str = ""
) -> Iterator[Callable[[float], None] | None]:
    """The "detecting windows" step, counted in the nodes of the LB-facing `services`: each
    node's detection advances it (replay.detect, replay.node_cache). Counted in Services, a
    large store's one Service on 300 nodes sat at 0/1 for the whole of its first refresh.
    `which`: the Services' name in the step (default: how many). None without `track` (nothing
    added to the loops)."""
    if track is None:
        yield None
        return
    facing = set(lb_facing(state))
    nodes = sum(len(nodes_of(state, s)) for s in services if s in facing)
    which = which or f"{len(services)} Services"
    with track(f"detecting windows of {which} on {nodes:,} nodes", nodes) as on:
        yield on


#: the fact kinds `_affected` reads
_AFFECTING = ("slice", "health", "nodeport", "target", "access", "event", "service", "pod",
              "workload", "node", "member", "sync", "apireq", "tgconf", "selfcheck")  # fmt: skip


def _affected(
    conn: Connection, after: int, rows: Sequence[Sequence[Any]] | None = None
) -> tuple[int, set[ServiceRef]]:
    """The events after `after` and the Services their facts may touch (the SQL guess: by
    name, namespace and cluster); from `rows` (fact rows that hold every fact after `after`,
    a checkpoint's: no query) or else the store."""
    found: list[tuple[Any, ...]]
    if rows is None:
        marks = ", ".join(f"'{f}'" for f in _AFFECTING)
        query = text(
            "SELECT DISTINCT cluster, fact, namespace, name FROM facts WHERE event_id > :after "
            f"AND fact IN ({marks})"
        )
        found = [tuple(r) for r in conn.execute(query, {"after": after})]
        events = int(
            conn.execute(
                text("SELECT count(DISTINCT event_id) FROM facts WHERE event_id > :after"),
                {"after": after},
            ).scalar_one()
        )
    else:
        mine = [r for r in rows if r[F.EVENT_ID] > after]
        events = len({r[F.EVENT_ID] for r in mine})
        found = list({
            (r[F.CLUSTER], r[F.FACT], r[F.NAMESPACE], r[F.NAME])
            for r in mine
            if r[F.FACT] in _AFFECTING
        })  # fmt: skip
    direct = {
        ServiceRef(c, ns or "", n or "")
        for c, f, ns, n in found
        if f not in ("pod", "workload", "node", "member", "sync", "apireq", "selfcheck")
        and (ns or f != "access")
    }
    namespaces = {(c, ns) for c, f, ns, _n in found if f in ("pod", "workload", "apireq") and ns}
    # a node (its Node object, kube-proxy's syncs, an API request on it), a CloudTrail call or
    # an access-log line tied to no Service yet may concern any of the cluster's Services; a
    # self-check verdict voids every NodePort look of the cluster (replay.shortcircuit)
    clusters = {
        c
        for c, f, ns, _n in found
        if f in ("node", "sync", "member", "selfcheck")
        or (f in ("access", "apireq", "tgconf") and not ns)
    }
    if namespaces or clusters:
        stored = scope.stored_services(conn)  # those with projections: a few rows, not a scan
        known = (
            [(s.cluster, s.namespace, s.name) for s in stored]
            if stored is not None
            else conn.execute(
                text(
                    "SELECT DISTINCT cluster, namespace, name FROM facts "
                    "WHERE fact IN ('slice','health','nodeport','target')"
                )
            ).all()
        )
        direct.update(
            ServiceRef(c, ns, n) for c, ns, n in known if (c, ns) in namespaces or c in clusters
        )
    return events, direct


def _from_checkpoint(
    conn: Connection,
    checkpoint: Checkpoint,
    url: str,
    stored: tuple[int, int],
    settings: DetectSettings,
    track: Track | None = None,
    context: dict[str, int] | None = None,
) -> int:
    """Fold the new facts into the checkpoint's state; recompute the Services they touch (the
    SQL guess `_affected`, namespace- and cluster-wide, when the state was built just now);
    returns the events after the projections' last. A failure forgets the state: the
    transaction rolls back, the state would be ahead of it. `stored`: the projections' last
    event id and the newest fact's; `track`: progress, as `rebuild`'s; `context`: `_write`'s."""
    after, newest = stored
    if checkpoint.event_id != after or checkpoint.settings != settings:
        # another process moved the projections (or their settings): the rows kept are not
        # the store's any more (replay.node_rows then diffs against the store)
        checkpoint.rows.clear()
    checkpoint.settings = settings
    try:
        fresh = checkpoint.state is None or checkpoint.url != url
        since = checkpoint.folds_after(url, newest)
        if track is None:
            state, rows = checkpoint.advance(conn, url, newest)
        else:
            with track("folding facts", _count(conn, "facts", since, newest)) as advance:
                state, rows = checkpoint.advance(conn, url, newest, on_rows=advance)
        # the rows folded are every fact after `since`: those after `after` among them when
        # `since` is not past it (no query), else the store's; a state folded again from the
        # start (a new self-check verdict: replay.checkpoint) is a fresh one
        fresh = fresh or checkpoint.refolded
        mine = 0 < since <= after and not checkpoint.refolded
        count, affected = _affected(conn, after, rows if mine else None)
        # read once: each Service's rewrite asks it (`_replace`), and it lists every probe
        # and LB lane's key (thousands); nothing below folds
        facing = set(lb_facing(state))
        if fresh:
            clusters = {s.cluster for s in affected}
            services = {s for s in facing if s.cluster in clusters} | affected
            for cluster in clusters:
                checkpoint.values[cluster] = cluster_values(state, cluster, settings)
        else:
            services = touched(state, rows, checkpoint.values, settings)
            # a Service no longer LB-facing (its Service object changed) loses its rows
            services |= {s for s in affected if s not in facing}
        impact = checkpoint.impact_of(state)
        ordered = sorted(services)
        with _detecting(track, state, ordered) as on_node:
            for svc in ordered:
                nodes = None if fresh else checkpoint.changed_nodes(state, svc)
                _replace(conn, svc, settings, state, nodes, impact, checkpoint.windows,
                         checkpoint.rows, on_node, context, facing)  # fmt: skip
        return count
    except BaseException:
        checkpoint.forget()
        raise


def _rebuild_stale(
    conn: Connection, engine: Engine, checkpoint: Checkpoint | None, track: Track | None
) -> int:
    """Rebuild projections that another revision of replay's code built (replay.revision), under
    the settings they were built with; returns the events newer than their old position (what
    a refresh reports)."""
    last = _last(conn)
    built = _state_value(conn, revision.KEY) or None
    if built == revision.current():
        log.warning("facts were derived again: rebuilding the projections", projector="facts")
    else:
        # not the two digests (replay/revision.py): every command's stderr printed them
        # (built_by=-8555691564274672329 this=-9039426517639912522), and no command shows a
        # build's digest for a user to match them to
        log.warning(
            "projections were built by other replay code: rebuilding them",
            hint="every window is recomputed under this version's rules",
        )
    count = int(
        conn.execute(
            text("SELECT count(DISTINCT event_id) FROM facts WHERE event_id > :after"),
            {"after": last},
        ).scalar_one()
    )
    if checkpoint is not None:
        checkpoint.forget()
    _rebuild_in(conn, engine, None, checkpoint, track)
    return count


def pending(engine: Engine) -> bool:
    """Whether facts newer than the projections exist, or the projections were built by other
    code (one statement of primary-key lookups, no lock)."""
    with translate_errors(engine), engine.connect() as conn:
        last, newest = _due(conn)
        return newest > last


def touched_share(engine: Engine) -> float:
    """The share of the store's facts that name the Services the pending facts touch: about
    what a refresh without a checkpoint folds again (0 when nothing is pending)."""
    with translate_errors(engine), engine.connect() as conn:
        _count, services = _affected(conn, _last(conn))
        if not services:
            return 0.0
        total = int(conn.execute(text("SELECT count(*) FROM facts")).scalar_one())
        mine = 0
        for svc in services:
            mine += int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM facts WHERE cluster = :c AND namespace = :n "
                        "AND name = :s"
                    ),
                    {"c": svc.cluster, "n": svc.namespace, "s": svc.name},
                ).scalar_one()
            )
        return mine / total if total else 0.0


def refresh(
    engine: Engine, *, checkpoint: Checkpoint | None = None, track: Track | None = None
) -> int:
    """Bring the projections up to the newest facts, under the assumptions they were built with;
    returns the events processed. With a `checkpoint` (replay.checkpoint) only the new facts
    are folded, into the state it keeps, and only the Services they touch are recomputed.
    `track`: progress, as `rebuild`'s (the first refresh of a large store folds it all).

    Reading first, without the lock, lets a reader (the dashboard, a read-only role) call this
    on a current store without writing or locking anything; the lock is taken, and the check
    repeated under it, only when there is something to do."""
    with caught_up(engine, _due) as behind:
        if behind is None:
            settings_reads.remember(engine)  # the LB settings reads what-if needs, found once
            return 0
        conn, after, newest = behind
        settings_reads.remember_in(conn)  # the same, in this transaction (one commit)
        if after == STALE:
            return _rebuild_stale(conn, engine, checkpoint, track)
        settings, kept, marked = _settings_and_kept(conn)
        if marked:  # a retention dropped events since: their rows are kept from now on
            kept = kept_rows.boundaries(conn)
            kept_rows.record(conn, kept)
        conn.info[kept_rows.INFO] = kept
        try:
            count = _refresh_in(conn, engine, checkpoint, track, (after, newest), settings)
            kept_rows.detach(conn, kept)
            return count
        finally:
            conn.info.pop(kept_rows.INFO, None)


def _refresh_in(
    conn: Connection,
    engine: Engine,
    checkpoint: Checkpoint | None,
    track: Track | None,
    stored: tuple[int, int],
    settings: DetectSettings,
) -> int:
    """`refresh`'s work, in its transaction (holding the lock), from the projections' last
    event id and the newest fact's (`stored`); returns the events processed."""
    after, newest = stored
    if after == 0:
        _store_settings(conn, settings)
        state_rows.put(conn, _built_with(conn))
    # the Services' context rows that moved, stored with the new position: one statement
    written: dict[str, int] = {}
    if checkpoint is not None:
        # a refresh allocates little, kept as the checkpoint's state: no collection pass
        # over the state, nor over what it adds (replay.load.no_gc)
        with no_gc(kept=True):
            count = _from_checkpoint(
                conn, checkpoint, store_key(engine.url), (after, newest), settings, track,
                written,
            )  # fmt: skip
    else:
        count, services = _affected(conn, after)
        ordered = sorted(services)
        for i, svc in enumerate(ordered, 1):
            if track is None:
                _replace(conn, svc, settings, context=written)
                continue
            # shown in two steps, each counted as it goes: a large store's one Service
            # was one step of both, its bar at 0/1 for the whole of the first refresh
            which = f"{svc.key} in {svc.cluster} ({i} of {len(ordered)} Services)"
            with track(f"folding facts of {which}", None) as advance:
                state = fold_stored(conn, FoldState(), service=svc, on_rows=advance)
            with _detecting(track, state, [svc], which) as on_node:
                _replace(conn, svc, settings, state, on_node=on_node, context=written)
    if after == 0:  # every Service was computed: their context is all there
        written[scope.COMPLETE] = 1
    state_rows.put(conn, {**written, STATE_KEY: newest})
    return count
