"""The segments projection: lane segments stored per Service, read back by time range.

The projections write `replay.segments.lane_segments` of every Service they recompute (the whole
history, as `timeline` used to fold it on every call). A range read then costs the range:

- the segments that *start* in `[since, until)`: one index range per (node, lane)
  (`ix_replay_segments_lane_start`: cluster, namespace, service, node, lane, start_us, seq);
- the segment that *holds* at `since`: per (node, lane), the last one starting before `since`
  (one index probe each). Within a lane the list is in start order and each segment normally
  ends where the next starts, so no earlier one can reach past `since`. `reach_before_us` (the
  latest end of the lane's earlier segments; open = `OPEN_US`) says when that is not so, and
  then that lane's earlier segments are read and filtered: the answer is always the full fold's.

Rows come back in the order of the full list ((node, lane, seq); `seq` numbers a lane's
segments). A refresh rewrites only the rows that changed (`stale_and_new`); from the checkpoint,
only the moved lanes' rows from where their inputs changed (replay.segment_tail, `write_tails`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, and_, bindparam, delete, select, text, tuple_

from gapwatch.replay import row_diff
from gapwatch.replay.model import Lane, Provenance, Segment, ServiceRef
from gapwatch.replay.projection_rows import bulk_insert
from gapwatch.replay.tables import replay_segments

#: `reach_before_us` of a lane whose earlier segment is still open
OPEN_US = 2**62
LANES: tuple[Lane, ...] = ("endpoints", "proxy", "lb", "pod", "node")
#: (node, lane) keys per "segment holding at since" query (two parameters each)
KEYS_PER_QUERY = 2000
_T = replay_segments


#: the columns that say what a stored segment is (besides its Service)
COLUMNS = ("node", "lane", "seq", "state", "start_us", "end_us", "start_earliest_us",
           "start_latest_us", "provenance", "event_id", "reach_before_us")  # fmt: skip


def segment_rows(segments: Sequence[Segment]) -> list[tuple[Any, ...]]:
    """Rows (COLUMNS) from one Service's full segment list, sorted by (node, lane, start);
    `seq` numbers each lane's segments in that order."""
    rows: list[tuple[Any, ...]] = []
    reach: dict[tuple[str, str], int | None] = {}
    seqs: dict[tuple[str, str], int] = {}
    for s in segments:
        key = (s.node, s.lane)
        before = reach.get(key)
        end = OPEN_US if s.end_us is None else s.end_us
        reach[key] = end if before is None else max(before, end)
        seq = seqs[key] = seqs.get(key, -1) + 1
        rows.append((s.node, s.lane, seq, s.state, s.start_us, s.end_us, s.start_earliest_us,
                     s.start_latest_us, s.provenance, s.event_id, before))  # fmt: skip
    return rows


def delete_service(conn: Connection, svc: ServiceRef) -> None:
    conn.execute(delete(_T).where(_of(svc)))


def stale_and_new(
    conn: Connection,
    svc: ServiceRef,
    rows: Sequence[tuple[Any, ...]],
    nodes: Sequence[str] | None = None,
) -> tuple[list[int], list[dict[str, Any]]]:
    """What replacing the Service's stored rows (of `nodes`; None: all) by `rows` takes: the ids
    of stored rows not in `rows`, and the rows not stored yet. New facts mostly add segments at
    the end of some lanes (and close the open one), so a refresh rewrites those instead of the
    Service's history."""
    stale, new = row_diff.stale_and_new(conn, _T, "id", svc, COLUMNS, rows, nodes)
    ref = {"cluster": svc.cluster, "namespace": svc.namespace, "service": svc.name}
    return stale, [{**ref, **dict(zip(COLUMNS, r, strict=True))} for r in new]


class NodeSegments(NamedTuple):
    """A node's segment rows (COLUMNS) as the store holds them, per lane in `seq` order, and
    the lane versions they were found from (replay.checkpoint.lane_versions: the Service's
    first LB poll, the node's)."""

    first_poll: tuple[Any, ...]
    version: tuple[Any, ...]
    lanes: dict[str, list[tuple[Any, ...]]]


#: per node, its segment rows as the store holds them (replay.node_rows keeps it)
KeptRows = dict[str, NodeSegments]


def by_lane(rows: Sequence[tuple[Any, ...]]) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    """Rows (COLUMNS) per node, per lane, in their order."""
    out: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for row in rows:
        out.setdefault(row[0], {}).setdefault(row[1], []).append(row)
    return out


def changed(
    old: Sequence[tuple[Any, ...]], found: Sequence[tuple[Any, ...]]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of `old` not in `found` and those of `found` not in `old`, as multisets (a row
    twice in one and once in the other counts once); equal heads and tails cancel out, so only
    what lies between them is counted."""
    head, end = 0, min(len(old), len(found))
    while head < end and old[head] == found[head]:
        head += 1
    tail = 0
    while tail < end - head and old[-1 - tail] == found[-1 - tail]:
        tail += 1
    before = Counter(old[head : len(old) - tail])
    after = Counter(found[head : len(found) - tail])
    return list((before - after).elements()), list((after - before).elements())


class LaneTail(NamedTuple):
    """A lane's rows after a refresh: its first `keep` kept rows, then `rows`."""

    keep: int
    rows: list[tuple[Any, ...]]


def write_tails(
    conn: Connection,
    svc: ServiceRef,
    tails: dict[str, dict[str, LaneTail]],
    kept: KeptRows,
    versions: dict[str, tuple[Any, ...]],
) -> bool:
    """Replace each lane in `tails` (per node; each node's rows in `kept`) by its kept rows'
    first `keep` and the tail's rows: the rows after them are diffed in memory with the tail's
    and the stale ones deleted by content; `kept` then holds them, found from `versions`
    (checkpoint.lane_versions now). False, nothing inserted nor kept, when the store did not
    hold what was kept (some stale rows may be gone: the caller diffs every lane of the nodes
    against the store, `write_stored`)."""
    stale: list[tuple[Any, ...]] = []
    new: list[tuple[Any, ...]] = []
    for node, lanes in tails.items():
        held = kept[node].lanes
        for lane, tail in lanes.items():
            gone, added = changed(held.get(lane, [])[tail.keep :], tail.rows)
            stale += gone
            new += added
    if not row_diff.delete_matching(conn, _T, "id", svc, COLUMNS, stale):
        return False
    _insert(conn, svc, new)
    apply_tails(tails, kept, versions)
    return True


def apply_tails(
    tails: dict[str, dict[str, LaneTail]], kept: KeptRows, versions: dict[str, tuple[Any, ...]]
) -> None:
    """`kept` with each lane of `tails` replaced (`write_tails`), found from `versions`."""
    for node, lanes in tails.items():
        held = kept[node].lanes
        for lane, tail in lanes.items():
            rows = held.setdefault(lane, [])
            del rows[tail.keep :]
            rows.extend(tail.rows)
        kept[node] = NodeSegments(versions[""], versions[node], held)


def write_stored(
    conn: Connection,
    svc: ServiceRef,
    rows: Sequence[tuple[Any, ...]],
    nodes: Sequence[str] | None,
    kept: KeptRows | None,
    versions: dict[str, tuple[Any, ...]],
) -> None:
    """Replace the Service's stored rows of `nodes` (None: all) by `rows`, diffed against the
    store (`stale_and_new`); `kept` (if any) then holds them per node, found from `versions`
    (checkpoint.lane_versions now)."""
    ids, inserted = stale_and_new(conn, svc, rows, nodes)
    delete_ids(conn, ids)
    if inserted:
        bulk_insert(conn, _T, inserted)
    if kept is not None:
        fresh = by_lane(rows)
        if nodes is None:
            kept.clear()
        for node in fresh if nodes is None else nodes:
            if node in versions:
                kept[node] = NodeSegments(versions[""], versions[node], fresh.get(node, {}))
            else:
                kept.pop(node, None)


def _insert(conn: Connection, svc: ServiceRef, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        ref = {"cluster": svc.cluster, "namespace": svc.namespace, "service": svc.name}
        bulk_insert(conn, _T, [{**ref, **dict(zip(COLUMNS, r, strict=True))} for r in rows])


def delete_ids(conn: Connection, ids: Sequence[int]) -> None:
    row_diff.delete_keys(conn, _T, "id", ids)


def _of(svc: ServiceRef) -> Any:
    return and_(_T.c.cluster == svc.cluster, _T.c.namespace == svc.namespace,
                _T.c.service == svc.name)  # fmt: skip


def _segment(svc: ServiceRef, r: Any) -> Segment:
    return Segment(
        svc, r.node, cast(Lane, r.lane), r.state, r.start_us, r.end_us,
        r.start_earliest_us, r.start_latest_us, cast(Provenance, r.provenance), r.event_id,
    )  # fmt: skip


def _nodes(conn: Connection, svc: ServiceRef, nodes: Sequence[str] | None) -> list[str]:
    if nodes:  # like lane_segments: an empty selection means every node
        return sorted(set(nodes))
    query = select(_T.c.node).where(_of(svc)).distinct()
    return sorted(conn.execute(query).scalars())


def _holding_at(
    conn: Connection, svc: ServiceRef, keys: Sequence[tuple[str, str]], lo: int
) -> list[Any]:
    """Per (node, lane): the last segment starting before `lo` (an index probe each), plus, for
    a lane whose earlier segments reach past it, those (read and filtered)."""
    if not keys:
        return []
    values = ", ".join(f"(:n{i}, :l{i})" for i in range(len(keys)))
    params: dict[str, Any] = {"c": svc.cluster, "ns": svc.namespace, "s": svc.name, "lo": lo}
    for i, (node, lane) in enumerate(keys):
        params[f"n{i}"], params[f"l{i}"] = node, lane
    sql = f"""
WITH k(node, lane) AS (VALUES {values})
SELECT s.* FROM k JOIN replay_segments s ON s.cluster = :c AND s.id = (
  SELECT x.id FROM replay_segments x
  WHERE x.cluster = :c AND x.namespace = :ns AND x.service = :s
    AND x.node = k.node AND x.lane = k.lane AND x.start_us < :lo
  ORDER BY x.start_us DESC, x.seq DESC LIMIT 1)"""
    last = list(conn.execute(text(sql), params))
    out = [r for r in last if r.end_us is None or r.end_us > lo]
    tangled = [(r.node, r.lane) for r in last if (r.reach_before_us or 0) > lo]
    if tangled:
        earlier = select(_T).where(
            _of(svc),
            tuple_(_T.c.node, _T.c.lane).in_(tangled),
            _T.c.start_us < lo,
            _T.c.id.notin_([r.id for r in last]),
        )
        out += [r for r in conn.execute(earlier) if r.end_us is None or r.end_us > lo]
    return out


def read_range(
    conn: Connection,
    svc: ServiceRef,
    since_us: int | None,
    until_us: int | None,
    nodes: Sequence[str] | None = None,
) -> list[Segment]:
    """The stored segments of the Service's (chosen) nodes that overlap `[since, until)`, exactly
    as filtering the full list would give them."""
    wanted = _nodes(conn, svc, nodes)
    if not wanted:
        return []
    query = select(_T).where(
        _of(svc), _T.c.node.in_(bindparam("nodes", wanted, expanding=True)), _T.c.lane.in_(LANES)
    )
    if since_us is not None:
        query = query.where(_T.c.start_us >= since_us)
    if until_us is not None:
        query = query.where(_T.c.start_us < until_us)
    rows = list(conn.execute(query))
    if since_us is not None:
        keys = [(node, lane) for node in wanted for lane in LANES]
        for i in range(0, len(keys), KEYS_PER_QUERY):  # bound parameters stay under the limits
            rows += _holding_at(conn, svc, keys[i : i + KEYS_PER_QUERY], since_us)
    rows.sort(key=lambda r: (r.node, r.lane, r.seq))  # lane_segments' order
    return [
        _segment(svc, r)
        for r in rows
        if (since_us is None or r.end_us is None or r.end_us > since_us)
        and (until_us is None or r.start_us < until_us)
    ]
