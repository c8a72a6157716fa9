"""Whether a local pod was up, from the Pod objects alone: for F read from the health check.

With externalTrafficPolicy Local a node forwards external traffic only to its own endpoints, so
it serves only while one of its local pods runs. The health-check node port cannot show a pod's
death: it counts the endpoints kube-proxy programmed, and a dead pod's endpoint stays counted
until the EndpointSlice drops it and kube-proxy syncs (docs/semantics.md). A NodePort probe
sees it (`refused`: rules left, no pod); without one, the Pod object is the evidence: its
kubelet reports the container's `terminated` state with `finishedAt`, or the pod is deleted.
A pod is up from its first update that says so (ready or terminating; possibly up to the watch
skew earlier: the update may be seen late) to its death (replay.deaths.death_span: its
finishedAt where reported, else after the last update that saw it up and no more than
pod_status_s before the one that says it stopped). A pod whose first update seen says it is up
was up before the recording saw it (the initial list). Pure.
"""

from __future__ import annotations

from gapwatch.replay.context import local_pods
from gapwatch.replay.deaths import death_span
from gapwatch.replay.fold import FoldState
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.signals import HI, LO, Iv, Tri, union

_UP = ("ready", "terminating")
_DOWN = ("gone", "pending")


def pods_up(
    state: FoldState, svc: ServiceRef, node: str, *, skew_us: int, clock_us: int, status_us: int
) -> Tri | None:
    """Where any local pod of the Service was possibly and surely up (module docstring); None
    where no local pod's Pod object was seen (nothing to say: F is left as it was)."""
    possible: list[Iv] = []
    definite: list[Iv] = []
    seen = False
    for pod in local_pods(state, svc, node):
        lane = state.pods.get((svc.cluster, svc.namespace, pod), [])
        seen = seen or bool(lane)
        began: int | None = None
        last_up = LO
        for i, p in enumerate(lane):
            if p.state in _UP:
                if began is None:
                    began = LO if i == 0 else p.at_us
                last_up = p.at_us
            elif began is not None and p.state in _DOWN:
                lo, hi = death_span(last_up, p.at_us, p.finished_us, clock_us, status_us)
                possible.append(Iv(max(LO, began - skew_us), hi))
                if began < lo:
                    definite.append(Iv(began, lo))
                began = None
        if began is not None:
            possible.append(Iv(max(LO, began - skew_us), HI))
            definite.append(Iv(began, HI))
    if not seen:
        return None
    return Tri(union(possible, []), union(definite, []))
