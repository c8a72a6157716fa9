"""A possible gap where the one ready local endpoint kube-proxy counted crashed before the sync
that dropped it: a health-check count falling 1 -> 0 after the pod's container stopped.

kube-proxy answers on a Service's healthCheckNodePort with the number of ready local endpoints
of the version it last synced, pushed at the end of the sync that wrote its rules (DESIGN.md
section 6; kubernetes/kubernetes pkg/proxy/iptables/proxier.go: `syncProxyRules` ends with
`serviceHealthServer.SyncEndpoints(...)`), and while a ready local endpoint is programmed it
forwards to the ready ones only (KEP-1669: terminating endpoints only where none is ready). So
where a look counts 1 and every EndpointSlice version kube-proxy can hold then
(replay.held.held_at: within its lag bound and the watch skew, in its order of versions, no
newer than the next look can hold) lists one pod P as the only ready local endpoint, kube-proxy
forwarded to P alone; where the next look counts 0 (a 503), a sync between them programmed a
version with no ready local endpoint.

Why P stopped counting is in its Pod updates. The EndpointSlice controller marks an endpoint not
ready only from its Pod's Ready condition (pkg/controller/endpointslice, `podutil.IsPodReady`),
which the kubelet turns false when a container is not ready or not running (pkg/kubelet/status,
`GeneratePodReadyCondition`); kube-proxy syncs only versions the API server published. When P's
next update after its last ready one reports a stop (its kubelet's `finishedAt`, in
`state.terminated` or, restarted, `lastState.terminated`: replay.deaths) and none between says
it unready while running or terminating, the readiness loss the sync read came from the stop:
the death came before the sync, and from the death to that sync the node forwarded to a dead
pod only (F false, pod-gone-before-deregistered). kube-proxy may hold P alone from the look before
the run of looks counting 1 where every version it can hold from that run's first look to its
last lists P alone (it moved to one of them after that look, and never goes back), else from
the run's last look. Where the death's range (replay.deaths.death_span: finishedAt within the
node's clock, after the earliest write of the last update that saw P up) overlaps that span up
to the 503, F is possibly false from the later of its start and the death's earliest instant to
the 503, ended sooner by a NodePort look that connected at or after the death's latest instant
(something alive took the traffic then: P's restarted container, or after the sync another
endpoint). A NodePort look that failed in it leaves it to the lane's own steps. Where the
death's range lies wholly before that span, P died before kube-proxy moved to it alone and the
gap opens at the move: F is possibly false from the span's start to the 503, where no update
of P after its stop report and before the 503 says anything of it (a restarted container would
be seen in one, and may serve under the rules that still name P) and no NodePort look lies in
it (one that connected may have come before the move; one that failed is the lane's own step).
Random 36,000,033 node-001 without NodePort probes (docs/semantics.md, "The twenty-third spent
set's misses, read (session 40)"). Read on the
NodePort path and on the health check's (replay.lanes): the health check counts the dead pod's
endpoint until the sync, and NodePort looks every few seconds miss a gap shorter than that.

Possible, never certain: the reading needs every Pod update seen (a watch outage can hide a
readiness loss while running), and the death's range is seconds wide. docs/semantics.md, "A sole
counted endpoint's crash (session 36)". Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import NamedTuple

from gapwatch.replay.deaths import Run, death_span, local_runs
from gapwatch.replay.fold import FoldState, PodSample, Sample
from gapwatch.replay.held import Held, Versions, held_at
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.podstate import STOPPED
from gapwatch.replay.signals import HI, Iv


class _Fall(NamedTuple):
    """A run of 200s counting 1 followed by a 503 counting 0: the look before the run (the
    previous run's last, or the run's first where the lane names none), the run's first and
    last looks, and the 503's. The lane keeps changes only: a run's last look is the next
    sample's `prev_us`."""

    before_us: int
    first_us: int
    last_us: int
    zero_us: int


def _falls(health: Sequence[Sample]) -> list[_Fall]:
    """Every run of 200s counting 1 directly followed by a 503 counting 0, in order."""
    out: list[_Fall] = []
    for before, after in pairwise(health):
        if before.value == "200" and before.num == 1 and after.value == "503" and after.num == 0:
            last = before.at_us if after.prev_us is None else max(before.at_us, after.prev_us)
            prior = before.at_us if before.prev_us is None else before.prev_us
            out.append(_Fall(prior, before.at_us, last, after.at_us))
    return out


def _alone(held: Held, ceiling: int, versions: Versions) -> str | None:
    """The pod every version kube-proxy can hold at a look counting 1 (up to `ceiling`, the
    newest it can hold at the next look: it never goes back) lists as its only ready local
    endpoint; None where one names another pod, or does not name its ready pods."""
    pods: set[str] = set()
    for k in range(held.first, min(held.last, ceiling) + 1):
        ready = versions[k][1]
        if ready is None or len(ready) != 1:
            return None
        pods |= ready
    return next(iter(pods)) if len(pods) == 1 else None


def _crashed_while_ready(lane: Sequence[PodSample], run: Run) -> bool:
    """Whether the update that ends `run` reports a stop with its kubelet's finishedAt and
    directly follows an update that saw the pod ready: none between says it unready while
    running, or terminating (module docstring)."""
    for before, stop in pairwise(lane):
        if stop.event_id == run.event_id and stop.at_us == run.down_us:
            return (
                before.state == "ready" and stop.state in STOPPED and stop.finished_us is not None
            )
    return False


def _held_alone(held: dict[int, Held], fall: _Fall, versions: Versions) -> tuple[str | None, int]:
    """The pod kube-proxy held alone at the run's last look (`_alone`, no newer than it can
    hold at the 503), and since when: after the look before the run where every version it can
    hold from the run's first look on lists that pod alone (it moved to one of them after that
    look), else from the run's last look. (None, 0): no one pod."""
    last, zero = held.get(fall.last_us), held.get(fall.zero_us)
    if last is None or last.num != 1:
        return None, 0
    ceiling = HI if zero is None else zero.last
    pod = _alone(last, ceiling, versions)
    first = held.get(fall.first_us)
    if pod is None or first is None or fall.first_us >= fall.last_us:
        return pod, fall.last_us if first is None else fall.before_us
    whole = _alone(last._replace(first=first.first), ceiling, versions)
    return pod, fall.before_us if whole == pod else fall.last_us


def _reported(run: Run, clock_us: int) -> tuple[int, int] | None:
    """The run's death range from its kubelet's finishedAt (replay.deaths.death_span), None
    where that finishedAt lies outside the updates around the stop (an earlier restart's
    `lastState` carried along, or a node clock further off than assumed)."""
    if run.finished_us is None or run.down_us == HI:
        return None
    # with no status delay, the updates' fallback (finishedAt outside them) is empty
    lo, hi = death_span(run.up_written_us, run.down_us, run.finished_us, clock_us, 0)
    return (lo, hi) if lo < hi else None


def sole_crash(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    health: Callable[[], Sequence[Sample]],
    nodeport: Sequence[Sample],
    *,
    clock_us: int,
    lag_us: int,
    skew_us: int,
) -> list[Iv]:
    """Where F was possibly false because the only ready local endpoint kube-proxy counted
    crashed before the sync that dropped it (module docstring). `health` reads the node's
    health-check lane on the recorder's clock (replay.observed; called only where a local pod
    crashed), `nodeport` is its NodePort lane; `clock_us` the node clock's error
    (node_clock_s), `lag_us` kube-proxy's lag bound, `skew_us` the watch skew."""
    versions = state.ready_sets.get((svc, node), [])
    if not versions:
        return []
    crashed: dict[str, list[tuple[int, int, int, int]]] = {}
    lanes: dict[str, Sequence[PodSample]] = {}
    for run in local_runs(state, svc, node):
        span = _reported(run, clock_us)
        lane = lanes.setdefault(run.pod, state.pods.get((svc.cluster, svc.namespace, run.pod), []))
        if span is not None and _crashed_while_ready(lane, run):
            crashed.setdefault(run.pod, []).append((*span, run.event_id, run.down_us))
    if not crashed:
        return []
    looks = health()
    falls = _falls(looks)
    if not falls:
        return []
    held = {h.at_us: h for h in held_at(looks, versions, lag_us, skew_us)}
    out: list[Iv] = []
    for fall in falls:
        pod, since = _held_alone(held, fall, versions)
        for lo, hi, event_id, down_us in crashed.get(pod, []) if pod is not None else []:
            if lo >= fall.zero_us:
                continue  # the death after the 503
            if hi > since:
                window = _bounded(max(lo, since), fall.zero_us, hi, nodeport)
            elif pod is not None and _dead_since(lanes[pod], down_us, fall.zero_us):
                # the death surely before kube-proxy held P alone: the gap from its move
                window = _unlooked(since, fall.zero_us, nodeport)
            else:
                continue
            if window is not None:
                out.append(Iv(*window, event_id, 0))
    return sorted(out)


def _dead_since(lane: Sequence[PodSample], down_us: int, zero_us: int) -> bool:
    """Whether no update of the pod after the one that reported its stop (at `down_us`) and
    before the 503 (`zero_us`) says anything of it: a restarted container (running, or Ready
    again) would be seen in one, and may serve under the rules that still name the pod."""
    return not any(down_us < p.at_us < zero_us for p in lane)


def _unlooked(start: int, end: int, nodeport: Sequence[Sample]) -> tuple[int, int] | None:
    """[start, end) where no NodePort look lies in it, else None: a look there that connected
    may have come before kube-proxy's move to the dead pod alone, and one that failed is the
    lane's own step (a lane keeps only its changes: a run's looks span from its sample to the
    next sample's `prev_us`)."""
    for i, s in enumerate(nodeport):
        nxt = nodeport[i + 1] if i + 1 < len(nodeport) else None
        last = s.at_us if nxt is None or nxt.prev_us is None else max(s.at_us, nxt.prev_us)
        if last >= start and s.at_us < end:
            return None
    return (start, end) if start < end else None


def _bounded(
    start: int, end: int, died_by: int, nodeport: Sequence[Sample]
) -> tuple[int, int] | None:
    """[start, end) ended by the first NodePort look that connected at or after the death's
    latest instant `died_by`; None where a NodePort look in it failed (the lane's own steps
    read the gap). The lane keeps changes only: a run's looks are known at its first
    (`at_us`) and its last (the next sample's `prev_us`)."""
    for i, s in enumerate(nodeport):
        nxt = nodeport[i + 1] if i + 1 < len(nodeport) else None
        last = s.at_us if nxt is None or nxt.prev_us is None else max(s.at_us, nxt.prev_us)
        if last < start:
            continue
        if s.at_us >= end:
            break
        if s.value != "connected":
            return None
        seen = next((t for t in (s.at_us, last) if died_by <= t and start <= t), None)
        if seen is not None:
            end = min(end, seen)
            break
    return (start, end) if start < end else None
