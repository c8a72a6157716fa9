"""The fold state a refresh continues from, and which Services the new facts touch.

A process that refreshes the projections again and again (the dashboard, the recorder, a
benchmark) keeps a `Checkpoint`: every stored fact folded, up to a fact event id. The next
refresh folds only the facts above that id into it (folding in chunks equals folding at once,
tests/replay/test_fold_properties.py) and recomputes the touched Services from it, so the fold
costs what arrived, not what history holds. The state is the whole store's, as `rebuild` folds
it, so the values detection derives across a cluster (ProxyTerminatingEndpoints as the probes
show it, the observers' clock offsets) are the rebuild's too.

Which Services a batch of facts touches (`touched`), read from the state after the fold:

- a Service's own facts (slices, probes, targets, Events, the Service, access lines naming it);
- a Pod: the Services whose EndpointSlices named that pod (replay uses a pod only through
  them: `FoldState.service_pods`); a Node: the Services with a lane on that node
  (`context.nodes_of`), unless the cluster ties CloudTrail calls or access-log lines to nodes
  by instance id or address (then every Service of the cluster, as a Node fact may re-tie them);
- kube-proxy's metrics (`sync`), CloudTrail calls (`member`), API requests, workloads, relists and
  access lines naming no Service: every Service of the namespace or cluster (as before);
- every Service of a cluster whose cluster-wide values changed (`cluster_values`).

What detection derives per Service (its end of data, LB mode, lag bounds: `FoldState.memo`) is
kept across the fold for the Services the new facts left alone, so the cluster-wide values
cost what changed too (replay.proxy keeps each lane's PTE evidence while the lane is as long).

Without a checkpoint (a one-shot command) the refresh folds each touched Service's own facts
from the start, as it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from gapwatch.replay import factrow as F
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.clocks import OBSERVERS, clock_offset
from gapwatch.replay.context import nodes_of
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.facts_probes import CONFIG
from gapwatch.replay.fold import PROBE_FACTS, FoldState, Memo, fold, lb_facing
from gapwatch.replay.impact import Impact, access_impact
from gapwatch.replay.load import fold_stored
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.programmed_lane import programmed_inputs as inferred
from gapwatch.replay.proxy import pte_known
from gapwatch.replay.shortcircuit import FACT as SELFCHECK

if TYPE_CHECKING:
    from gapwatch.replay.node_cache import ServiceWindows
    from gapwatch.replay.node_rows import ServiceRows

_COLS = ", ".join(FACT_COLUMNS)
#: facts that name their Service (namespace and name)
_OWN = frozenset({"slice", "health", "nodeport", "target", "event", "service", "access", "tgconf"})
#: facts that may concern any Service of their namespace (with one) or cluster (without)
_WIDE = frozenset(
    {"workload", "member", "sync", "apireq", "access", "tgconf", "relist", "selfcheck"}
)

#: the facts `impact.access_impact` reads (lines, Node addresses, Service NodePorts)
_IMPACT_FACTS = frozenset({"access", "node", "service"})

ClusterValues = tuple[Any, ...]


@dataclass(slots=True)
class Checkpoint:
    """The store's facts folded up to `event_id` (every fact of every Service)."""

    url: str = ""
    event_id: int = 0
    state: FoldState | None = None
    #: per cluster, `cluster_values` as the last computation saw them
    values: dict[str, ClusterValues] = field(default_factory=dict)
    #: per Service, `lane_versions` from before the last `advance` folded its rows
    before: dict[ServiceRef, dict[str, tuple[Any, ...]]] = field(default_factory=dict)
    #: `impact.access_impact(state)`, kept until a fact it reads arrives (None: not computed)
    impact: Impact | None = None
    #: per Service, its windows per node and what they were found from (replay.node_cache)
    windows: dict[ServiceRef, ServiceWindows] = field(default_factory=dict)
    #: per Service, the rows the store holds and what they were found from (replay.node_rows)
    rows: dict[ServiceRef, ServiceRows] = field(default_factory=dict)
    #: the assumptions `rows` were computed with
    settings: DetectSettings | None = None
    #: the last `advance` folded the store again from the start (the state is a fresh one)
    refolded: bool = False

    def forget(self) -> None:
        self.url, self.event_id, self.state = "", 0, None
        self.values.clear()
        self.before.clear()
        self.impact = None
        self.windows.clear()
        self.rows.clear()
        self.settings = None

    def impact_of(self, state: FoldState) -> Impact:
        """The access-log impact of the checkpoint's state, computed once per change of the
        facts it reads (access lines, and the Nodes' addresses and Services' NodePorts that
        tie them to lanes)."""
        if self.impact is None:
            self.impact = access_impact(state)
        return self.impact

    def changed_nodes(self, state: FoldState, svc: ServiceRef) -> list[str] | None:
        """The Service's nodes whose lane segments the last `advance` may have changed (None:
        every node: the Service is new to the checkpoint, its first LB poll moved, or its
        cluster has CloudTrail membership lanes)."""
        before = self.before.get(svc)
        if before is None or any(m.cluster == svc.cluster for m in state.members):
            return None
        after = lane_versions(state, svc, self.settings or DEFAULTS)
        if after[""] != before[""]:
            return None
        return sorted(n for n, v in after.items() if n and before.get(n) != v)

    def seed(self, url: str, event_id: int, state: FoldState) -> None:
        self.url, self.event_id, self.state = url, event_id, state
        self.values.clear()
        self.impact = None

    def folds_after(self, url: str, newest: int) -> int:
        """The event id `advance(conn, url, newest)` folds the facts after (0: all of them)."""
        if self.state is None or self.url != url or self.event_id > newest:
            return 0
        return self.event_id

    def advance(
        self,
        conn: Connection,
        url: str,
        newest: int,
        on_rows: Callable[[float], None] | None = None,
    ) -> tuple[FoldState, list[Any]]:
        """The state with every fact up to `newest` folded in, and the fact rows that were
        new to it (all of them, on a first call: the state is built from scratch); `on_rows(n)`
        hears of the rows folded (a progress bar). New rows holding a self-check verdict that
        voids NodePort lanes the state holds fold the store again from the start (`refolded`:
        none, and the caller recomputes as for a fresh state)."""
        stale = self.state is None or self.url != url or self.event_id > newest
        rows = [] if stale else _new_rows(conn, self.event_id, newest)
        self.refolded = _voids(self.state, rows)
        if stale or self.refolded:
            state = fold_stored(conn, FoldState(), until_id=newest, on_rows=on_rows)
            self.seed(url, newest, state)
            self.windows.clear()
            self.rows.clear()
            return state, []
        assert self.state is not None
        memo = self.state.memo
        kept = _per_service(memo)
        facing = lb_facing(self.state)
        settings = self.settings or DEFAULTS  # the refresh's (projections._refresh sets them)
        self.before = {svc: lane_versions(self.state, svc, settings) for svc in facing}
        polls = {svc: _polls(self.state, svc) for svc in facing}
        lines = {key: len(samples) for key, samples in self.state.access.items()}
        ties = (dict(self.state.node_addresses), dict(self.state.node_ports))
        fold(self.state, rows)  # clears the memo
        if on_rows is not None:
            on_rows(len(rows))
        if any(row[F.FACT] in _IMPACT_FACTS for row in rows):
            # new lines are added to the impact kept, unless a Node's addresses or a Service's
            # NodePorts moved (they may tie the lines before them elsewhere)
            same = ties == (self.state.node_addresses, self.state.node_ports)
            kept_impact = self.impact if same else None
            self.impact = None if kept_impact is None else access_impact(
                self.state, kept_impact, lines
            )  # fmt: skip
        self._pods_moved(rows)
        _restore(memo, kept, _unchanged(rows))
        # a Service whose lanes' versions read none of its nodes' metrics looks keeps them
        # across a batch whose facts of its cluster are kube-proxy's metrics alone
        # (`_versions_unsynced`; a scrape of every node moved all 50 Services' otherwise)
        folded = self.state
        unsynced = _unchanged(rows, beside=_is_sync)
        _restore(
            memo,
            {"versions": kept["versions"]},
            lambda svc: unsynced(svc) and _versions_unsynced(folded, svc),
        )
        # and kube-proxy's lag bound across the metrics looks alone (no /configz answer: the
        # stated sync period bounds it where too few lags were measured, replay.syncperiod)
        unlooked = _unchanged(rows, beside=_is_look)
        _restore(
            memo,
            {"proxy_lag_hi": kept["proxy_lag_hi"]},
            lambda svc: unlooked(svc) and _versions_unsynced(folded, svc),
        )
        probed, state = _probed_only(rows), self.state
        alike: dict[ServiceRef, bool] = {}

        def polled_alike(svc: ServiceRef) -> bool:
            if svc not in alike:
                alike[svc] = polls.get(svc) == _polls(state, svc)
            return alike[svc]

        # where the LB fails open reads the LB's polls and nothing else: kept while they are
        # the same, whatever else arrived (a Pod, a Node of the cluster)
        _restore(memo, {"fail_open": kept["fail_open"]}, polled_alike)
        _restore(
            memo,
            {name: kept[name] for name in _POLL_READERS},
            lambda svc: probed(svc) and polled_alike(svc),
        )
        self.event_id = newest
        return self.state, rows

    def _pods_moved(self, rows: Sequence[Sequence[Any]]) -> None:
        """Forget the kept pods (replay.node_rows) of the Services whose pods the new rows may
        change: a pod or workload of their namespace (of their cluster, without one), or
        their own slices."""
        namespaces: set[tuple[str, str]] = set()
        clusters: set[str] = set()
        own: set[ServiceRef] = set()
        for row in rows:
            kind = row[F.FACT]
            if kind == "slice" and (svc := _named(row)) is not None:
                own.add(svc)
            elif kind in ("pod", "workload") and row[F.NAMESPACE]:
                namespaces.add((row[F.CLUSTER], row[F.NAMESPACE]))
            elif kind in ("pod", "workload"):
                clusters.add(row[F.CLUSTER])
        for svc, kept in self.rows.items():
            if svc in own or svc.cluster in clusters or (svc.cluster, svc.namespace) in namespaces:
                kept.pods_moved = True


#: the memo's per-Service values `advance` keeps for the Services the new facts left alone
#: (`_unchanged`); `versions` (lane_versions) reads only the Service's own facts and the
#: cluster's Nodes and Pods: kept, `advance` reads every LB-facing Service's versions from the
#: memo instead of walking all their nodes and pods again (7 ms of a 1,000-event refresh on
#: benchmarks/replay.py's 50 Services)
_PER_SERVICE = ("horizon", "ccm_mode", "fail_open", "proxy_lag_hi", "ccm_lag_hi", "versions")


def _voids(state: FoldState | None, rows: Sequence[Sequence[Any]]) -> bool:
    """Whether `rows` hold a self-check verdict of a cluster whose NodePort lanes `state` holds:
    the verdict voids them over the whole store (replay.shortcircuit), so the state is folded
    again from the start, with no cache of what they gave."""
    return state is not None and any(
        r[F.FACT] == SELFCHECK and r[F.CLUSTER] not in state.short_circuited for r in rows
    )


def _new_rows(conn: Connection, after: int, newest: int) -> list[Any]:
    """The fact rows of the events (after, newest], in fold order, as the driver's tuples (a
    refresh reads them every time)."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = (f"SELECT {_COLS} FROM facts WHERE event_id > {mark} AND event_id <= {mark} "
           "ORDER BY event_id, seq")  # fmt: skip
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, (after, newest))
        return [tuple(r) for r in cursor.fetchall()]
    finally:
        cursor.close()


#: per-Service values that read, of what a probe brings, only the Service's LB polls
#: (`fail_open`, which reads nothing else, is kept on the polls alone)
_POLL_READERS = ("ccm_mode",)


def _polls(state: FoldState, svc: ServiceRef) -> tuple[tuple[str, int], ...]:
    """The Service's nodes and the lengths of their LB poll lanes (append-only)."""
    targets = state.probes["target"]
    nodes = sorted(state.service_nodes.get(svc, ()))
    return tuple((n, len(targets.get((svc, n), ()))) for n in nodes)


#: facts that name no Service and that fold into kube-proxy's metrics looks and /configz
#: statements alone (`FoldState.syncs`, `FoldState.proxy_confs`): nothing else of the state
_SYNC_ONLY = frozenset({"sync"})


def _is_sync(row: Sequence[Any]) -> bool:
    """A kube-proxy metrics look or /configz answer (`_SYNC_ONLY`)."""
    return row[F.FACT] in _SYNC_ONLY


def _is_look(row: Sequence[Any]) -> bool:
    """A kube-proxy metrics look (`FoldState.syncs` alone), not a /configz answer."""
    return row[F.FACT] in _SYNC_ONLY and row[F.STATE] != CONFIG


def _probed_only(rows: Sequence[Sequence[Any]]) -> Callable[[ServiceRef], bool]:
    """Whether a Service's own facts among `rows` are probe and LB samples only, and no fact
    of its cluster names no Service but kube-proxy's metrics (`_SYNC_ONLY`: the LB mode, the
    one value kept so, reads the Service, its LB poll lanes, its endpoints, its Nodes and the
    CloudTrail membership lanes, none of them the metrics)."""
    other: set[ServiceRef] = set()
    wide: set[str] = set()
    for row in rows:
        svc = _named(row)
        if svc is None:
            if row[F.FACT] not in _SYNC_ONLY:
                wide.add(row[F.CLUSTER])
        elif row[F.FACT] not in PROBE_FACTS:
            other.add(svc)
    return lambda svc: svc not in other and svc.cluster not in wide


def _per_service(memo: Memo) -> dict[str, dict[Any, Any]]:
    return {name: dict(getattr(memo, name)) for name in _PER_SERVICE}


def _unchanged(
    rows: Sequence[Sequence[Any]], beside: Callable[[Sequence[Any]], bool] | None = None
) -> Callable[[ServiceRef], bool]:
    """Whether nothing a Service's own derived values read came with `rows`: none of its own
    facts, and no fact of its cluster that names no Service (a pod, a node, kube-proxy's
    metrics, CloudTrail, ...) but those `beside` names (the caller's values read none)."""
    own: set[ServiceRef] = set()
    wide: set[str] = set()
    for row in rows:
        svc = _named(row)
        if svc is not None:
            own.add(svc)
        elif beside is None or not beside(row):
            wide.add(row[F.CLUSTER])
    return lambda svc: svc not in own and svc.cluster not in wide


def _versions_unsynced(state: FoldState, svc: ServiceRef) -> bool:
    """Whether the Service's `lane_versions` read none of its nodes' kube-proxy metrics looks
    nor anything a scrape moves: every node of it has a health-check or NodePort lane, so
    none reads `programmed_inputs` (the looks' count, PTE, the lag bound); the rest (lanes'
    lengths, the local pods, the slices' listings, the ready counts, the first LB poll) no
    `_SYNC_ONLY` fact folds into. Read after the fold: such a fact adds no lane either. So
    too kube-proxy's lag bound (replay.proxy.proxy_lag_hi) but for the sync periods /configz
    states: the probe period, the LB mode, the first listing, and each node's lags, which read
    the looks only on a node with neither lane (replay.lags `_node_lags`, `_reads`)."""
    health, nodeport = state.probes["health"], state.probes["nodeport"]
    return all(
        health.get((svc, node)) or nodeport.get((svc, node)) for node in nodes_of(state, svc)
    )


def _named(row: Sequence[Any]) -> ServiceRef | None:
    """The Service a fact is about, when it names one (its own facts)."""
    ns, name = row[F.NAMESPACE], row[F.NAME]
    if row[F.FACT] in _OWN and ns and name:
        return _service(row[F.CLUSTER], ns, name)
    return None


@lru_cache(maxsize=1024)
def _service(cluster: str, namespace: str, name: str) -> ServiceRef:
    """One ServiceRef per Service (a refresh names it for each of its facts, several times)."""
    return ServiceRef(cluster, namespace, name)


def _restore(
    memo: Memo, kept: dict[str, dict[Any, Any]], unchanged: Callable[[ServiceRef], bool]
) -> None:
    """Put back the per-Service values of the Services the new facts left alone (keys are the
    Service or (Service, ...))."""
    for name, values in kept.items():
        target = getattr(memo, name)
        for key, value in values.items():
            svc = key if isinstance(key, ServiceRef) else key[0]
            if unchanged(svc):
                target[key] = value


def lane_versions(
    state: FoldState, svc: ServiceRef, settings: DetectSettings = DEFAULTS
) -> dict[str, tuple[Any, ...]]:
    """Per node of the Service, the lengths of what its lane segments read (replay.segments:
    endpoints, the three probe/LB lanes, the Node, each local pod's samples; all append-only),
    then how many times the EndpointSlices listed a pod they put on it ready
    (`FoldState.slice_listed`: replay.deaths reads when its local pods were listed; a pod that
    moved to the node moves the pods' entry too), how many times its ready count changed
    (`FoldState.ready_counts`: replay.podsup reads which versions a health-check count fits) with
    how many times its ready pods did (`FoldState.ready_sets`: replay.held),
    and under "" the Service's first LB poll (`first_poll`): equal versions, equal segments.
    What the proxy lane without probes reads is read under `settings`, those the segments are
    computed with (its lag bound and ProxyTerminatingEndpoints move with them: under the
    defaults a bound that moves under other settings may stay). Kept in the memo until the
    next fold."""
    key = (svc, settings)
    known = state.memo.versions.get(key)
    if known is None:
        known = state.memo.versions[key] = _lane_versions(state, svc, settings)
    return known


def first_poll(state: FoldState, svc: ServiceRef) -> tuple[int | None]:
    """The Service's first LB poll (`lane_versions`' "" entry; None: never polled)."""
    targets = state.probes["target"]  # a probe/LB lane's node is one of the Service's nodes
    polls = [
        lane[0].at_us for n in state.service_nodes.get(svc, ()) if (lane := targets.get((svc, n)))
    ]
    return (min(polls, default=None),)


def _lane_versions(
    state: FoldState, svc: ServiceRef, settings: DetectSettings = DEFAULTS
) -> dict[str, tuple[Any, ...]]:
    pods: dict[str, list[tuple[str, int]]] = {}
    for pod, node in state.service_pods.get(svc, {}).items():
        samples = state.pods.get((svc.cluster, svc.namespace, pod), ())
        pods.setdefault(node, []).append((pod, len(samples)))
    listed = state.slice_listed
    probes = [state.probes[k] for k in PROBE_FACTS]
    out: dict[str, tuple[Any, ...]] = {"": first_poll(state, svc)}
    for node in nodes_of(state, svc):
        key = (svc, node)
        out[node] = (
            len(state.endpoints.get(key, ())),
            *(len(p.get(key, ())) for p in probes),
            len(state.nodes.get((svc.cluster, node), ())),
            tuple(sorted(pods.get(node, ()))),
            # the proxy lane without probes reads the node's syncs and PTE (segments._READS)
            None if any(p.get(key) for p in probes[:2]) else inferred(state, svc, node, settings),
            listed.get(key, 0),
            # and how many times its ready pods changed (FoldState.ready_sets: replay.held)
            (len(state.ready_counts.get(key, ())), len(state.ready_sets.get(key, ()))),
        )
    return out


def cluster_values(state: FoldState, cluster: str, settings: DetectSettings) -> ClusterValues:
    """What detection derives from every Service of a cluster at once: ProxyTerminatingEndpoints
    as the probes showed it and each observer's clock offset."""
    clocks = tuple(clock_offset(state, cluster, o, settings) for o in sorted(OBSERVERS))
    return (pte_known(state, cluster, settings), *clocks)


def _ties_by_address(state: FoldState, cluster: str) -> bool:
    """CloudTrail targets or access-log lines of the cluster are tied to nodes by a Node's
    instance id or address: a Node fact may re-tie them."""
    return any(m.cluster == cluster for m in state.members) or any(
        svc.cluster == cluster for svc, _node in state.access
    )


def touched(
    state: FoldState,
    rows: Iterable[Sequence[Any]],
    before: dict[str, ClusterValues],
    settings: DetectSettings,
) -> set[ServiceRef]:
    """The LB-facing Services whose projections the new fact `rows` (already folded into
    `state`) may change; `before` holds the cluster values from before them (updated)."""
    facing = lb_facing(state)
    pods: set[tuple[str, str, str]] = set()
    nodes: set[tuple[str, str]] = set()
    namespaces: set[tuple[str, str]] = set()
    clusters: set[str] = set()
    out: set[ServiceRef] = set()
    for row in rows:
        kind, cluster, ns, name = row[F.FACT], row[F.CLUSTER], row[F.NAMESPACE], row[F.NAME]
        svc = _named(row)
        if svc is not None:
            out.add(svc)
        elif kind == "pod":
            pods.add((cluster, ns or "", name or ""))
        elif kind == "node":
            nodes.add((cluster, name or ""))
        elif kind in _WIDE and ns:
            namespaces.add((cluster, ns))
        elif kind in _WIDE:
            clusters.add(cluster)
    for cluster, _node in nodes:
        if _ties_by_address(state, cluster):
            clusters.add(cluster)
    for cluster in {s.cluster for s in out} | {c for c, *_ in pods} | {c for c, _n in nodes}:
        now = cluster_values(state, cluster, settings)
        if before.get(cluster) != now:
            clusters.add(cluster)
        before[cluster] = now
    out.update(
        svc
        for svc in facing
        if svc.cluster in clusters
        or (svc.cluster, svc.namespace) in namespaces
        or _names_pod(state, svc, pods)
        or (nodes and any((svc.cluster, n) in nodes for n in nodes_of(state, svc)))
    )
    return out


def _names_pod(state: FoldState, svc: ServiceRef, pods: set[tuple[str, str, str]]) -> bool:
    known = state.service_pods.get(svc, {})
    return any(c == svc.cluster and n == svc.namespace and p in known for c, n, p in pods)
