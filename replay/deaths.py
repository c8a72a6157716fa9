"""A local pod's own death time, and the gap it proves before kube-proxy programmed another.

A kubelet writes `containerStatuses[].state.terminated.finishedAt` (or `lastState.terminated`
after a restart) when a container stops: RFC 3339, whole seconds, on its node's clock (the
`pod` fact's num4, PodSample.finished_us). The death then lies in [finishedAt - c, finishedAt +
1 s + c) for a node clock within c of the API server's (the node_clock_s assumption), clipped to
what the Pod updates say anyway: after the write of the last one that saw the pod up (from a
stamp's second before its lane time, which is the write's latest instant: `Run.up_written_us`,
replay.owntime.written_from), by the one that says it stopped (`death_range`). Without
finishedAt (a node that crashed: no kubelet reports; older recordings) the death keeps those
updates' range.

The rule (`unprogrammed`), from what kube-proxy can do: with externalTrafficPolicy Local the
node forwards only to local endpoints, and kube-proxy programs only what the EndpointSlice
holds; the EndpointSlice controller lists a pod ready only after its Ready condition was
written. When a local pod dies and every other local endpoint that could take over entered the
EndpointSlice possibly after the death (its Ready write not surely before the death's earliest
instant), kube-proxy may still forward only to the dead pod: F was possibly false from the death
until the replacement was programmed (no later than its Ready plus the EndpointSlice and
kube-proxy lags). Where a probe lane looks every so often and saw no failure, the gap was
shorter than its sampling interval and lasted until the replacement was programmed: it opened
less than that interval before the replacement's earliest programming, and closed less than that
after the death's latest instant. It was surely false from the death's latest instant to the
replacement's earliest entry when the death surely came first. A replacement surely listed
before the death may or may not have been programmed (kube-proxy's lag): no rule claims that
from the slice alone (docs/semantics.md: it doubled the false windows). kube-proxy's own metrics
can (replay.syncs): a look at or after the death's earliest instant whose last sync ended before
the replacement's listing could have reached kube-proxy proves it was not programmed then, so it
counts as entering after the death, its programming bounded by the same looks. So can the
Service's health check (`_unready`): kube-proxy answers on the healthCheckNodePort with the
count of the ready local endpoints it has programmed (`localEndpoints`, pushed after each sync:
DESIGN.md section 6), so a 503 counting 0 a sync's span or more after the death's earliest
instant proves that an endpoint ready since before it was not programmed then; its programming
lies after that look's run of 503s less a sync's span, by the next 200. A 503 proves nothing
about an endpoint that was terminating at the look: it is not counted, and with
ProxyTerminatingEndpoints it is still forwarded to. Pure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from functools import cache
from typing import NamedTuple

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.context import local_pods
from gapwatch.replay.fold import FoldState, PodSample, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.owntime import STAMP_RESOLUTION_US, written_from
from gapwatch.replay.podstate import ALIVE, STOPPED, UP
from gapwatch.replay.signals import HI, Iv, Step, Tri, complement, intersect
from gapwatch.replay.syncs import SyncIndex, programmed, reach_us

#: a node without kube-proxy metrics looks
NO_LOOKS = SyncIndex((), ())


class Run(NamedTuple):
    """One stretch a local pod was up: first seen ready at `ready_us` (None: never ready in
    it), last seen up at `last_up_us`, seen stopped at `down_us` (HI: never), and the
    kubelet's finishedAt of that stop (None: not reported); `before_us`: the pod's last
    update before the stretch, which saw it not up (-HI: the stretch is the first thing seen
    of the pod)."""

    pod: str
    ready_us: int | None
    last_up_us: int
    down_us: int
    finished_us: int | None
    event_id: int
    before_us: int = -HI

    @property
    def up_written_us(self) -> int:
        """The earliest instant the last update that saw the pod up can have been written
        (replay.owntime.written_from): the run's death lies after it, not after
        `last_up_us`, that update's lane time and its write's latest instant."""
        return written_from(self.last_up_us)


def _timed(up_us: int, down_us: int, finished_us: int | None, clock_us: int) -> Iv | None:
    """[finishedAt - clock, finishedAt + 1 s + clock) within (`up_us`, `down_us`]; None
    without a finishedAt, or where the two do not overlap (a node clock further off than
    assumed)."""
    if finished_us is None:
        return None
    lo = max(up_us, finished_us - clock_us)
    hi = min(down_us, finished_us + STAMP_RESOLUTION_US + clock_us)
    return Iv(lo, hi, 0, 0) if lo < hi else None


def death_range(up_us: int, down_us: int, finished_us: int | None, clock_us: int) -> Iv:
    """When a pod died: after `up_us` (the earliest instant the last update that saw it up can
    have been written: replay.owntime.written_from of its lane time), by `down_us` (the one
    that says it stopped), narrowed to [finishedAt - clock, finishedAt + 1 s + clock) where
    that overlaps (a node clock further off than assumed: the updates alone)."""
    timed = _timed(up_us, down_us, finished_us, clock_us)
    return Iv(up_us, down_us, 0, 0) if timed is None else timed


def death_span(
    up_us: int, down_us: int, finished_us: int | None, clock_us: int, status_us: int
) -> tuple[int, int]:
    """When a pod may have died, to order its death against kube-proxy's close: its kubelet's
    finishedAt where it reported one (`death_range`), however late that report was seen (a
    kubelet's status writes queue behind its API rate limit, and a watch can lag); without
    one, after `up_us` (the last update that saw it up, its write's earliest instant:
    replay.owntime.written_from) and no more than `status_us` (the kubelet's
    status write plus the watch: the pod_status_s assumption) before the update that says it
    stopped."""
    timed = _timed(up_us, down_us, finished_us, clock_us)
    if timed is not None:
        return timed.start, timed.end
    return max(up_us, down_us - status_us), down_us


def local_runs(state: FoldState, svc: ServiceRef, node: str) -> list[Run]:
    """Every run of every local pod of the Service on `node` (`runs`, pod by pod)."""
    return [
        r
        for pod in local_pods(state, svc, node)
        for r in runs(state.pods.get((svc.cluster, svc.namespace, pod), []), pod)
    ]


def runs(lane: Sequence[PodSample], pod: str) -> list[Run]:
    """The stretches one pod was up (from ready or terminating, through a readiness loss:
    replay.podstate), in order."""
    out: list[Run] = []
    start: PodSample | None = None
    ready: int | None = None
    last: PodSample | None = None
    before = seen = -HI  # the update before the stretch; the latest update read
    for p in lane:
        if p.state in UP or (start is not None and p.state in ALIVE):
            if start is None:
                start, ready, before = p, None, seen
            if ready is None and p.state == "ready":
                ready = p.at_us
            last = p
        elif start is not None and last is not None and p.state in STOPPED:
            out.append(Run(pod, ready, last.at_us, p.at_us, p.finished_us, p.event_id, before))
            start = last = None
        seen = p.at_us
    if start is not None and last is not None:
        out.append(Run(pod, ready, last.at_us, HI, None, start.event_id, before))
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
    looks: SyncIndex = NO_LOOKS,
    clocks_us: int = 0,
    reach_us: int = 0,
    span_us: int = 0,
    health: Callable[[], Sequence[Sample]] = tuple,
) -> tuple[list[Iv], list[Iv]]:
    """Where F was possibly and surely false because a local pod died (finishedAt known)
    before every endpoint that could replace it can have been programmed (module docstring).
    `samples`: the node's probe lane, `bad` its failing values; `unseen_us`: how short a gap
    its looks can miss (0: they cannot see one, e.g. the health check, which counts the dead
    pod's endpoint until the EndpointSlice drops it). A lane sample that failed in the
    stretch leaves it to the lane's own steps. Bounds: `skew_us` the watch skew (a Ready
    write up to that and a stamp's second before it was seen), `slice_us` the EndpointSlice
    controller's lag, `lag_hi_us` kube-proxy's. `looks`: the node's kube-proxy metrics looks
    (replay.syncs; none: the slice alone), `clocks_us` how far kube-proxy's and the prober's
    clocks may be off the recorder's, `reach_us` how far kube-proxy's receipt of a change may
    lie from the store's time for it, `span_us` how long one sync may run. `health`: reads
    the node's health-check samples on the recorder's clock (replay.observed), once and only
    where a death's replacement needs them (none: not read)."""
    every = local_runs(state, svc, node)
    if not any(r.finished_us is not None and r.down_us != HI for r in every):
        return [], []  # no reported death on the node: nothing to list
    # when each run's endpoint surely was listed, found once (not once per death)
    listing = [_listed(state, svc, r, skew_us, slice_us) for r in every]
    bounds = (skew_us, clocks_us, reach_us, lag_hi_us, span_us)
    bad_times = sorted(s.at_us for s in samples if bad(s.value))
    zeros = cache(lambda: _zero_counts(health()))
    entered_by = STAMP_RESOLUTION_US + skew_us  # a Ready write's earliest, before its stamp
    # a death reads only the runs still up after its earliest instant: those listed after it
    # count by their earliest ready, entry and programming (`_Later`: minima kept per prefix),
    # those listed by it by what kube-proxy's metrics or the health check show of them
    later = _Later(every, listing, entered_by, lag_hi_us)
    by_down = sorted(range(len(every)), key=lambda j: every[j].down_us, reverse=True)
    downs = [-every[j].down_us for j in by_down]
    by_listing = sorted(range(len(every)), key=listing.__getitem__)
    listings = [listing[j] for j in by_listing]
    possible: list[Iv] = []
    sure: list[Iv] = []
    for i, run in enumerate(every):
        if run.finished_us is None or run.down_us == HI:
            continue
        death = death_range(run.up_written_us, run.down_us, run.finished_us, clock_us)
        first_ready, entered_lo, end = later.minima(death.start, i)
        programmed_before = False
        # the runs up after the death and listed by it: the shorter of the two prefixes read
        up_after = bisect_left(downs, -death.start)  # down after the death's earliest instant
        listed_by = bisect_right(listings, death.start)
        scan = by_down[:up_after] if up_after <= listed_by else by_listing[:listed_by]
        for j in scan:
            if j == i or listing[j] > death.start or every[j].down_us <= death.start:
                continue
            ready = every[j].ready_us
            if ready is not None and ready < first_ready:
                first_ready = ready
            # an endpoint listed before the death: kube-proxy's metrics, or a health check
            # counting 0 after it, may show it unprogrammed
            shown = _unsynced(looks, every[j], listing[j], death.start, bounds) or _unready(
                state, svc, zeros(), every[j], listing[j], death.start, (lag_hi_us, span_us)
            )
            if shown is None:  # possibly programmed before the death (kube-proxy's lag)
                programmed_before = True
                break
            entered_lo, end = min(entered_lo, shown.earliest), min(end, shown.latest)
        if programmed_before:
            continue
        if first_ready == HI or first_ready > run.down_us + slice_us:
            continue  # no replacement before the slice drops the dead pod: an excursion
        start = death.start
        if unseen_us:
            # no look saw the gap: shorter than unseen_us, and it lasted until a replacement
            # was programmed, at entered_lo at the earliest
            end = min(end, death.end + unseen_us)
            start = max(start, entered_lo - unseen_us)
        k = bisect_left(bad_times, death.start)
        if k < len(bad_times) and bad_times[k] < end:
            continue  # a look saw it: the lane's own steps bound it
        if start < end:
            possible.append(Iv(start, end, run.event_id, 0))
        if death.end < entered_lo and (not unseen_us or entered_lo - death.end < unseen_us):
            sure.append(Iv(death.end, entered_lo, run.event_id, 0))
    return sorted(possible), sorted(sure)


class _Later:
    """Of a node's runs (`every`, listed by `listing`), those listed after an instant and still
    up after it (both after it: min(listing, down) after it), their earliest ready, entry (a
    Ready write's earliest, `entered_by` before its stamp) and programming by kube-proxy's
    largest lag from the listing (`lag_hi_us`): minima over the runs in that order, latest
    first, so each instant reads a prefix."""

    def __init__(self, every: Sequence[Run], listing: Sequence[int], entered_by: int,
                 lag_hi_us: int) -> None:  # fmt: skip
        after = [min(listing[j], r.down_us) for j, r in enumerate(every)]
        self.order = sorted(range(len(every)), key=after.__getitem__, reverse=True)
        self.keys = [-after[j] for j in self.order]
        self.place = {j: k for k, j in enumerate(self.order)}
        self.terms = [
            (HI, HI, HI)  # never seen ready: nothing says when it was programmed
            if (ready := every[j].ready_us) is None
            else (ready, ready - entered_by, listing[j] + lag_hi_us)
            for j in self.order
        ]
        self.prefix = [(HI, HI, HI)]
        for ready, entered, end in self.terms:
            last = self.prefix[-1]
            self.prefix.append((min(last[0], ready), min(last[1], entered), min(last[2], end)))

    def minima(self, at_us: int, but: int) -> tuple[int, int, int]:
        """(first ready, entry, programmed by) over the runs listed after `at_us` and up after
        it, but the run `but`."""
        k = bisect_left(self.keys, -at_us)
        if self.place[but] >= k:
            return self.prefix[k]
        ready = entered = end = HI
        for n, (r, e, p) in enumerate(self.terms[:k]):
            if self.order[n] != but:
                ready, entered, end = min(ready, r), min(entered, e), min(end, p)
        return ready, entered, end


def _listed(state: FoldState, svc: ServiceRef, run: Run, skew_us: int, slice_us: int) -> int:
    """By when the run's endpoint surely was in the EndpointSlice as ready: the first slice
    version seen listing it ready from its Pod's Ready on (less the watch skew: the slice may
    be seen first), else that Ready plus the EndpointSlice controller's lag (`slice_us`:
    facts that do not name the ready pods). A run never seen ready (up when the recording
    began, already terminating): listed from before anything, unless an update before it saw
    the pod not up (pending, stopped): then not before that update less the watch skew (a
    Ready write after it went unseen). A stretch that began after a death was not listed
    before it (random 25,000,827 node-002: a replacement's later stretch, seen terminating
    without a Ready, was read as listed before the old pod's death, so as programmed)."""
    if run.ready_us is None:
        return -HI if run.before_us == -HI else run.before_us - skew_us
    for at in state.slice_ready.get((svc, run.pod), ()):
        if at >= run.ready_us - skew_us:
            return at
    return run.ready_us + slice_us


def _unready(
    state: FoldState,
    svc: ServiceRef,
    zeros: Sequence[tuple[Sample, Sample | None]],
    run: Run,
    listed_us: int,
    death_us: int,
    bounds: tuple[int, int],
) -> Step | None:
    """When kube-proxy programmed a run's endpoint listed (by `listed_us`) before a death's
    earliest instant `death_us`, from the health check (`zeros`: its 503s counting 0 ready
    local endpoints, each with the sample after it, `_zero_counts`): None unless such a look
    at least one sync's span after that instant (its counts may lag the rules by that much),
    and within kube-proxy's largest lag of the listing, came while the run's pod was ready (not
    terminating) since before it: not programmed then. It was
    programmed after the last look of that run of 503s (the next sample's `prev_us`), less one
    sync's span (a sync pushes its counts when it ends, after writing the rules), by that next
    sample when it is a 200, else within the largest lag of the listing. `bounds`: kube-proxy's
    largest lag and a sync's longest span."""
    lag_hi_us, span_us = bounds
    if run.ready_us is None:
        return None
    pod = state.pods.get((svc.cluster, svc.namespace, run.pod), [])
    for s, after in zeros:
        last = after.prev_us if after is not None and after.prev_us is not None else s.at_us
        if last - span_us < death_us or last < run.ready_us or s.at_us > listed_us + lag_hi_us:
            continue
        if any(p.state != "ready" for p in pod if run.ready_us <= p.at_us <= last):
            continue  # terminating at the look: not counted, maybe still forwarded to
        done = after.at_us if after is not None and after.value == "200" else HI
        latest = max(min(done, listed_us + lag_hi_us), last)
        return Step(last - span_us, latest, True, run.event_id)
    return None


def _zero_counts(health: Sequence[Sample]) -> list[tuple[Sample, Sample | None]]:
    """The health check's 503s that counted 0 ready local endpoints, each with the sample
    after it (None: the last), in order. `health` is on the recorder's clock, widened by the
    prober's clock skew (replay.observed)."""
    return [
        (s, health[i + 1] if i + 1 < len(health) else None)
        for i, s in enumerate(health)
        if s.value == "503" and s.num == 0
    ]


def _unsynced(
    looks: SyncIndex,
    run: Run,
    listed_us: int,
    death_us: int,
    bounds: tuple[int, int, int, int, int],
) -> Step | None:
    """When kube-proxy programmed a run's endpoint that was listed (by `listed_us`) before a
    death's earliest instant `death_us`, from its metrics: None unless a look at or after that
    instant shows its last sync ended before the endpoint could be in the EndpointSlice (its
    Ready write's earliest time, less the clocks' skew: kube-proxy's clock): it was not
    programmed then. The latest bound is replay.syncs.programmed's (the first sync that surely
    followed the listing, else the assumed lag). `bounds`: the watch skew, the clocks' skew,
    the reach (replay.syncs), kube-proxy's largest lag and a sync's longest span."""
    skew_us, clocks_us, reach_us, lag_hi_us, span_us = bounds
    if not looks.looks or run.ready_us is None:
        return None
    entered = run.ready_us - STAMP_RESOLUTION_US - skew_us
    ordered, times = looks
    waiting = None
    # by index, not a slice to the end: a refresh notes how far F read the looks
    # (replay.sync_read), and a scan that stops reads no look after its stop
    k = bisect_left(times, death_us + clocks_us)
    while k < len(ordered):
        look = ordered[k]
        if look.synced_us >= entered - clocks_us:
            break  # a sync since the endpoint could be listed (the syncs' times only grow)
        waiting = look.at_us
        k += 1
    if waiting is None:
        return None
    (step,) = programmed(
        [Step(entered, listed_us, True, run.event_id)], looks, 0, lag_hi_us, reach_us,
        span_us=span_us,
    )  # fmt: skip
    return Step(max(step.earliest, waiting), max(step.latest, waiting), True, run.event_id)


def died_unprogrammed(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    lag_hi: int,
    samples: list[Sample],
    good: str,
    unseen_us: int,
    looks: SyncIndex,
    health: Callable[[], Sequence[Sample]] = tuple,
) -> tuple[list[Iv], list[Iv]]:
    """replay.deaths.unprogrammed with the settings' bounds (`looks`: the node's kube-proxy
    metrics looks, replay.syncs.index_looks; `health`: reads its health-check samples)."""
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
        looks=looks,
        clocks_us=seconds_us(settings.clock_skew_s),
        reach_us=reach_us(settings),
        span_us=seconds_us(settings.sync_span_s),
        health=health,
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


def stopped_while_up(
    state: FoldState, svc: ServiceRef, node: str, since_us: int, by_us: int, clock_us: int
) -> bool:
    """Every local pod up at or after `since_us` was seen stopped by `by_us`, each stop
    reported by its kubelet: a `finishedAt` after the last update that saw the pod up (less
    the node clock's `clock_us`; an older one is a previous restart's `lastState`, which a
    deletion carries along). The kubelet writes a container's `terminated` state only while its
    node runs (a node that went down writes nothing; its pods are marked later by the node
    lifecycle controller or garbage-collected), so the node was still up when its last pod
    stopped: F fell then, with the node up, not when the node went down."""
    every = [r for r in local_runs(state, svc, node) if r.down_us >= since_us]
    return bool(every) and all(
        r.down_us <= by_us
        and r.finished_us is not None
        and r.finished_us + STAMP_RESOLUTION_US + clock_us > r.last_up_us
        for r in every
    )
