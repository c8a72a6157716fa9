"""A window that only the Node's NotReady opens: the node's end, on a node no probe looks at.

Without any kube-proxy look on a node, F is inferred (replay.lanes `_inferred_serves`): the
forwarding part, kube-proxy forwarding to a serving local pod (`inferred_forwarding`: the
endpoints the slices list and each local pod's listing, each change taken up to kube-proxy's
lag bound late, replay.proxy.proxy_lag_hi), **and** the Node Ready, where a node seen
NotReady or Unknown may have stopped `node_grace_s` (the node controller's
`--node-monitor-grace-period`, 40 s; 50 s from 1.32) plus the watch skew before that was seen
(replay.context.node_ready_steps). Where the forwarding part is surely true over a window
start's whole range, F could fall there only with the Node, and the window is the node's end
whatever ended it. The LB's own health checks end most such windows (the stopped node's
kube-proxy answers no check) before the node controller's grace has run out, so the NotReady
is seen after the window's end; replay.detect `_went_down` wants it before the end (with
probes a later NotReady may follow a window some other cause opened and closed, and the looks
read that), and replay.opener `went_down_silent` reads the same end from silent health
checks. Only on a node with no probe lane at all: a look of kube-proxy reads F itself. Pure.
"""

from __future__ import annotations

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState
from gapwatch.replay.lanes import inferred_forwarding
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.opener import NODE_DOWN
from gapwatch.replay.proxy import proxy_lag_hi, pte_enabled
from gapwatch.replay.signals import value_at
from gapwatch.replay.sync_index import indexed

#: the node controller's own Ready states, written node_grace_s after the last heartbeat (a
#: deletion is another writer's: a scale-down deletes a drained node that was running)
_NOT_READY = ("NotReady", "Unknown")


def node_alone(
    state: FoldState, svc: ServiceRef, node: str, span: tuple[int, int], settings: DetectSettings
) -> bool:
    """The Node was seen turning NotReady or Unknown (not deleted) after the start range `span`
    (since, at), close enough that its possible stop reaches it (`node_grace_s` and the watch
    skew), on a node with no probe lane (`newest_looks` none), and F's forwarding part was
    surely true over the range: F could fall there only with the Node (module docstring)."""
    if marked_after(state, svc, node, span[1], settings) is None:
        return False
    if not reads_looks(state, svc, node):
        return False
    return forwarded_through(state, svc, node, span, settings)


def reads_looks(state: FoldState, svc: ServiceRef, node: str) -> bool:
    """Whether `node_alone` may read the node's kube-proxy metrics looks (`forwarded_through`:
    F's forwarding part from them): only on a node with no probe look (`newest_looks` none:
    no health-check or NodePort lane with a sample and a newest look, a function of its probe
    lanes), whatever window it is asked about. It is detection's one reader of the looks
    (detect.windows_from and `finished` read them nowhere else; a refresh keeps a node's
    windows whole where its looks alone moved and this is False: replay.node_cache
    `_looks_kept`, tests/replay/test_windows_kept.py). Read per scraped node of a refresh:
    what `newest_looks` tests, without building its looks."""
    ref = (svc.cluster, svc.namespace, svc.name, node)
    return not any(
        state.probes[kind].get((svc, node)) and state.seen.get((kind, *ref)) is not None
        for kind in ("health", "nodeport")
    )


def marked_after(
    state: FoldState, svc: ServiceRef, node: str, at: int, settings: DetectSettings
) -> int | None:
    """When the Node, up at `at`, was next seen NotReady or Unknown, where that is its next
    down state (not a deletion) and close enough that the node's possible stop
    (`node_grace_s` and the watch skew before it) reaches `at`; else None."""
    node_lane = state.nodes.get((svc.cluster, node))
    if not node_lane or value_at(node_lane, at) in NODE_DOWN:
        return None
    reach = seconds_us(settings.node_grace_s) + seconds_us(settings.watch_skew_s)
    down = next((n.at_us for n in node_lane if n.at_us > at and n.value in NODE_DOWN), None)
    if down is None or down > at + reach or value_at(node_lane, down) not in _NOT_READY:
        return None  # none, too late, or a deletion's, not the node controller's mark
    return down


def forwarded_through(
    state: FoldState, svc: ServiceRef, node: str, span: tuple[int, int], settings: DetectSettings
) -> bool:
    """F's forwarding part (kube-proxy forwarding to a local endpoint it surely programmed: the
    listings each taken up to kube-proxy's lag bound late, replay.lanes `inferred_forwarding`)
    was surely true over the whole range `span` (since, at)."""
    since, at = span
    pte = pte_enabled(state, svc.cluster, node, settings)
    accept = ("ready", "serving-terminating") if pte else ("ready",)  # as replay.lanes reads it
    eps = state.endpoints.get((svc, node), [])
    looks = indexed(state, (svc.cluster, node))
    lag_hi = proxy_lag_hi(state, svc, settings)
    forwards, _ = inferred_forwarding(state, svc, node, settings, eps, accept, lag_hi, looks)
    return any(iv.start <= since and iv.end >= at for iv in forwards.definite)
