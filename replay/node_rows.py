"""A touched Service's windows, rollouts and lags, recomputed node by node from a checkpoint and
written as the rows that changed.

`projections.compute` finds a Service's rows from all of its windows at once: failed requests
counted on the access log's clock (replay.logclock), grouping into rollouts (replay.group),
the lags (replay.lags). Each of these is per node given a few values of the whole Service,
so a refresh keeps, per Service and node, what it stored and what that was found from, and
redoes a node only when one of them moved:

- counting: the node's windows (the same list replay.node_cache kept), its failed lines in
  the access-log impact and the Service's log clocks (the ones replay.node_cache found the
  access-log proofs on: they read only the windows' outer bounds, which proofs do not move);
- grouping: the node's counted windows, the pods (kept until a pod, workload or slice fact of
  the Service's namespace arrives, then found again only where a pod's samples, node or
  workload moved: replay.pod_index) and the spans as this node's windows see them (a span that
  only ended later, such as a rollout or disruption still open at the end of the data, moves
  no owner of a window that started before its old end plus settle_s);
- lags: replay.lags keeps them per node already (the same list while the lanes did not grow).

The rows a node stores are compared with what it stored before only when its windows or lags
are a new list (replay.row_changes); whether a node's window owners can move when the spans
change: replay.span_changes. Equal to `compute`
(tests/replay/test_node_rows.py, and the refresh properties against a rebuild).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import compress, count
from operator import attrgetter, is_not
from typing import Any

from sqlalchemy import Connection

from gapwatch.replay import node_cache
from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState
from gapwatch.replay.group import (
    PartMemo,
    Pod,
    RolloutPart,
    assign,
    group,
    rollout_parts,
    spans_of,
    with_windows,
)
from gapwatch.replay.impact import Impact
from gapwatch.replay.lags import LagSample, lag_samples, node_lags
from gapwatch.replay.logclock import LogClock, OutsideKept, counted
from gapwatch.replay.model import Rollout, ServiceRef, Window
from gapwatch.replay.pod_index import PodIndex, pods_and_changes
from gapwatch.replay.projection_rows import write_rows
from gapwatch.replay.row_changes import rollout_rows, write_changes
from gapwatch.replay.segment_store import KeptRows
from gapwatch.replay.span_changes import SpanChange, owners_hold, span_changes

Changes = dict[tuple[str, str], list[tuple[int, str]]]


@dataclass(slots=True)
class NodeRows:
    raw: list[Window]
    #: the node's failed lines as the impact had them when counted (None: not covered)
    lines: list[int] | None
    counted: list[Window]
    #: its windows and lags as stored
    windows: list[Window]
    lags: list[LagSample]


@dataclass(slots=True)
class ServiceRows:
    """What one Service's rows in the store are, and what they were found from."""

    clocks: dict[ServiceRef, LogClock] = field(default_factory=dict)
    impact: Impact | None = None
    basis: tuple[list[RolloutPart], Changes] | None = None
    #: a pod, workload or slice fact came since `basis` (replay.checkpoint): found again
    pods_moved: bool = False
    spans: list[Rollout] = field(default_factory=list)
    nodes: dict[str, NodeRows] = field(default_factory=dict)
    #: the windows per group, and each span's row (diff columns), as stored
    owned: dict[str | None, list[Window]] = field(default_factory=dict)
    span_rows: dict[str, tuple[Rollout, tuple[Any, ...]]] = field(default_factory=dict)
    rollouts: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    #: its context rows as stored (replay.scope; projections writes them)
    context: dict[str, int] = field(default_factory=dict)
    #: its pods as grouping read them, pod by pod (replay.pod_index), and in order as `basis`
    #: was found from them
    pods: PodIndex = field(default_factory=dict)
    pod_list: list[Pod] | None = None
    #: the rollout parts per pair of revisions, with the pods they were found from
    parts: PartMemo = field(default_factory=dict)
    #: each access-log lane's lines outside its windows (replay.logclock.log_clocks)
    outside: OutsideKept = field(default_factory=dict)
    #: its lane segment rows as stored, per node (replay.segment_store.write_nodes)
    segments: KeptRows = field(default_factory=dict)


Kept = dict[ServiceRef, ServiceRows]


def write_service(
    conn: Connection,
    state: FoldState,
    svc: ServiceRef,
    settings: DetectSettings,
    impact: Impact,
    cache: node_cache.Cache,
    kept: Kept,
    *,
    empty: bool = False,
    on_node: Callable[[float], None] | None = None,
) -> None:
    """Compute the Service's windows, rollouts and lags and store them as the rows that
    changed since `kept[svc]` (absent: as a diff against the store, or all inserted when the
    store holds none of its rows: `empty`); `kept` is updated. `on_node`: node_cache.windows'."""
    prev = kept.pop(svc, None)
    # the lines outside each lane's windows, as the log clock counted them (replay.logclock)
    outside: OutsideKept = prev.outside if prev is not None else {}
    found = node_cache.windows(
        state, svc, settings, cache, impact, outside, on_node=on_node, ordered=False
    )
    per_node = cache.get(svc)
    if per_node is None:  # detected whole (replay.node_cache): no windows per node to reuse
        windows = counted(state, node_cache.in_order(found), settings, impact=impact)
        rollouts, windows = group(state, windows, [svc], settings)
        lags = lag_samples(state, [svc], settings)
        write_rows(conn, windows, rollouts, lags, None if empty else svc)
        return
    now = ServiceRows(impact=impact, outside=outside)
    if prev is not None:
        now.context, now.pods = prev.context, prev.pods
        now.pod_list = prev.pod_list
        now.parts = prev.parts
        now.segments = prev.segments
    raws = {n: nw.windows for n, nw in per_node.nodes.items()}
    _count(state, svc, settings, prev, now, raws, per_node.clocks)
    _group(state, svc, settings, prev, now)
    for node, lags in node_lags(state, svc, settings).items():  # kept in the memo (replay.lags)
        if node in now.nodes:
            now.nodes[node].lags = lags
        elif lags:
            now.nodes[node] = NodeRows([], None, [], [], lags)
    if prev is None and not empty:  # what the store holds is not known: diff against it
        rollout_rows(None, now)
        whole = True
    else:
        whole = not write_changes(conn, svc, prev or ServiceRows(), now)
    if whole:
        rollouts = with_windows(now.spans, now.owned)
        windows = [w for nr in now.nodes.values() for w in nr.windows]
        lags = [s for nr in now.nodes.values() for s in nr.lags]
        write_rows(conn, windows, rollouts, lags, svc)
    kept[svc] = now


def _count(
    state: FoldState,
    svc: ServiceRef,
    settings: DetectSettings,
    prev: ServiceRows | None,
    now: ServiceRows,
    raws: dict[str, list[Window]],
    clocks: dict[ServiceRef, LogClock],
) -> None:
    """Failed requests per node (replay.logclock.counted with the Service's clocks: those
    replay.node_cache found its access-log proofs on, from the same windows' outer bounds)."""
    impact = now.impact
    assert impact is not None
    now.clocks = clocks
    same_clock = prev is not None and _offsets(prev.clocks) == _offsets(now.clocks)
    covered = svc in impact.covered
    for node, raw in raws.items():
        lines = impact.lanes.get((svc, node), []) if covered else None
        old = prev.nodes.get(node) if prev is not None else None
        if old is not None and same_clock and old.raw is raw and old.lines == lines:
            now.nodes[node] = NodeRows(raw, lines, old.counted, old.windows, old.lags)
        else:
            # a moved node's windows are mostly the ones it had: those counted alike are reused
            # (those it kept as they were, the same objects first: `_kept_head`)
            head, before = 0, None
            if old is not None:
                if same_clock and old.lines == lines:
                    head = _kept_head(old.raw, raw)
                before = dict(zip(old.raw[head:], old.counted[head:], strict=True))
            found_here = counted(state, raw[head:], settings, now.clocks, impact, before)
            if head and old is not None:
                found_here = [*old.counted[:head], *found_here]
            now.nodes[node] = NodeRows(raw, lines, found_here, [], [])


def _kept_head(before: Sequence[Window], now: Sequence[Window]) -> int:
    """How many of `now`'s first windows are `before`'s own, the same objects in the same
    places (replay.node_cache keeps a moved node's windows before its suffix's instant as they
    were). Counted on the same clocks and failed lines, each counts as it did: `counted` reads
    only the window, its node's lines and the clocks. A C-level scan (`map`), the one part
    left linear in the node's windows."""
    return next(compress(count(), map(is_not, before, now)), min(len(before), len(now)))


def _offsets(clocks: dict[ServiceRef, LogClock]) -> dict[ServiceRef, tuple[int, int] | None]:
    """What `counted` reads of the log clocks: the estimated offsets' range, if any."""
    return {svc: (c.lo_us, c.hi_us) if c.estimated else None for svc, c in clocks.items()}


def _group(
    state: FoldState, svc: ServiceRef, settings: DetectSettings, prev: ServiceRows | None,
    now: ServiceRows,
) -> None:  # fmt: skip
    """Each node's windows with their rollout set (replay.group.assign), reusing a node's
    when its counted windows, the pods and the spans it can see did not move."""
    settle = seconds_us(settings.settle_s)
    basis = prev.basis if prev is not None else None
    moved_pods: set[str] = set()  # nodes where a pod of some workload changed
    if basis is None or (prev is not None and prev.pods_moved):
        last = (now.pod_list, basis[1]) if basis is not None and now.pod_list is not None else None
        pods, changes = pods_and_changes(state, svc, now.pods, last)
        now.pod_list = pods
        old_basis, basis = basis, (rollout_parts(svc, pods, now.parts), changes)
        if old_basis is not None:
            before, after = old_basis[1], basis[1]
            moved_pods = {n for k in before.keys() | after.keys() if before.get(k) != after.get(k)
                          for n in k[1:]}  # fmt: skip
    now.basis = basis
    now.spans = spans_of(state, svc, basis[0])
    moved = None if prev is None or prev.basis is None else span_changes(prev.spans, now.spans)
    for node, rows in now.nodes.items():
        mine = rows.counted
        old = prev.nodes.get(node) if prev is not None else None
        if not mine:
            rows.windows = []
            continue
        if (
            old is not None
            and moved is not None
            and node not in moved_pods
            and old.counted is mine
            and owners_hold(
                moved, min(w.start_us for w in mine), max(w.start_us for w in mine), settle
            )
        ):
            rows.windows = old.windows
            continue
        if moved is not None and node not in moved_pods and old is not None:
            head = _held_head(old, mine, moved, settle)
            if head:  # those keep what they were given: the rest as below, from where it moved
                tail = dict(zip(old.counted[head:], old.windows[head:], strict=True))
                rest = reassigned(mine[head:], tail, moved, now.spans, basis[1], settle)
                rows.windows = [*old.windows[:head], *rest]
                continue
        ordered = sorted(mine, key=lambda w: w.start_us)
        done = _assigned(old)
        if done and moved is not None and node not in moved_pods:
            rows.windows = reassigned(ordered, done, moved, now.spans, basis[1], settle)
        else:
            rows.windows = assign(ordered, now.spans, basis[1], settle, done)


def _held_head(old: NodeRows, mine: list[Window], moved: Sequence[SpanChange], settle: int) -> int:
    """How many of a moved node's first counted windows `mine` keep what `_group` gave them
    last (`old`; 0: none, or not known so): the same objects in the same places as
    `old.counted` (`_kept_head`), both lists in start order (so `old.windows` is in their
    order and `assign`'s order is theirs) and the span changes `moved` holding their owners
    from the first one's start to the last one's (span_changes.owners_hold: then at each
    start between). `reassigned` gives each of them its assigned self (equal windows are
    assigned alike); the rest are `reassigned` alone, the same loop. C-level scans (`map`,
    `sorted` of the starts) are the part left linear in the node's windows."""
    if len(old.windows) != len(old.counted):
        return 0
    head = _kept_head(old.counted, mine)
    if not head or not (_in_start_order(mine) and _in_start_order(old.counted)):
        return 0
    return head if owners_hold(moved, mine[0].start_us, mine[head - 1].start_us, settle) else 0


def _in_start_order(windows: Sequence[Window]) -> bool:
    starts = list(map(_START, windows))
    return starts == sorted(starts)


_START = attrgetter("start_us")


def reassigned(
    ordered: Sequence[Window],
    before: dict[Window, Window],
    moved: Sequence[SpanChange],
    spans: Sequence[Rollout],
    changes: Changes,
    settle_us: int,
) -> list[Window]:
    """`assign` of a moved node's windows (in start order) whose pod changes did not move: a
    window assigned before (`before`, by its counted self) whose owner the span
    changes `moved` cannot move (span_changes.owners_hold at its start) keeps its assigned
    self; only the others are assigned (a window's owner reads only itself, the spans holding
    its start and its node's pod changes: replay.group._cause)."""
    kept = [
        before.get(w) if owners_hold(moved, w.start_us, w.start_us, settle_us) else None
        for w in ordered
    ]
    todo = [w for w, k in zip(ordered, kept, strict=True) if k is None]
    fresh = iter(assign(todo, spans, changes, settle_us, before))
    return [k if k is not None else next(fresh) for k in kept]


def _assigned(old: NodeRows | None) -> dict[Window, Window] | None:
    """A node's windows as `_group` last assigned them, by the counted windows they came from
    (`assign` keeps the start order it was given)."""
    if old is None or len(old.windows) != len(old.counted):
        return None
    return dict(zip(sorted(old.counted, key=lambda w: w.start_us), old.windows, strict=True))
