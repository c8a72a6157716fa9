"""The projection rows a rebuild keeps: those of the span retention dropped.

`gapwatch db maintain --retention` drops old events and their facts and keeps the projections
(docs/retention.md). A rebuild (`gapwatch replay --rebuild`, and the one a refresh makes by itself
after an upgrade of replay's code or a re-derivation of the facts) recomputes the projections from
the facts left: it used to delete every row first, so the first upgrade after a retention lost
every window, rollout and lag sample older than the retention, silently.

A rebuild keeps, per cluster, the rows that lie wholly before the first instant the store still
holds of it (`boundaries`): a window whose latest end, a rollout whose end, a lag sample whose
time is earlier. No fact left can make such a row (a row ends at or after a fact it was read
from), so the kept rows and the recomputed ones never describe the same instants twice. A row
that straddles the boundary is recomputed from the events left, as partial as they are (the
readers say which rows began before the first held event: replay.retained). A kept window whose
rollout straddled named that rollout's id as the earlier build had it, which the recomputed,
partial rollout does not keep (ids hash the start): `detach` leaves it in no rollout, so no
reader follows an id the store does not list (`gapwatch report --rollout` refused it, "no
rollout"; a new rollout could take it). Where no row lies before
the cluster's first held event (a store without retention) nothing is kept and the rebuild is
what it was. The lane segments are not kept: they are numbered along each lane's whole history,
which a refresh rewrites by position (replay.segment_store).

`gapwatch replay --rebuild --forget-dropped` drops them.

A refresh keeps them too: it recomputes a touched Service from the facts left and rewrote its
rows as a diff against the stored ones, which deleted the dropped span's rows of every Service
that recorded anything after a retention. The rebuild stores each cluster's boundary in
replay_state (`BOUND_PREFIX`); a retention marks the store (`MARK`, written by `gapwatch db
maintain` when it dropped events), and the next refresh that writes finds the boundaries again
once and clears the mark. A refresh's diff leaves the rows before its cluster's boundary alone
(`floor`). A store that never dropped events holds neither key: its refresh reads the same one
statement of replay_state as before and writes as before.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import (
    Column,
    Connection,
    Table,
    and_,
    delete,
    func,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from gapwatch.replay import state_rows
from gapwatch.replay.retained import first_event_us
from gapwatch.replay.tables import (
    facts,
    replay_lags,
    replay_rollouts,
    replay_state,
    replay_windows,
)

#: replay_state: set by a retention that dropped events (recorder.partitions), cleared by the
#: next rebuild or writing refresh once it has found the boundaries again
MARK = "retention_dropped"
#: replay_state: `BOUND_PREFIX + cluster`, the boundary the kept rows lie before
BOUND_PREFIX = "kept_before:"
#: a cluster the store holds no event of: every row is before it
ALL = 2**62
#: Connection.info: the boundaries a refresh's diffs leave alone (replay.projection_rows)
INFO = "gapwatch.kept_before"

#: each kept table and the column that places its row in time (a row is kept while it is
#: earlier than its cluster's boundary)
KEPT: tuple[tuple[Table, str], ...] = (
    (replay_windows, "end_latest_us"),
    (replay_rollouts, "end_us"),
    (replay_lags, "at_us"),
)


def boundaries(conn: Connection) -> dict[str, int | None]:
    """Per cluster whose projection rows begin before the first instant the store still holds
    of it: that instant (µs: the earlier of its first event's observed_at and its first fact's
    time), None where it holds nothing of the cluster (every row of it is kept). Clusters
    without such rows are left out: nothing of theirs is kept. Index lookups per cluster, and
    a read of a cluster's fact times only where a row lies before its first event."""
    out: dict[str, int | None] = {}
    for cluster in _clusters(conn):
        first_us = first_event_us(conn, cluster)
        if first_us is None:
            out[cluster] = None
            continue
        if not _any_before(conn, cluster, first_us):
            continue
        fact_us = conn.execute(
            select(func.min(facts.c.at_us)).where(facts.c.cluster == cluster)
        ).scalar_one()
        bound = first_us if fact_us is None else min(first_us, int(fact_us))
        if _any_before(conn, cluster, bound):
            out[cluster] = bound
    return out


def _clusters(conn: Connection) -> list[str]:
    found: set[str] = set()
    for table, _at in KEPT:
        found.update(conn.execute(select(table.c.cluster).distinct()).scalars())
    return sorted(found)


def _any_before(conn: Connection, cluster: str, bound_us: int) -> bool:
    for table, at in KEPT:
        query = select(table.c.cluster).where(table.c.cluster == cluster, table.c[at] < bound_us)
        if conn.execute(query.limit(1)).first() is not None:
            return True
    return False


def _kept(table: Table, at: str, bounds: Mapping[str, int | None]) -> list[ColumnElement[bool]]:
    """The condition that holds of `table`'s rows kept under `bounds`."""
    column: Column[int] = table.c[at]
    return [
        and_(table.c.cluster == cluster, true() if bound is None else column < bound)
        for cluster, bound in sorted(bounds.items())
    ]


def clear(conn: Connection, bounds: Mapping[str, int | None]) -> None:
    """Delete every row of the kept tables but those `bounds` keeps (empty: all of them), and
    record `bounds` for the refreshes after (the mark cleared)."""
    for table, at in KEPT:
        kept = _kept(table, at, bounds)
        conn.execute(delete(table).where(not_(or_(*kept))) if kept else delete(table))
    record(conn, bounds)


def services(conn: Connection) -> set[tuple[str, str, str]]:
    """(cluster, namespace, service) of every row of the kept tables: after `clear`, the
    Services that hold kept rows."""
    found: set[tuple[str, str, str]] = set()
    for table, _at in KEPT:
        query = select(table.c.cluster, table.c.namespace, table.c.service).distinct()
        found.update((c, ns, n) for c, ns, n in conn.execute(query))
    return found


def record(conn: Connection, bounds: Mapping[str, int | None]) -> None:
    """Store `bounds` as the boundaries (replacing any) and clear the mark."""
    conn.execute(delete(replay_state).where(state_keys()))
    state_rows.put(conn, {BOUND_PREFIX + c: ALL if b is None else b for c, b in bounds.items()})


def state_keys() -> ColumnElement[bool]:
    """replay_state's keys `stored` reads."""
    return or_(replay_state.c.key == MARK, replay_state.c.key.like(BOUND_PREFIX + "%"))


def stored(rows: Mapping[str, int]) -> tuple[dict[str, int | None], bool]:
    """The boundaries among replay_state's `rows`, and whether the store is marked."""
    bounds = {
        key[len(BOUND_PREFIX) :]: None if value >= ALL else value
        for key, value in rows.items()
        if key.startswith(BOUND_PREFIX)
    }
    return bounds, MARK in rows


def floor(conn: Connection, table: Table, cluster: str) -> tuple[str, int] | None:
    """The column and instant below which a refresh leaves `table`'s rows of `cluster` alone
    (None: none kept)."""
    bounds: Mapping[str, int | None] | None = conn.info.get(INFO)
    if not bounds or cluster not in bounds:
        return None
    at = next((a for t, a in KEPT if t is table), None)
    if at is None:
        return None
    bound = bounds[cluster]
    return at, ALL if bound is None else bound


def holds(conn: Connection, cluster: str, namespace: str, name: str) -> bool:
    """Whether kept rows of the Service are stored (only where its cluster keeps rows)."""
    bounds: Mapping[str, int | None] | None = conn.info.get(INFO)
    if not bounds or cluster not in bounds:
        return False
    for table, _at in KEPT:
        query = select(table.c.cluster).where(
            table.c.cluster == cluster, table.c.namespace == namespace, table.c.service == name
        )
        if conn.execute(query.limit(1)).first() is not None:
            return True
    return False


def delete_service(conn: Connection, table: Table, cluster: str, namespace: str, name: str) -> None:
    """Delete a Service's rows of `table` but those kept (a Service no longer LB-facing)."""
    where = [table.c.cluster == cluster, table.c.namespace == namespace, table.c.service == name]
    kept = floor(conn, table, cluster)
    if kept is not None:
        where.append(table.c[kept[0]] >= kept[1])
    conn.execute(delete(table).where(*where))


def detach(conn: Connection, bounds: Mapping[str, int | None]) -> int:
    """Leave the kept windows whose rollout the projections no longer list in no rollout (their
    rollout straddled the boundary and was recomputed under another id, or not at all), after
    the rollouts were written; returns how many. Only the kept windows of clusters that keep
    rows are looked at."""
    w, listed = (
        replay_windows.c,
        select(replay_rollouts.c.id).where(replay_rollouts.c.cluster == replay_windows.c.cluster),
    )
    done = 0
    for cluster, bound in sorted(bounds.items()):
        where = [w.cluster == cluster, w.rollout.is_not(None), w.rollout.not_in(listed)]
        if bound is not None:
            where.append(w.end_latest_us < bound)
        done += conn.execute(update(replay_windows).where(*where).values(rollout=None)).rowcount
    return done
