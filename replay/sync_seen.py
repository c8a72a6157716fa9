"""What a node's kube-proxy metrics looks stated, carried on from the last time they were read:
the ProxyTerminatingEndpoints gate values its feature-gate metric showed (replay.proxy
`gate_stated`) and the latest process start they named (replay.confspan `latest_restarts`).

Both were read from every look of the node's lane on every fold (`gate_stated` per node and
per cluster, `latest_restarts` per cluster: the memo they are kept in is cleared by each
fold), so a refresh read every node's whole metrics history where kube-proxy is scraped
(2,880 looks a node a day at 30 s; benchmarks/README.md, "Session 34: refresh, round 3").
`seen` gives the same of the fold's own lane (`FoldState.syncs`) and reads only the looks
appended since its last call for that node. Exact: the fold appends to a node's looks and
changes none (fold.py, the `sync` facts), so where the lane is the list the entry read, its
first `read` looks are the ones read then, and a set's union and a maximum go on from theirs;
another list (none before) is read whole. The entries are `fold.Memo.sync_seen`, which
`Memo.clear` keeps (the lanes only grow). Tested against the whole lane batch by batch in
tests/replay/test_sync_seen.py. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gapwatch.replay.fold import FoldState, SyncLook


class Seen(NamedTuple):
    """What a node's looks stated: the gate values (True, False) and how many looks stated
    one, and the latest process start named (None: none)."""

    gates: frozenset[bool]
    stated: int
    started_us: int | None


NOTHING = Seen(frozenset(), 0, None)


def seen(state: FoldState, where: tuple[str, str]) -> Seen:
    """`stated(state.syncs.get(where, []))` of the node `where` (cluster, node), carried on
    from the last call's (module docstring)."""
    lane = state.syncs.get(where)
    if not lane:
        return NOTHING
    memo = state.memo.sync_seen
    was = memo.get(where)
    if was is not None and was[0] is lane and was[1] <= len(lane):
        before: Seen = was[2]
        if was[1] == len(lane):
            return before
        out = stated(lane[was[1] :], before)
    else:
        out = stated(lane)
    memo[where] = (lane, len(lane), out)
    return out


def stated(looks: Sequence[SyncLook], before: Seen = NOTHING) -> Seen:
    """What `looks` stated, after `before` (what the looks before them stated)."""
    gates = {look.pte_gate for look in looks if look.pte_gate is not None}
    count = sum(1 for look in looks if look.pte_gate is not None)
    started = max((look.process_us for look in looks if look.process_us), default=None)
    if before.started_us is not None:
        started = before.started_us if started is None else max(started, before.started_us)
    return Seen(before.gates | gates, before.stated + count, started)
