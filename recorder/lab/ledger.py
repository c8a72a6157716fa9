"""The lab's claim, counted: every transition the fakes made is in the store once.

Three kinds of transition, each from what the fakes themselves logged:

- **Kubernetes**: every change the fake apiserver committed (kind, namespace, name,
  resourceVersion), except the no-op updates the recorder drops on purpose (same fingerprint as
  the version it last stored: recorder/sources/k8s/noop.py) and, for a change made while the
  history was compacted away from a recorder that could not watch, what client-go's relist would
  see instead (only the last state of each object touched; harness rule of the k8s tests).
  Lost: expected and absent. Duplicated: stored more than once.
- **kube-proxy health** per node and **LB target state** per target: the fakes' state changes.
  A change is *observable* when the new state lasted at least `bound_s` (the sampling bound: one
  look interval plus one timeout, in simulated seconds, plus the driver's slack); a sampler may
  legitimately miss a shorter one. Lost: an observable change with no stored row of that state
  within [change - slack, end of the state + bound]. Duplicated: a stored *transition* row (a probe
  `look: change`, an LB `ADDED`/`MODIFIED`/`DELETED`) to a state a transition since the last
  transition to another state already stored (where none did, the row before it is a heartbeat that
  claimed the state before its one transition: listed too), the newest row of that state observed
  when the transition's own replica still saw the old state (at or after its `previous_observed_at`:
  both saw the same change; `duplicates`), whoever stored it and however close to the other: the
  recorders run as two replicas (as deploy/ does), each sampling on its own, and the writer's
  compare-and-set (recorder/writer.py, `Guard`) stores a change once, whichever replica commits it
  first. There is no allowance for the same change "stored by both replicas" any more. Each
  duplicate names the row it repeats and what lies between (`twice`).
  *Unobservable*: a state that began and ended while no recorder was looking (the `sigkill-all`
  fault's blind stretch, widened by one bound on each side: a change the last replica saw just
  before it died may not have been committed, and the first looks come up to one interval after
  `ready`): no sampler could have recorded it, so it is counted apart, not expected and not lost.
  So is a state that ended before the lane's first look (`first_look_s`: the earliest first look
  any replica's log names, `lb first look`): the first instant is named once the replicas have
  started, not once they look: traced (`GAPWATCH_DEBUG_MEMORY`) at load 5-7, the LB poller's
  first answer came 9-13 s (wall) after it, the prober's 2-4 s (session 25), and session 24's
  traced soak "lost" the two LB states that ended first, at 82.2 and 90.1 s (simulated, 5x):
  before any look. The first look stores what it finds (`ADDED`, no previous look); what ended
  before it no sampler saw. The kube-proxy lane has the same rule (`kube-proxy first look`, the
  prober's first health look that got an answer). And an LB state that no answer the fake gave
  carried while it held (`served`: moto's proxy keeps them) is unobservable too, whatever kept
  the looks away: in session 25's traced soaks a poller stalled 1.6-3.8 s wall against a 0.1 s
  interval and "lost" a 20 s state (2 s wall) it never had a chance to see. The state after such
  a one, when equal to the one before it, continues that one for the recorder.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, text

from gapwatch.recorder.lab.fakes.fakeapi import KINDS, Change
from gapwatch.recorder.lab.world import ABSENT
from gapwatch.recorder.sources.k8s.noop import fingerprint
from gapwatch.recorder.tables import events

#: (kind, namespace, name, resourceVersion, "DELETED" or "")
K8sKey = tuple[str, str, str, str, str]
#: (checkpoint, relist) resourceVersions
Gap = tuple[int, int]


#: How long the last state of a target counts as lasting after the script's end (simulated s):
#: the fakes keep it until the lab stops, and the recorders look on until they have caught up.
LAST_STATE_S = 3600.0
_NONE = object()


@dataclass
class Count:
    expected: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    #: changes made and undone while no recorder was looking (module doc): not expected
    unobservable: list[str] = field(default_factory=list)
    #: per lost state transition, the stored rows of its key nearest it (`around`); per
    #: duplicated one, the row it repeats and the rows between (`twice`)
    around: dict[str, str] = field(default_factory=dict)


def _key(change: Change, rv: int | None = None, deleted: bool | None = None) -> K8sKey:
    ns, name = change.key
    gone = change.type == "DELETED" if deleted is None else deleted
    return (
        KINDS[change.plural][0],
        ns,
        name,
        str(change.rv if rv is None else rv),
        "DELETED" if gone else "",
    )


def expected_k8s(
    log: Iterable[Change],
    gaps: Mapping[str, Sequence[Gap]] | None = None,
    noop: set[int] | None = None,
) -> set[K8sKey]:
    """What a perfect recorder stores of the fake apiserver's `log` (module doc). `gaps`: per
    kind, the (from, to] resourceVersion ranges a relist collapsed (a watch stream's checkpoint
    when its history was compacted away, and the resourceVersion of its relist). `noop`: the
    resourceVersions of the updates the recorder drops (default: found by fingerprint)."""
    gaps = gaps or {}
    changes = list(log)
    if noop is None:
        noop = _noop_updates(changes)

    def in_gap(change: Change) -> bool:
        return any(a < change.rv <= b for a, b in gaps.get(KINDS[change.plural][0], ()))

    expected = {_key(c) for c in changes if c.rv not in noop and not in_gap(c)}
    for kind, ranges in gaps.items():  # a relist sees each touched object's state at its end
        for a, b in ranges:
            expected |= _relisted([c for c in changes if KINDS[c.plural][0] == kind], a, b, noop)
    return expected


def _noop_updates(changes: Sequence[Change]) -> set[int]:
    """The updates whose fingerprint equals the last recorded version's (noop.py)."""
    noop: set[int] = set()
    last_fp: dict[tuple[str, str, str], bytes] = {}
    for change in changes:
        ident = (change.plural, *change.key)
        if change.type == "DELETED":
            last_fp.pop(ident, None)
            continue
        fp = fingerprint(KINDS[change.plural][0], change.obj)
        if change.type == "MODIFIED" and last_fp.get(ident) == fp:
            noop.add(change.rv)  # the recorder drops it on purpose
        else:
            last_fp[ident] = fp
    return noop


def _relisted(changes: list[Change], a: int, b: int, noop: set[int]) -> set[K8sKey]:
    """What a relist at `b` records of `changes` made after the checkpoint `a`."""
    expected: set[K8sKey] = set()
    touched = {(c.plural, c.key) for c in changes if a < c.rv <= b}
    for plural, key in touched:
        mine = [c for c in changes if (c.plural, c.key) == (plural, key)]
        before = [c for c in mine if c.rv <= a]
        after = [c for c in mine if c.rv <= b][-1]
        existed = bool(before) and before[-1].type != "DELETED"
        if after.type != "DELETED" and (not existed or after.rv != before[-1].rv):
            expected.add(_key(after, deleted=False))
        if existed and after.type == "DELETED":
            recorded = [c for c in before if c.rv not in noop][-1]
            expected.add(_key(recorded, deleted=True))
    return expected


def relisted_deletions(
    log: Iterable[Change],
    gaps: Mapping[str, Sequence[Gap]] | None = None,
    noop: set[int] | None = None,
) -> dict[K8sKey, int]:
    """The deletions `expected_k8s` expects as a relist records them (the last recorded
    version's resourceVersion), each with the last resourceVersion of its gap. `a`, the gap's
    start, is the checkpoint the store held when the fault read it, which is not all the store
    holds: the replicas share one checkpoint row per stream and the last to commit writes it
    (recorder/writer.py: an untimed checkpoint replaces any), so the replica ahead may have
    stored rows past it; and a replica may hold later events of the stream read from the watch
    and not yet committed (its spool flushes every 100 ms). Such a real DELETED (its own
    resourceVersion, inside the gap) is the object's last row when the relist looks
    (watcher.py `_vanished`), so no second deletion is made up.
    `count_k8s` takes any stored deletion of the object from the expected resourceVersion to the
    gap's end for the expected one."""
    gaps = gaps or {}
    changes = list(log)
    if noop is None:
        noop = _noop_updates(changes)
    ends: dict[K8sKey, int] = {}
    for kind, ranges in gaps.items():
        mine = [c for c in changes if KINDS[c.plural][0] == kind]
        for a, b in ranges:
            for key in _relisted(mine, a, b, noop):
                if key[4] == "DELETED":
                    ends[key] = max(b, ends.get(key, b))
    return ends


def count_k8s(
    engine: Engine,
    cluster: str,
    expected: set[K8sKey],
    relisted: Mapping[K8sKey, int] | None = None,
) -> Count:
    """Lost and duplicated Kubernetes changes. `relisted` (relisted_deletions): an expected
    deletion a relist may have found recorded by the watch instead, up to its gap's end."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT kind, namespace, name, resource_version, op FROM events "
                # a RelistGap names a stretch, not an object's change
                "WHERE cluster = :c AND source = 'k8s-watch' AND kind <> 'RelistGap'"
            ),
            {"c": cluster},
        ).all()
    stored: Counter[K8sKey] = Counter(
        (kind, ns or "", name, str(rv), "DELETED" if op == "DELETED" else "")
        for kind, ns, name, rv, op in rows
    )
    deleted: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for kind, ns, name, rv, op in stored:
        if op:
            deleted[(kind, ns, name)].append(rv)

    def found(key: K8sKey) -> bool:
        if stored[key]:
            return True
        end = (relisted or {}).get(key)
        if end is None or not key[3].isdigit():
            return False
        low = int(key[3])
        return any(rv.isdigit() and low <= int(rv) <= end for rv in deleted[key[:3]])

    result = Count(expected=len(expected))
    result.lost = sorted("/".join(k).rstrip("/")[:200] for k in expected if not found(k))
    result.duplicated = sorted(
        f"{'/'.join(k).rstrip('/')[:200]} x{n}" for k, n in stored.items() if n > 1
    )
    return result


def count_states(
    changes: Sequence[tuple[float, str, Any]],
    rows: Sequence[tuple[Any, ...]],
    *,
    bound_s: float,
    slack_s: float,
    end_s: float,
    blind: Sequence[tuple[float, float]] = (),
    initial: Mapping[str, Any] | None = None,
    first_look_s: float | None = None,
    served: Sequence[tuple[float, Mapping[str, Any]]] | None = None,
) -> Count:
    """Lost and duplicated state transitions (module doc). `changes`: (s, key, state) the fakes
    made; `rows`: (s, key, state, is_transition[, previous_observed_at]) the store holds;
    `blind`: (from, to) when no recorder was looking; `initial`: key -> what the fake answered
    from its start, before the script's first change: a first change to that same state changed
    nothing, so a look before it that stored the state saw it (a look at 0.8 s that stored the
    fake's initial 503 for a script whose first 503 comes at 1.0 s). A different initial state
    is not expected (the recorders may start looking after the first change). `first_look_s`:
    when the lane's first look answered (None: unknown, every state is expected); a state that
    ended by then is unobservable (module doc), one that lasted past it is expected. `served`:
    (s, {key: state}) every answer the fake gave a look, in time order (None: not known, every
    state is expected); a state no answer carried while it held (from its start to its end plus
    `slack_s`, the driver's lateness; a key an answer does not list is ABSENT) is unobservable,
    whatever kept the looks away (a stalled poller, before the first look)."""
    result = Count()
    by_key: dict[str, list[tuple[float, Any]]] = defaultdict(list)
    for at, key, state in sorted(changes, key=lambda c: c[0]):
        if not by_key[key] and initial is not None and initial.get(key, _NONE) == state:
            at = -math.inf  # the fake answered it since before any look
        if not by_key[key] or by_key[key][-1][1] != state:
            by_key[key].append((at, state))
    stored: dict[str, list[tuple[float, Any, bool, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: float(r[0])):
        at, key, state, transition = row[:4]
        stored[key].append((at, state, transition, row[4] if len(row) > 4 else None))
    for key, seq in by_key.items():
        #: the last state judged, and whether states nobody could see came after it: a state
        #: equal to it after them continues it for the recorder (no transition in between)
        judged: tuple[float, Any] | None = None
        skipped = False
        for at, until, state in _observable(seq, bound_s, end_s):
            if any(a - bound_s <= at and until <= b + bound_s for a, b in blind):
                result.unobservable.append(f"{key} -> {state} at {at:.1f}-{until:.1f} s")
                skipped = True
                continue
            if first_look_s is not None and until <= first_look_s:
                since = "the start" if at == -math.inf else f"{at:.1f} s"
                result.unobservable.append(
                    f"{key} -> {state} from {since} to {until:.1f} s, before the first look "
                    f"at {first_look_s:.1f} s"
                )
                skipped = True
                continue
            if served is not None and not _served(served, key, state, at, until + slack_s):
                result.unobservable.append(
                    f"{key} -> {state} at {at:.1f}-{until:.1f} s: no look was answered while "
                    f"it held ({_answers_around(served, at, until)})"
                )
                skipped = True
                continue
            result.expected += 1
            lo = judged[0] if skipped and judged is not None and judged[1] == state else at
            judged, skipped = (lo, state), False
            seen = any(
                s == state and lo - slack_s <= t <= until + bound_s for t, s, _, _ in stored[key]
            )
            if not seen:
                since = "the start" if at == -math.inf else f"{at:.1f} s"
                result.lost.append(f"{key} -> {state} at {since}")
                result.around[result.lost[-1]] = around(stored[key], at, until)
    for key, seq_rows in stored.items():
        for i, j, early in duplicates(seq_rows):
            at, state = seq_rows[j][0], seq_rows[j][1]
            entry = (
                f"{key} -> {state} claimed by a heartbeat before its one transition at {at:.1f} s"
                if early
                else f"{key} -> {state} again at {at:.1f} s"
            )
            result.duplicated.append(entry)
            result.around[entry] = twice(seq_rows, i, j)
    return result


def _served(
    served: Sequence[tuple[float, Mapping[str, Any]]], key: str, state: Any, at: float, until: float
) -> bool:
    """Whether an answer between `at` and `until` carried `key` in `state`."""
    times = [t for t, _ in served]
    first = bisect.bisect_left(times, at)
    last = bisect.bisect_right(times, until)
    return any(members.get(key, ABSENT) == state for _, members in served[first:last])


def _answers_around(
    served: Sequence[tuple[float, Mapping[str, Any]]], at: float, until: float
) -> str:
    """The answers nearest a state no answer carried: the last before it and the first after."""
    times = [t for t, _ in served]
    i = bisect.bisect_left(times, at)
    before = f"the last answer before at {times[i - 1]:.1f} s" if i > 0 else "no answer before"
    j = bisect.bisect_right(times, until)
    after = f"the first after at {times[j]:.1f} s" if j < len(times) else "none after"
    inside = j - i
    return f"{before}, {inside} inside, {after}"


def duplicates(seq: Sequence[tuple[float, Any, bool, Any]]) -> list[tuple[int, int, bool]]:
    """(i, j, early): row j (a transition) stores again the change row i already stored, or
    (`early`) row i, a heartbeat, claimed the state before any transition stored it (module
    doc).

    Row j, a transition to S whose replica last saw the old state in a look that began at
    `since`, repeats an earlier row i of S when no transition to another state lies between
    them and row i was observed at or after `since`: the two looks overlap, so both saw the
    same change (a look of the old state that began after row i was observed saw the state
    leave S and come back: a new change, stored rightly). A row i that is a heartbeat counts
    too; a row j without `since` repeats the row just before it when that row is of S.
    Rows are in `observed_at` order, which is when a look *ended*: a look that began before
    another replica's change and ended after it (its replica's event loop stalled) is stored
    after that change with the state from before it. Ordered so, a heartbeat of the old state
    lies between a change and the next one, and the first rule (a transition to the state of
    the row just before it) both counted the change back as stored twice (the session-25
    soaks' `(200, 1) again`) and let a change stored twice around such a heartbeat pass.
    Where no transition to S lies in the run before row j, the change is stored once, by row
    j, and the heartbeat i before it is a different defect, reported as such (`early`): a
    replica stored a heartbeat of a state it had put as a change the writer then dropped
    (session 26's CI, `healthy again at 1.7 s`; the samplers guard such a heartbeat since
    session 27: docs/recorder.md, "The samplers")."""
    found: list[tuple[int, int, bool]] = []
    for j, (_at, state, transition, since) in enumerate(seq):
        if not transition or j == 0:
            continue
        newest: int | None = None  # the newest row of S: it decides, an older one is older
        stored = False  # a transition to S lies in the run: the change is in the store
        for i in range(j - 1, -1, -1):
            _at, other, other_transition, _ = seq[i]
            if other != state:
                if other_transition:
                    break  # a change to another state lies between
                continue
            if newest is None:
                newest = i
            stored = stored or other_transition
        if since is None:
            if seq[j - 1][1] == state:
                found.append((j - 1, j, not stored))
        elif newest is not None and seq[newest][0] >= since:
            found.append((newest, j, not stored))
    return found


def twice(seq: Sequence[tuple[float, Any, bool, Any]], first: int, again: int) -> str:
    """A duplicate, placed: the row it repeats, what lies between (up to 4 rows) and itself,
    each as `around` shows a row, so the next soak that reports one can be read without its
    store."""
    between = seq[first + 1 : again]
    shown = [_one(seq[first]), *(_one(r) for r in between[:4])]
    more = f" and {len(between) - 4} more" if len(between) > 4 else ""
    return (
        f"stored first: {shown[0]}; between: {'; '.join(shown[1:]) or 'nothing'}{more}; "
        f"again: {_one(seq[again])}"
    )


def _one(row: tuple[float, Any, bool, Any]) -> str:
    t, state, transition, since = row
    look = "" if since is None else f", previous look {since:.1f} s"
    return f"{t:.1f} s {state} ({'transition' if transition else 'heartbeat'}{look})"


def around(seq: Sequence[tuple[float, Any, bool, Any]], at: float, until: float) -> str:
    """What the store holds of a key around a lost state's [at, until] (simulated s): the last
    row before it, every row inside it, the first after it, each with its state, whether it is
    a transition or a heartbeat, and the look before it (`previous_observed_at`: which look
    chain stored it; the store does not say which replica)."""
    before = [r for r in seq if r[0] < at][-1:]
    inside = [r for r in seq if at <= r[0] <= until]
    after = [r for r in seq if r[0] > until][:1]

    shown = [_one(r) for r in (*before, *inside[:4], *after)]
    more = f" and {len(inside) - 4} more inside" if len(inside) > 4 else ""
    return "stored around it: " + ("; ".join(shown) or "nothing") + more


def _observable(
    seq: list[tuple[float, Any]], bound_s: float, end_s: float
) -> list[tuple[float, float, Any]]:
    """(start, end, state) of the states that lasted at least `bound_s`; a shorter one is
    dropped, and the states around it, when equal, are one (no look could tell them apart). The
    last state lasts while the recorders look on after the script (settle: several looks), so
    it is observable and has no end."""
    spans = [
        (at, seq[i + 1][0] if i + 1 < len(seq) else max(end_s, at + bound_s) + LAST_STATE_S, state)
        for i, (at, state) in enumerate(seq)
    ]
    kept: list[tuple[float, float, Any]] = []
    for at, until, state in spans:
        if until - at < bound_s:
            continue
        if kept and kept[-1][2] == state:
            kept[-1] = (kept[-1][0], until, state)
        else:
            kept.append((at, until, state))
    return kept


def probe_rows(
    engine: Engine, cluster: str, origin: datetime
) -> list[tuple[float, str, Any, bool, Any]]:
    """Stored ProxyHealth looks: (s, node, (status, endpoints|error), is a change, previous)."""
    found: list[tuple[float, str, Any, bool, Any]] = []
    for at, node, payload, _op, since in _rows(engine, cluster, "ProxyHealth"):
        status = payload.get("status")
        body = payload.get("body") or {}
        state = (
            (None, payload.get("error")) if status is None else (status, body.get("localEndpoints"))
        )
        transition = payload.get("look") == "change"
        found.append(
            ((at - origin).total_seconds(), node or "", state, transition, _s(since, origin))
        )
    return found


def target_rows(
    engine: Engine, cluster: str, origin: datetime
) -> list[tuple[float, str, Any, bool, Any]]:
    """Stored TargetHealth looks: (s, target id, state or ABSENT, is a change, previous)."""
    found: list[tuple[float, str, Any, bool, Any]] = []
    for at, _node, payload, op, since in _rows(engine, cluster, "TargetHealth"):
        ident = str((payload.get("Target") or {}).get("Id"))
        state = ABSENT if op == "DELETED" else (payload.get("TargetHealth") or {}).get("State")
        found.append(
            ((at - origin).total_seconds(), ident, state, op != "OBSERVED", _s(since, origin))
        )
    return found


def _rows(
    engine: Engine, cluster: str, kind: str
) -> list[tuple[datetime, str | None, Any, str, datetime | None]]:
    e = events.c
    # the table's column types: aware datetimes from SQLite's text too
    query = (
        select(e.observed_at, e.node, e.payload, e.op, e.previous_observed_at)
        .where(e.cluster == cluster, e.kind == kind)
        .order_by(e.observed_at, e.id)
    )
    with engine.connect() as conn:
        return [(r[0], r[1], _json(r[2]), r[3], r[4]) for r in conn.execute(query)]


def _s(when: datetime | None, origin: datetime) -> float | None:
    return None if when is None else (when - origin).total_seconds()


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        import orjson

        return orjson.loads(value)
    return value
