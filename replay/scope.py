"""What-if and advice over a time range (a rollout's span), from the projections and the facts of
that range only, instead of folding the Service's whole history.

A what-if moves what the recorded pods did (their preStop, grace period, PTE, a CCM delay) and
re-derives the proxy and LB lanes from them with the lags measured for each change. Around a
rollout that needs:

- the pods: every pod an EndpointSlice of the Service listed in `[since - pad, until + pad)`
  or in the slice version that held at `since - pad`, with its whole lifecycle (index lookups by
  pod name); their Nodes' facts; the stretches watch relists passed over (replay.relisted);
- the measured lags and the recorded windows: the projections hold them for the whole history
  (replay_lags, replay_windows), so the lag medians are the Service's, not the range's;
- three values derived from the whole state (the LB's mode, ProxyTerminatingEndpoints as the
  probes showed it, the end of the data): the projections store them per Service when they
  compute it (`context_rows`, in replay_state) and `load` puts them back into the state's memo.

`pad` is how far a change can act: the what-if settings' largest reach (the longest preStop and
grace period the dashboard offers, AWS's default deregistration delay) plus the longest lag
measured. Outside the pad nothing the range's windows depend on changes, so the windows that
overlap the range equal the full what-if's (tests/replay/test_scope.py compares them).

Known limit: of a Service with several EndpointSlices, a slice that neither changed within the
pad nor was the last one to change before it is not seen (finding it would walk the Service's
whole history back); its pods then miss from the scope. One slice per Service (up to 100
endpoints by default) is the common case and the simulator's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, bindparam, select, text

from gapwatch.replay import advise as advise_mod
from gapwatch.replay import factrow as F
from gapwatch.replay import whatif as whatif_mod
from gapwatch.replay.assumptions import US, DetectSettings
from gapwatch.replay.context import ccm_mode
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.fold import FoldState, fold, horizon
from gapwatch.replay.lags import LagSample
from gapwatch.replay.load import fold_stored
from gapwatch.replay.measure import Measured, measured_values, stated_reads
from gapwatch.replay.model import Advice, Rollout, ServiceRef, WhatIf, Window, WindowClass
from gapwatch.replay.owned import Owner, owner
from gapwatch.replay.proxy import pte_known
from gapwatch.replay.relisted import LANE_KINDS, NODE_KIND
from gapwatch.replay.settings_reads import lb_settings
from gapwatch.replay.tables import replay_lags, replay_state, replay_windows
from gapwatch.replay.whatif import LagBook, Lives

#: The reach of a what-if setting: terminationGracePeriodSeconds up to 300 s (the largest the
#: dashboard offers, and preStop counts inside it) and AWS's default deregistration delay of
#: 300 s (DESIGN.md section 6); the longest measured lag is added per Service.
SETTINGS_REACH_S = 300 + 300
_COLS = ", ".join(FACT_COLUMNS)
#: the facts columns every fold reads, in order (for queries built elsewhere)
FACT_COLS = _COLS
_LAG_UP = {"ccm-register": True, "lb-health-up": True, "ccm-deregister": False,
           "lb-health-down": False}  # fmt: skip
_PTE = {None: -1, False: 0, True: 1}


def context_key(svc: ServiceRef, what: str) -> str:
    return f"ctx:{svc.cluster}/{svc.namespace}/{svc.name}:{what}"


def context_rows(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> dict[str, int]:
    """The whole-state values a scoped what-if needs, as replay_state rows."""
    out = {
        context_key(svc, "node_driven"): int(ccm_mode(state, svc, settings) == "node"),
        context_key(svc, "pte"): _PTE[pte_known(state, svc.cluster, settings)],
        context_key(svc, "horizon"): horizon(state, svc),
    }
    # the health-check settings detection used (CloudTrail's statements need the membership
    # calls of the whole history to be tied to the Service): what-if runs with the same
    for name, m in stated_reads(state, svc, None).items():
        out[context_key(svc, f"{_STATED}{name}")] = round(float(m.value or 0) * US)
        out[context_key(svc, f"{_STATED_N}{name}")] = m.samples
    return out


_STATED, _STATED_N = "stated:", "stated-count:"


def stored_context(conn: Connection, svc: ServiceRef) -> dict[str, int]:
    """Every context row the projections stored for the Service (`context_key` -> value)."""
    query = select(replay_state.c.key, replay_state.c.value).where(
        replay_state.c.key.like(context_key(svc, "%"))
    )
    return {str(k): int(v) for k, v in conn.execute(query)}


def _stated_reads(context: Mapping[str, int], svc: ServiceRef) -> dict[str, Measured]:
    """The health-check settings `context_rows` stored for the Service (none: not stated),
    from its stored context rows."""
    prefix = len(context_key(svc, ""))
    stored = {
        k[prefix:]: v
        for k, v in context.items()
        if k[prefix:].startswith(_STATED) or k[prefix:].startswith(_STATED_N)
    }
    out: dict[str, Measured] = {}
    source = "target-group statements (LB poller reads, CloudTrail calls)"
    for key, value in stored.items():
        if key.startswith(_STATED):
            name = key[len(_STATED) :]
            count = stored.get(_STATED_N + name, 1)
            out[name] = Measured(name, value / US, count, source, (value / US,))
    return out


#: set once every LB-facing Service's context is stored (a rebuild, or a first refresh)
COMPLETE = "ctx:complete"


def stored_services(conn: Connection) -> list[ServiceRef] | None:
    """The Services whose context the projections stored (every LB-facing one), in order; None
    when the store's projections were built before the context was recorded."""
    rows = conn.execute(
        select(replay_state.c.key).where(replay_state.c.key.like("ctx:%"))
    ).scalars()
    keys = list(rows)
    if COMPLETE not in keys:
        return None
    out = []
    for key in keys:
        if key.endswith(":horizon"):
            cluster, namespace, name = key[len("ctx:") : -len(":horizon")].rsplit("/", 2)
            out.append(ServiceRef(cluster, namespace, name))
    return sorted(out)


@dataclass(frozen=True, slots=True)
class Scope:
    """A Service over `[since, until)`: the folded facts of the pad around it, the Service's
    measured lags and recorded windows (projections) and the stored settings."""

    service: ServiceRef
    since_us: int
    until_us: int
    state: FoldState
    samples: list[LagSample]
    recorded: list[Window]
    settings: DetectSettings
    #: the LB settings the log measured for the Service (replay.measure_store)
    lb_reads: Mapping[str, Measured] = field(default_factory=dict)
    #: what every what-if of this scope derives alike, kept by its first: the LagBooks of
    #: `samples` and each node's pod lives (`state` is folded no further)
    books: dict[tuple[ServiceRef, bool], LagBook] = field(default_factory=dict)
    lives: Lives = field(default_factory=dict)
    #: per rollout id, which windows it owns (replay.owned), kept by the first to ask
    owners: dict[str, Owner] = field(default_factory=dict)

    @property
    def lb(self) -> dict[str, float]:
        """The measured LB settings only (name -> value), as what-if takes them."""
        return measured_values(self.lb_reads)

    @property
    def known(self) -> advise_mod.Recorded:
        return advise_mod.Recorded(samples=self.samples, windows=self.recorded, lb=self.lb)


def lag_samples(conn: Connection, svc: ServiceRef) -> list[LagSample]:
    """The Service's measured lags as the projections stored them (`up` is not stored: it only
    names the direction, which the lag's name carries)."""
    t = replay_lags
    query = select(t.c.node, t.c.lag, t.c.at_us, t.c.seconds).where(
        t.c.cluster == svc.cluster, t.c.namespace == svc.namespace, t.c.service == svc.name
    )
    return [
        LagSample(svc, node, lag, at_us, seconds, _LAG_UP.get(lag, True))
        for node, lag, at_us, seconds in conn.execute(query)
    ]


def fact_rows(
    conn: Connection, where: str, params: dict[str, Any], **lists: Sequence[Any]
) -> list[Any]:
    query = text(f"SELECT {_COLS} FROM facts WHERE {where}")
    if lists:
        query = query.bindparams(*(bindparam(k, expanding=True) for k in lists))
    return [tuple(r) for r in conn.execute(query, {**params, **lists})]


def _chunks(values: Iterable[str], size: int = 500) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def _slice_rows(conn: Connection, svc: ServiceRef, lo: int, hi: int) -> list[Any]:
    """The Service's EndpointSlice versions in [lo, hi) and, per slice, the version holding at
    lo (the last one before it: an index walk back from lo)."""
    params = {"c": svc.cluster, "ns": svc.namespace, "n": svc.name, "lo": lo, "hi": hi}
    of = "cluster = :c AND namespace = :ns AND name = :n AND fact = 'slice'"
    rows = fact_rows(conn, f"{of} AND at_us >= :lo AND at_us < :hi", params)
    names = {r[F.SLICE_NAME] for r in rows if r[F.SEQ] == 0}
    last = f"SELECT event_id, text1 FROM facts WHERE {of} AND seq = 0 AND at_us < :lo"
    first = conn.execute(text(f"{last} ORDER BY at_us DESC LIMIT 1"), params).first()
    seeds: set[int] = set()
    if first is not None:
        seeds.add(first[0])
        names.discard(first[1])
    for name in names:  # the Service's other slices that changed in the range
        walk = text(f"{last} AND text1 = :slice ORDER BY at_us DESC LIMIT 1")
        found = conn.execute(walk, {**params, "slice": name}).first()
        if found is not None:
            seeds.add(found[0])
    if seeds:
        rows += fact_rows(conn, "fact = 'slice' AND event_id IN :ids", {}, ids=sorted(seeds))
    return rows


def load(
    conn: Connection, svc: ServiceRef, since_us: int, until_us: int, settings: DetectSettings
) -> Scope:
    """The Scope of the Service over [since, until) (its projections must be up to date)."""
    samples = lag_samples(conn, svc)
    longest = max((s.seconds for s in samples), default=0.0)
    pad = round((SETTINGS_REACH_S + longest) * US)
    rows = range_rows(conn, svc, since_us - pad, until_us + pad)
    state = fold(FoldState(), rows)
    context = stored_context(conn, svc)
    restore_context(conn, state, svc, settings, context)
    recorded = recorded_windows(conn, svc, since_us, until_us)
    lb_reads = {**lb_settings(conn, svc, settings), **_stated_reads(context, svc)}
    return Scope(svc, since_us, until_us, state, samples, recorded, settings, lb_reads)


def range_rows(conn: Connection, svc: ServiceRef, lo: int, hi: int) -> list[Any]:
    """The facts of the Service's EndpointSlice versions in [lo, hi) and the ones holding at
    lo, of its own versions before hi, of every pod they name (whole lifecycles, restarts
    too: replay.podstate.restarted), of those
    pods' Nodes, and the cluster's relisted stretches, in fold order."""
    rows = _slice_rows(conn, svc, lo, hi)
    # the Service's versions up to hi: where it was Local (replay.policy; a few rows)
    of = "cluster = :c AND namespace = :ns AND name = :n AND fact = 'service' AND at_us < :hi"
    rows += fact_rows(conn, of, {"c": svc.cluster, "ns": svc.namespace, "n": svc.name, "hi": hi})
    pods = {p for r in rows for p in (r[F.SLICE_PODS] or "").split(",") if p}
    nodes = {r[F.NODE] for r in rows if r[F.NODE]}
    params = {"c": svc.cluster, "ns": svc.namespace}
    for chunk in _chunks(pods):
        where = "cluster = :c AND namespace = :ns AND name IN :names AND fact IN ('pod', 'restart')"
        rows += fact_rows(conn, where, params, names=chunk)
    for chunk in _chunks(nodes):
        where = "cluster = :c AND namespace IS NULL AND name IN :names AND fact = 'node'"
        rows += fact_rows(conn, where, {"c": svc.cluster}, names=chunk)
    # the stretches watch relists passed over that replay.relisted reads (the lanes' kinds in
    # the Service's namespace or all, the Nodes'): few, read whole, by the index (a relist
    # fact's name is its kind)
    kinds = sorted(LANE_KINDS | {NODE_KIND})
    for where in ("namespace = :ns", "namespace IS NULL"):
        where = f"cluster = :c AND {where} AND name IN :kinds AND fact = 'relist'"
        rows += fact_rows(conn, where, params, kinds=kinds)
    rows.sort(key=lambda r: (r[F.EVENT_ID], r[F.SEQ]))
    return rows


#: The replay_windows columns a Window is made of, in `window_from_row`'s order.
WINDOW_COLUMNS = tuple(
    replay_windows.c[name]
    for name in ("cluster", "namespace", "service", "node", "class", "start_us", "end_us",
                 "start_earliest_us", "start_latest_us", "end_earliest_us", "end_latest_us",
                 "provenance", "opened_by", "closed_by", "rollout", "failed_requests", "certain",
                 "also")
)  # fmt: skip


def window_from_row(r: Any) -> Window:
    """A row of WINDOW_COLUMNS as a Window (unpacked once: this runs for thousands of rows)."""
    (cluster, ns, name, node, cls, start, end, s_early, s_late, e_early, e_late, provenance,
     opened, closed, rollout, failed, certain, also) = r  # fmt: skip
    others = cast(tuple[WindowClass, ...], tuple(also.split(","))) if also else ()
    return Window(
        ServiceRef(cluster, ns, name), node, cls, start, end, s_early, s_late, e_early, e_late,
        provenance,
        tuple(int(x) for x in opened.split(",")) if opened else (),
        tuple(int(x) for x in closed.split(",")) if closed else (),
        rollout, failed, bool(certain), others,
    )  # fmt: skip


def recorded_windows(conn: Connection, svc: ServiceRef, lo: int, hi: int) -> list[Window]:
    """The Service's stored windows that overlap [lo, hi)."""
    t = replay_windows
    query = select(*WINDOW_COLUMNS).where(
        t.c.cluster == svc.cluster,
        t.c.namespace == svc.namespace,
        t.c.service == svc.name,
        t.c.start_us < hi,
        t.c.end_us >= lo,
    )
    return [window_from_row(r) for r in conn.execute(query.order_by(t.c.start_us, t.c.node))]


def restore_context(
    conn: Connection,
    state: FoldState,
    svc: ServiceRef,
    settings: DetectSettings,
    stored: Mapping[str, int],
) -> None:
    """Put the whole state's values (context_rows; `stored`: `stored_context`) into the
    scoped state's memo."""
    if len(stored) < 3:  # projections from before the context was stored: derive it once
        stored = context_rows(fold_stored(conn, FoldState(), service=svc), svc, settings)
    mode = "node" if stored[context_key(svc, "node_driven")] else "endpoint"
    state.memo.ccm_mode[(svc, settings.ccm_mode)] = mode
    pte = {v: k for k, v in _PTE.items()}[stored[context_key(svc, "pte")]]
    state.memo.pte[(svc.cluster, settings)] = pte
    state.memo.horizon[svc] = stored[context_key(svc, "horizon")]


def _overlaps(scope: Scope, windows: Sequence[Window]) -> list[Window]:
    return [w for w in windows if w.end_us >= scope.since_us and w.start_us < scope.until_us]


def owner_of(scope: Scope, rollout: Rollout | None) -> Owner | None:
    """Which windows `rollout` owns (replay.owned; None: every window counts)."""
    if rollout is None:
        return None
    found = scope.owners.get(rollout.id)
    if found is None:
        found = owner(scope.state, rollout, scope.recorded, scope.settings)
        scope.owners[rollout.id] = found
    return found


def whatif(scope: Scope, settings: WhatIf, rollout: Rollout | None = None) -> list[Window]:
    """The what-if windows that overlap the scope's range (as the full what-if has them); of
    those, `rollout`'s own when given (its range is the scope's: replay.rollout_range)."""
    found = whatif_mod.whatif(
        scope.state, settings, [scope.service], scope.settings,
        lb=scope.lb, samples=scope.samples, recorded=scope.recorded,
        books=scope.books, lives=scope.lives,
    )  # fmt: skip
    found = _overlaps(scope, found)
    mine = owner_of(scope, rollout)
    return found if mine is None else mine.owned(found)


def recorded(scope: Scope, rollout: Rollout | None = None) -> list[Window]:
    """The recorded windows that overlap the scope's range; of those, `rollout`'s own."""
    if rollout is None:
        return list(scope.recorded)
    return [w for w in scope.recorded if w.rollout == rollout.id]


def advise(scope: Scope, rollout: Rollout | None = None) -> Advice:
    """Advice for the scope's range: the lags are the Service's; the windows before and after
    are those that overlap the range, of those `rollout`'s own when given."""
    known = advise_mod.Recorded(
        scope.samples, scope.recorded, span=(scope.since_us, scope.until_us),
        owner=owner_of(scope, rollout), books=scope.books, lives=scope.lives,
    )  # fmt: skip
    return advise_mod.advise(
        scope.state, scope.service, scope.settings, scope.lb_reads, known=known
    )
