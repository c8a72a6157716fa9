"""Where a Service was one whose nodes can open gap windows: an `externalTrafficPolicy: Local`
NodePort or LoadBalancer Service (docs/semantics.md, "When the Service is Local").

With `Cluster` every node forwards to any endpoint of the Service, whether or not one runs on
it, so a node without a local endpoint is no gap; a ClusterIP Service (or a deleted one) has no
NodePort for an LB to route to. A Service changed from Local to Cluster and back has windows
only while it was Local. kube-proxy applies the change within its lag, so each change holds
somewhere in `[seen, seen + lag bound]`: a window is possible up to that bound after a change
away from Local, and certain only from that bound after a change to it. Before the first
version seen, the Service was as that version says (the initial list). A Service never seen (only
probes or LB polls name it) counts as Local throughout. Pure.
"""

from __future__ import annotations

from gapwatch.replay.fold import FoldState
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.signals import Step, Tri, t_and, tri_from_steps


def local_signal(state: FoldState, svc: ServiceRef, lag_hi_us: int) -> Tri | None:
    """Where the Service was Local (possibly, definitely); None when it always was, or when no
    version of it was seen (nothing to narrow)."""
    info = state.services.get(svc)
    if info is None or not info.local:
        return None
    (_at, initial, _eid), *changes = info.local
    if initial and not changes:
        return None
    steps = [Step(at, at + lag_hi_us, local, eid) for at, local, eid in changes]
    return tri_from_steps(steps, initial)


def while_local(routed: Tri, state: FoldState, svc: ServiceRef, lag_hi_us: int) -> Tri:
    """R only where the Service was Local: elsewhere the LB routing to a node is no gap."""
    local = local_signal(state, svc, lag_hi_us)
    return routed if local is None else t_and(routed, local)
