"""Which windows' owners a change of a Service's rollout and node-disruption spans can move.

A refresh (replay.node_rows) redoes a node's grouping only when the spans its windows can see
changed: these compare the spans before and after by id, and say whether windows starting in a
range keep their owners (replay.group). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from gapwatch.replay.model import Rollout

SpanChange = tuple[Rollout | None, Rollout | None]


def owners_hold(
    changes: Sequence[SpanChange], earliest_us: int, latest_us: int, settle_us: int
) -> bool:
    """Whether windows that start in [earliest_us, latest_us] keep their owners when the spans
    change as `changes` says ((before, after), None where there was or is none). A span holds
    a window's start when it started by it and ended no earlier than settle_us before it
    (replay.group): a span that can hold none of them, before and after, changes no owner; nor
    does one that only ended elsewhere among values at or after `latest_us - settle_us`."""
    edge = latest_us - settle_us
    for a, b in changes:
        if all(
            s is None or s.start_us > latest_us or s.end_us + settle_us < earliest_us
            for s in (a, b)
        ):
            continue
        if a is None or b is None or _but_end(a, b) != b:
            return False
        if min(a.end_us, edge) != min(b.end_us, edge):
            return False
    return True


def _but_end(a: Rollout, b: Rollout) -> Rollout:
    """`a` with the end of `b` (and its nodes, for a rollout: no owner reads a rollout's nodes,
    replay.group._cause)."""
    return replace(a, end_us=b.end_us, nodes=a.nodes if a.kind == "node-disruption" else b.nodes)


def span_changes(old: Sequence[Rollout], new: Sequence[Rollout]) -> list[SpanChange] | None:
    """The spans that differ, matched by id (None when an id repeats)."""
    before = {s.id: s for s in old}
    after = {s.id: s for s in new}
    if len(before) != len(old) or len(after) != len(new):
        return None
    return [
        (before.get(i), after.get(i))
        for i in before.keys() | after.keys()
        if before.get(i) != after.get(i)
    ]
