"""A Service's stored rows written as the changes since what it stored before (replay.node_rows).

The rows a node stores are compared with what it stored before only when its windows or lags
are a new list; rollouts are compared whole (a few rows). Stale rows are deleted by content
(row_diff.delete_matching); `write_changes` answers False when the store does not hold what
the checkpoint says (the caller then rewrites the Service's rows as a diff against the store).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection

from gapwatch.replay import row_diff
from gapwatch.replay.group import with_windows
from gapwatch.replay.lags import LagSample
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.projection_rows import (
    diff_columns,
    insert_all,
    lag_row,
    rollout_row,
    window_row,
)
from gapwatch.replay.resumed import common_prefix
from gapwatch.replay.tables import replay_lags, replay_rollouts, replay_windows

if TYPE_CHECKING:
    from gapwatch.replay.node_rows import NodeRows, ServiceRows


def _owned(now: ServiceRows, only: set[str | None] | None = None) -> dict[str | None, list[Window]]:
    """The Service's windows per rollout, in the order replay.group gives them (start, node);
    `only`: of these alone. The windows of no rollout are left out: a rollout's row reads
    only its own (`with_windows` by its id, never None)."""
    every = [
        w
        for node in sorted(now.nodes)
        for w in now.nodes[node].windows
        if w.rollout is not None and (only is None or w.rollout in only)
    ]
    every.sort(key=lambda w: (w.start_us, w.node))
    owned: dict[str | None, list[Window]] = {}
    for w in every:
        owned.setdefault(w.rollout, []).append(w)
    return owned


def rollout_rows(
    prev: ServiceRows | None, now: ServiceRows, changed: Iterable[Window] = ()
) -> dict[tuple[Any, ...], Any]:
    """The rollouts' rows (as values of their diff columns) into `now`; those computed this
    time by value. A span equal to the one before keeps its row unless a window that changed
    since `prev` belonged, or belongs, to it: one of `changed` (the windows the nodes no longer
    have and those they have new, write_changes' diff; a row reads only its windows'
    multiset: counts, sums, the latest end, the nodes)."""
    # (a window of no rollout moves no rollout's row: each reads only its own windows)
    moved = None if prev is None else {w.rollout for w in changed} - {None}
    if prev is None or moved is None:  # (moved is None only without prev)
        now.owned = _owned(now)
    elif not moved:
        now.owned = prev.owned
    else:  # only the groups a changed window left or joined are found again
        now.owned = {g: ws for g, ws in prev.owned.items() if g not in moved}
        now.owned.update(_owned(now, moved))
    columns = diff_columns(replay_rollouts, "id")
    rows: dict[tuple[Any, ...], Any] = {}
    kept = prev.span_rows if prev is not None else {}
    for span in now.spans:
        before = kept.get(span.id)
        if moved is not None and before is not None and before[0] == span and span.id not in moved:
            now.span_rows[span.id] = before
            continue
        row = rollout_row(with_windows([span], now.owned)[0])
        values = tuple(row[c] for c in columns)
        now.span_rows[span.id] = (span, values)
        rows[values] = row
    now.rollouts = Counter(values for _span, values in now.span_rows.values())
    return rows


def write_changes(conn: Connection, svc: ServiceRef, prev: ServiceRows, now: ServiceRows) -> bool:
    """Store what changed since `prev`; False when a stale row was not in the store."""
    stale_w: list[Window] = []
    new_w: list[Window] = []
    stale_l: list[LagSample] = []
    new_l: list[LagSample] = []
    for node in prev.nodes.keys() | now.nodes.keys():
        old = prev.nodes.get(node)
        cur = now.nodes.get(node)
        _diff(_windows(old), _windows(cur), stale_w, new_w)
        _diff(_lags(old), _lags(cur), stale_l, new_l)
    rows = rollout_rows(prev, now, (*stale_w, *new_w))
    stale_r = list((prev.rollouts - now.rollouts).elements())
    new_r = [rows[t] for t in (now.rollouts - prev.rollouts).elements()]
    w_cols = diff_columns(replay_windows, "id")
    l_cols = diff_columns(replay_lags, "id")
    wrows = [window_row(w) for w in stale_w]
    lrows = [lag_row(s) for s in stale_l]
    if not row_diff.delete_all_matching(
        conn,
        [
            (replay_windows, "id", svc, w_cols, [tuple(r[c] for c in w_cols) for r in wrows]),
            (replay_lags, "id", svc, l_cols, [tuple(r[c] for c in l_cols) for r in lrows]),
            (replay_rollouts, "id", svc, diff_columns(replay_rollouts, "id"), stale_r),
        ],
    ):
        return False
    insert_all(
        conn,
        [
            (replay_windows, [window_row(w) for w in new_w]),
            (replay_rollouts, new_r),
            (replay_lags, [lag_row(s) for s in new_l]),
        ],
    )
    return True


_NONE: list[Any] = []
T = TypeVar("T")


def _diff(before: list[T], after: list[T], stale: list[T], new: list[T]) -> None:
    """The rows of `before` that `after` no longer holds onto `stale`, its new ones onto `new`
    (nothing to compare when the node kept the same list, or had and has none: a node without
    windows or lags gets a new empty list each time)."""
    if before is after or not (before or after):
        return
    # most of a node's rows are the ones it had (a list recomputed in the same order): only
    # what lies between the matching head and tail is compared as multisets (the head found
    # by list comparisons: a node's windows grow at their end, thousands after months)
    lo, hi_a, hi_b = common_prefix(before, after), len(before), len(after)
    while hi_a > lo and hi_b > lo and _same(before[hi_a - 1], after[hi_b - 1]):
        hi_a, hi_b = hi_a - 1, hi_b - 1
    if lo == hi_a and lo == hi_b:
        return
    a, b = Counter(before[lo:hi_a]), Counter(after[lo:hi_b])
    stale.extend((a - b).elements())
    new.extend((b - a).elements())


def _same(x: object, y: object) -> bool:
    return x is y or x == y


def _windows(rows: NodeRows | None) -> list[Window]:
    return rows.windows if rows is not None else _NONE


def _lags(rows: NodeRows | None) -> list[LagSample]:
    return rows.lags if rows is not None else _NONE
