"""How far a node's /configz answers speak: the configuration of the kube-proxy process that
gave them. Pure.

kube-proxy reads its configuration when it starts and exits when its config file changes
(cmd/kube-proxy/app's file watcher; a DaemonSet rollout of a new configuration restarts it node
by node), and the recorder stores an answer only when it changed, reading every
`configz_interval_s` (docs/kubeproxy.md). So a stored answer says nothing of a process that
started after it: a restart after a node's last stored answer may have brought another
configuration that no stored answer shows (not read yet, or read and stored only where it
differed). A restart is seen where the node's health check port refused while other looks
answered (a restarting kube-proxy: replay.proxy `restart_carried`) or its metrics name a
process that started later (`process_start_time_seconds`).
"""

from __future__ import annotations

from gapwatch.replay import sync_seen
from gapwatch.replay.fold import FoldState
from gapwatch.replay.proxy import REFUSED


def latest_restarts(state: FoldState, cluster: str) -> dict[str, int]:
    """Each node of `cluster` -> the latest instant its kube-proxy was seen restarting (memoized
    per refresh: one pass over the cluster's health lanes; each node's metrics lane carried on
    from its last read, replay.sync_seen)."""
    known = state.memo.restarts.get(cluster)
    if known is not None:
        return known
    out: dict[str, int] = {}
    for (svc, node), lane in state.probes["health"].items():
        if svc.cluster != cluster:
            continue
        for sample in reversed(lane):
            if sample.value in REFUSED:
                out[node] = max(out.get(node, sample.at_us), sample.at_us)
                break
    for where in state.syncs:
        if where[0] != cluster:
            continue
        node = where[1]
        # (carried on from the node's last read: replay.sync_seen)
        started = sync_seen.seen(state, where).started_us
        if started is not None:
            out[node] = max(out.get(node, started), started)
    state.memo.restarts[cluster] = out
    return out


def restarted_since(state: FoldState, cluster: str, node: str, since_us: int) -> bool:
    """kube-proxy on `node` was seen restarting after `since_us` (module docstring)."""
    return latest_restarts(state, cluster).get(node, since_us) > since_us
