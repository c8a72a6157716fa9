"""A pod's states: what the `pod` fact says (replay.facts_k8s) and how the pod lane reads it.

The fact's state is `ready`, `pending` (not ready, no more said), `terminating`, `gone`, or
`unready`: not Ready, not being deleted, and its kubelet reports every container that may serve
`state.running` while it marks one not ready itself (`containerStatuses[].ready` false). That is
a readiness loss, not a stop: the process still runs and answers, kube-proxy stops forwarding to
it because the EndpointSlice lists it not ready (a close). The kubelet reports each container's
state as exactly one of `running`, `waiting` and `terminated`.

Which containers count (`_serving`): every one of `spec.containers`, and the restartable init
containers (`restartPolicy: Always`, native sidecars: an Istio proxy injected so carries the
pod's traffic); their statuses are `containerStatuses` and `initContainerStatuses`. The Pod
does not say which container serves the Service: a numeric targetPort needs no declared port
(a declared one is informational), so a container that declares no port may be the server and
one that declares one may be a sidecar (istio-proxy declares its metrics port). A pod is
`unready` only where all of them run; a crashed sidecar beside a running server reads as a stop,
as every not-ready pod did before (the safe side: a dead server is never read as alive). A
Ready condition set False while every container
still reports ready is not the kubelet's (the node lifecycle controller marks the pods of a
NotReady node so, and the kubelet that could say whether they run is the one not heard from),
and a readiness gate's False says nothing about the containers: both stay `pending`, as every
not-ready pod read before `unready` existed (facts stored then are read as they were until
`gapwatch replay --rebuild --rederive`).

The lane (`lane_state`) keeps `unready` only after the pod was seen up and where no new stop
is reported: a finishedAt newer than any the pod's earlier samples reported means a container
stopped (and was restarted) between two updates, a death; an `unready` pod never seen up is
a pod starting (`pending`). Readers: `UP` begins a run of the pod, `ALIVE` keeps it going (a
death needs a `STOPPED` after an alive sample), `unready` is never forwarded to.

A container can crash and restart between two of its kubelet's status writes: every update
seen then says Ready, and the next one reports the stop (`restartCount` +1,
`lastState.terminated.finishedAt`) beside the new container's `state.running.startedAt`
(the `restart` fact, replay.facts_k8s.restart_facts). `restarted` marks such an update
(PodSample.started_us) where it is up, follows one that saw the pod alive and its finishedAt
is newer than any the pod reported before: the process was gone from that finishedAt until
the new container started, the endpoint still listed (replay.podsup reads it as a stop and a
new run of the same endpoint; replay.unseen's stops and deaths list it). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gapwatch.replay.payload import as_dict, as_list

if TYPE_CHECKING:
    from gapwatch.replay.fold import PodSample

UNREADY = "unready"
#: a run of the pod begins at one of these
UP = ("ready", "terminating")
#: the pod runs: up, or up and then not ready (a readiness loss)
ALIVE = ("ready", "terminating", UNREADY)
#: the pod stopped (or, `pending` in facts stored before `unready`, may have)
STOPPED = ("gone", "pending")


def _serving(spec: Mapping[str, Any]) -> set[str]:
    """The names of the containers that may serve: every container and every restartable init
    container (module docstring)."""
    inits = [as_dict(c) for c in as_list(spec.get("initContainers"))]
    return {str(as_dict(c).get("name")) for c in as_list(spec.get("containers"))} | {
        str(c.get("name")) for c in inits if c.get("restartPolicy") == "Always"
    }


def runs_unready(spec: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """Whether the kubelet reports a not-ready pod running: every container that may serve is
    `running`, and one of them is not `ready` (module docstring)."""
    serving = _serving(spec)
    statuses = [
        c
        for key in ("containerStatuses", "initContainerStatuses")
        for c in map(as_dict, as_list(status.get(key)))
        if str(c.get("name")) in serving
    ]
    if not serving or not any(c.get("ready") is False for c in statuses):
        return False
    running = {str(c.get("name")) for c in statuses if "running" in as_dict(c.get("state"))}
    return serving <= running


def _newest_finished(lane: Sequence[PodSample]) -> int | None:
    return next((p.finished_us for p in reversed(lane) if p.finished_us is not None), None)


def lane_state(state: str, finished_us: int | None, lane: Sequence[PodSample]) -> str:
    """The pod lane's state for a fact's `state`, the pods' samples so far being `lane`: an
    `unready` fact is `pending` unless the pod was last seen alive and reports no stop newer
    than its earlier samples did (module docstring)."""
    if state != UNREADY:
        return state
    if not lane or lane[-1].state not in ALIVE:
        return "pending"
    if finished_us is not None:
        before = _newest_finished(lane)
        if before is None or finished_us > before:
            return "pending"
    return UNREADY


def restarted(lane: Sequence[PodSample], started_us: int | None) -> PodSample:
    """The lane's last sample, marked restarted (`started_us`) where it reports a container
    running again after a stop newer than any the pod's earlier samples reported, up and
    following a sample that saw it alive: the container crashed and restarted between two
    status writes, no update showing it down (module docstring). Else as it was."""
    last = lane[-1]
    if started_us is None or last.finished_us is None or last.state not in UP or len(lane) < 2:
        return last
    before = lane[-2]
    if before.state not in ALIVE:
        return last
    newest = _newest_finished(lane[:-1])
    if newest is not None and last.finished_us <= newest:
        return last
    return last._replace(started_us=started_us)
