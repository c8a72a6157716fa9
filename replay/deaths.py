"""A local pod's own death time, and the gap it proves before kube-proxy programmed another.

A kubelet writes `containerStatuses[].state.terminated.finishedAt` (or `lastState.terminated`
after a restart) when a container stops: RFC 3339, whole seconds, on its node's clock (the
`pod` fact's num4, PodSample.finished_us). The death then lies in [finishedAt - c, finishedAt +
1 s + c) for a node clock within c of the API server's (the node_clock_s assumption), clipped to
what the Pod updates say anyway: after the last one that saw the pod up, by the one that says
it stopped (`death_range`). Without finishedAt (a node that crashed: no kubelet reports; older
recordings) the death keeps those updates' range.

The rule (`unprogrammed`), from what kube-proxy can do: with externalTrafficPolicy Local the node
forwards only to local endpoints, and kube-proxy programs only what the EndpointSlice holds; the
EndpointSlice controller lists a pod ready only after its Ready condition was written. When a
local pod dies and every other local endpoint that could take over entered the EndpointSlice
possibly after the death (its Ready write not surely before the death's earliest instant),
kube-proxy may still forward only to the dead pod: F was possibly false from the death until
the replacement was programmed (no later than its Ready plus the EndpointSlice and kube-proxy
lags). It was surely false from the death's latest instant to the replacement's earliest entry
when the death surely came first. A replacement surely listed before the death may or may not
have been programmed (kube-proxy's lag): no rule claims that (docs/semantics.md: it doubled the
false windows). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.context import local_pods
from gapwatch.replay.fold import FoldState, PodSample, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.owntime import STAMP_RESOLUTION_US
from gapwatch.replay.signals import HI, Iv, Tri, complement, intersect

_UP = ("ready", "terminating")
_DOWN = ("gone", "pending")


class Run(NamedTuple):
    """One stretch a local pod was up: first seen ready at `ready_us` (None: never ready in
    it), last seen up at `last_up_us`, seen stopped at `down_us` (HI: never), and the
    kubelet's finishedAt of that stop (None: not reported)."""

    pod: str
    ready_us: int | None
    last_up_us: int
    down_us: int
    finished_us: int | None
    event_id: int


def death_range(up_us: int, down_us: int, finished_us: int | None, clock_us: int) -> Iv:
    """When a pod died: after `up_us` (the last update that saw it up), by `down_us` (the one
    that says it stopped), narrowed to [finishedAt - clock, finishedAt + 1 s + clock) where
    that overlaps (a node clock further off than assumed: the updates alone)."""
    if finished_us is not None:
        lo = max(up_us, finished_us - clock_us)
        hi = min(down_us, finished_us + STAMP_RESOLUTION_US + clock_us)
        if lo < hi:
            return Iv(lo, hi, 0, 0)
    return Iv(up_us, down_us, 0, 0)


def runs(lane: Sequence[PodSample], pod: str) -> list[Run]:
    """The stretches one pod was up (ready or terminating), in order."""
    out: list[Run] = []
    start: PodSample | None = None
    ready: int | None = None
    last: PodSample | None = None
    for p in lane:
        if p.state in _UP:
            if start is None:
                start, ready = p, None
            if ready is None and p.state == "ready":
                ready = p.at_us
            last = p
        elif start is not None and last is not None and p.state in _DOWN:
            out.append(Run(pod, ready, last.at_us, p.at_us, p.finished_us, p.event_id))
            start = last = None
    if start is not None and last is not None:
        out.append(Run(pod, ready, last.at_us, HI, None, start.event_id))
    return out


def unprogrammed(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    samples: Sequence[Sample],
    bad: Callable[[str], bool],
    *,
    clock_us: int,
    skew_us: int,
    slice_us: int,
    lag_hi_us: int,
    unseen_us: int,
) -> tuple[list[Iv], list[Iv]]:
    """Where F was possibly and surely false because a local pod died (finishedAt known)
    before every endpoint that could replace it can have been programmed (module docstring).
    `samples`: the node's probe lane, `bad` its failing values; `unseen_us`: how short a gap
    its looks can miss (0: they cannot see one, e.g. the health check, which counts the dead
    pod's endpoint until the EndpointSlice drops it). A lane sample that failed in the
    stretch leaves it to the lane's own steps. Bounds: `skew_us` the watch skew (a Ready
    write up to that and a stamp's second before it was seen), `slice_us` the EndpointSlice
    controller's lag, `lag_hi_us` kube-proxy's."""
    every = [
        r
        for pod in local_pods(state, svc, node)
        for r in runs(state.pods.get((svc.cluster, svc.namespace, pod), []), pod)
    ]
    if not any(r.finished_us is not None and r.down_us != HI for r in every):
        return [], []  # no reported death on the node: nothing to list
    # when each run's endpoint surely was listed, found once (not once per death)
    listing = [_listed(state, svc, r, skew_us, slice_us) for r in every]
    bad_times = [s.at_us for s in samples if bad(s.value)]
    possible: list[Iv] = []
    sure: list[Iv] = []
    for i, run in enumerate(every):
        if run.finished_us is None or run.down_us == HI:
            continue
        death = death_range(run.last_up_us, run.down_us, run.finished_us, clock_us)
        chosen = [j for j, r in enumerate(every) if j != i and r.down_us > death.start]
        others = [every[j] for j in chosen]
        listed = [listing[j] for j in chosen]
        if any(at <= death.start for at in listed):
            continue  # an endpoint possibly programmed before the death (kube-proxy's lag)
        later = [r.ready_us for r in others if r.ready_us is not None]
        if not later or min(later) > run.down_us + slice_us:
            continue  # no replacement before the slice drops the dead pod: an excursion
        first = min(later)
        entered_lo = first - STAMP_RESOLUTION_US - skew_us
        end = min(listed) + lag_hi_us
        if unseen_us:
            end = min(end, death.end + unseen_us)
        if any(death.start <= t < end for t in bad_times):
            continue  # a look saw it: the lane's own steps bound it
        if death.start < end:
            possible.append(Iv(death.start, end, run.event_id, 0))
        if death.end < entered_lo and (not unseen_us or entered_lo - death.end < unseen_us):
            sure.append(Iv(death.end, entered_lo, run.event_id, 0))
    return sorted(possible), sorted(sure)


def _listed(state: FoldState, svc: ServiceRef, run: Run, skew_us: int, slice_us: int) -> int:
    """By when the run's endpoint surely was in the EndpointSlice as ready: the first slice
    version seen listing it ready from its Pod's Ready on (less the watch skew: the slice may
    be seen first), else that Ready plus the EndpointSlice controller's lag (`slice_us`:
    facts that do not name the ready pods). A run never seen ready (up when the recording
    began, already terminating): listed from before anything."""
    if run.ready_us is None:
        return -HI
    for at in state.slice_ready.get((svc, run.pod), ()):
        if at >= run.ready_us - skew_us:
            return at
    return run.ready_us + slice_us


def died_unprogrammed(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    lag_hi: int,
    samples: list[Sample],
    good: str,
    unseen_us: int,
) -> tuple[list[Iv], list[Iv]]:
    """replay.deaths.unprogrammed with the settings' bounds."""
    return unprogrammed(
        state,
        svc,
        node,
        samples,
        lambda v: v != good,
        clock_us=seconds_us(settings.node_clock_s),
        skew_us=seconds_us(settings.watch_skew_s),
        slice_us=seconds_us(settings.slice_lag_s),
        lag_hi_us=lag_hi,
        unseen_us=unseen_us,
    )


def dead_first(serves: Tri, died: tuple[list[Iv], list[Iv]]) -> Tri:
    """F with the stretches a local pod's death left unprogrammed: possibly false over the
    first, surely false over the second (replay.deaths)."""
    possible, sure = died
    if not possible:
        return serves
    return Tri(
        intersect(serves.possible, complement(sure)) if sure else serves.possible,
        intersect(serves.definite, complement(possible)),
    )
