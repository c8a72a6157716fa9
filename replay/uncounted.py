"""Where kube-proxy's health check shows that, with ProxyTerminatingEndpoints, it forwarded to
no live local pod though the slices listed a ready one (docs/semantics.md, "The misses without
NodePort probes (session 27, branch s27-misses)").

kube-proxy's health check node port counts the ready local endpoints of the EndpointSlice
version kube-proxy last synced (`localEndpoints`) and answers 503 when it counts none (the
design notes, section 6). For an `externalTrafficPolicy: Local` Service kube-proxy forwards to
its ready local endpoints, and only where it has none, with ProxyTerminatingEndpoints, to its
serving-terminating ones (KEP-1669). So over a 503 counting none it forwards to a local pod only
if that pod was serving-terminating in the version it holds. A pod that is terminating never is
again not terminating (a deletion is not undone), so that pod is terminating or gone in every
later version too: where no local pod is terminating and up, kube-proxy forwards to no live pod,
whatever the slices list now (a ready endpoint listed and not yet programmed: kube-proxy behind).
The lane's PTE term (`lanes.serves_signal`), which reads the listed set as forwarded a lag bound
after its listing, is only possible there, not sure: the Pod lane may have missed a deletion (a
watch outage), and then a pod it holds ready was terminating. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from gapwatch.replay.context import terminating_pod_steps
from gapwatch.replay.fold import FoldState, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.signals import HI, Iv, Tri, steps_from_samples, t_and, t_not, tri_from_steps


def counted_none(health: Sequence[Sample]) -> Tri:
    """Where the health check answered 503 counting no ready local endpoint (0, not unknown):
    surely from such an answer to the last look before the next other one, possibly on to that
    next one (kube-proxy synced somewhere in between). Not before the first such answer, from
    the look before it: kube-proxy may have counted the ready endpoint, and forwarded to it,
    until a sync in there."""
    marked = [s._replace(value="1" if s.value == "503" and s.num == 0 else "0") for s in health]
    possible: list[Iv] = []
    definite: list[Iv] = []
    start: int | None = None
    for step in steps_from_samples(marked, "1", False):
        if step.value:
            start = step.latest
        elif start is not None:
            if start < step.earliest:
                definite.append(Iv(start, step.earliest))
                possible.append(Iv(start, step.latest))
            start = None
    if start is not None:
        definite.append(Iv(start, HI))
        possible.append(Iv(start, HI))
    return Tri(possible, definite)


def forwarded_to_none(
    state: FoldState, svc: ServiceRef, node: str, health: Sequence[Sample], early_us: int
) -> Tri:
    """Where the health check counted no ready local endpoint and no local pod was terminating
    and up: kube-proxy forwarded to no live local pod there. A pod's deletion may have come up
    to `early_us` before its update was seen (the watch skew and the prober's clock), so a
    terminating pod counts from that much before."""
    steps = [
        s._replace(earliest=s.earliest - early_us) if s.value else s
        for s in terminating_pod_steps(state, svc, node)
    ]
    return t_and(counted_none(health), t_not(tri_from_steps(steps, False)))
