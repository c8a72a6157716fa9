"""The LB's rise onto a node whose kube-proxy still counted a dead pod (the health check alone).

kube-proxy answers on a Service's healthCheckNodePort with the number of ready local endpoints
its last rules sync programmed (`localEndpoints`, pushed after the sync that wrote the rules:
DESIGN.md section 6), and it forwards to every ready endpoint it programmed, with or without
ProxyTerminatingEndpoints (the gate only adds terminating ones when no ready one is left). Its
view of the EndpointSlices is its informer's cache, which applies the API server's versions in
order: a later sync never holds an older version of an endpoint than an earlier one did.

So where the LB took a node back (its rise in [`since`, `rise_by`]) while one run of the health
check's answers counted n ready local endpoints through that whole range, kube-proxy's rules
held n endpoints at the rise. Where fewer than n local pods can have been counted then while
they were up, at least one counted endpoint was of a pod already dead: the window opened with
kube-proxy's rules in place, `pod-gone-before-deregistered`, not a listed endpoint left
unprogrammed (`registered-before-forwarding`) nor a close (`closed-before-deregistered`).

A pod counts as possibly counted and up (as replay.counted counts them) unless its death's
latest instant (replay.deaths.death_span: its kubelet's finishedAt within the node clock's
error) lies before `since`, or it was listed ready only after `rise_by` (with the watch skew),
or a later look counted no ready endpoint at all while the pod was still seen ready since its
first listing (to that look and the watch skew after it): in-order versions then never held
it ready before that look, so the count at the rise was not its. A pod seen ready before (a
container restarted in place keeps its endpoint) may be counted from that older listing, and
is: random 875 node-002 without the probes, kube-proxy, slow, still counting the crashed
pod's endpoint from before the crash when the restarted pod was ready again.

Random 28,000,498 node-003 (kube-proxy 1.24, the gate off as its /configz states): the old
pod stopped at finishedAt -4 s, kube-proxy still counting it (it had not synced its
termination: 200 to +4 s), the replacement listed ready at +0.62 s and not programmed (503
counting 0 at +5 s), the LB back in (0, +1]. Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.deaths import death_span, local_runs
from gapwatch.replay.fold import AT_US, FoldState, PodSample, Sample
from gapwatch.replay.lanes import Lanes
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.signals import HI

#: the answers that carry a count of programmed ready local endpoints
_COUNTING = ("200", "503")


def rise_counted_dead(
    state: FoldState,
    where: tuple[ServiceRef, str],
    lanes_: Lanes,
    start: tuple[int, int],
    settings: DetectSettings,
) -> bool:
    """F read from the health check alone (no NodePort probe of `where`, the Service and
    node): a window the LB's rise opened in `start` (its earliest and latest instants) met
    kube-proxy's rules for a dead pod (`counted_at_rise`). The rise lies between the start's
    earliest instant and the first sure routing after it (else the start's latest instant)."""
    rise_by = _rise_by(state, where, lanes_, start)
    if rise_by is None:
        return False
    return _counted(state, where, lanes_.health, (start[0], rise_by), settings)


def dead_count_unordered(
    state: FoldState,
    where: tuple[ServiceRef, str],
    lanes_: Lanes,
    start: tuple[int, int],
    settings: DetectSettings,
) -> bool:
    """Rule CG: F read from the health check alone (no NodePort probe of `where`), the run of
    the health check's answers holding the start's earliest instant ended inside the LB's rise
    range (its last look before the first sure routing, as `rise_counted_dead` places it) and
    counted, at that last look, a dead pod (more ready local endpoints than the local pods that
    can have been counted then while up, as `counted_at_rise` counts them). kube-proxy's sync
    that dropped the dead pod lies between that look and the next change, unordered against
    the rise: the LB may have come back to the dead pod's rules."""
    rise_by = _rise_by(state, where, lanes_, start)
    if rise_by is None:
        return False
    health = lanes_.health
    k = bisect_right(health, start[0], key=AT_US) - 1
    if k < 0 or k + 1 >= len(health) or health[k].value not in _COUNTING or not health[k].num:
        return False
    last = health[k + 1].prev_us
    if last is None or last >= rise_by:
        return False  # counted through the whole range: `rise_counted_dead` reads that
    return _counted(state, where, health, (last, last), settings)


def _rise_by(
    state: FoldState, where: tuple[ServiceRef, str], lanes_: Lanes, start: tuple[int, int]
) -> int | None:
    """The end of the LB's rise range for a window starting in `start`: the first sure routing
    in it, else the start's latest instant; None where F is not read from the health check
    alone (no health lane, or a NodePort probe of `where`)."""
    if not lanes_.health or state.probes["nodeport"].get(where):
        return None
    since_us, at_us = start
    return next((iv.start for iv in lanes_.routed.definite if since_us <= iv.start <= at_us), at_us)


def _counted(
    state: FoldState,
    where: tuple[ServiceRef, str],
    health: Sequence[Sample],
    rise: tuple[int, int],
    settings: DetectSettings,
) -> bool:
    """`counted_at_rise` with the settings' clock, status and skew bounds."""
    svc, node = where
    return counted_at_rise(
        state,
        svc,
        node,
        health,
        rise,
        clock_us=seconds_us(settings.node_clock_s),
        status_us=seconds_us(settings.pod_status_s),
        skew_us=seconds_us(settings.watch_skew_s),
    )


def counted_at_rise(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    health: Sequence[Sample],
    rise: tuple[int, int],
    *,
    clock_us: int,
    status_us: int,
    skew_us: int,
) -> bool:
    """kube-proxy's rules held a dead local pod at every instant of the LB's rise range `rise`
    (since, rise_by): one run of the node's health check (`health`, time-ordered, changes
    only) counted more ready local endpoints through the range than the local pods that can
    have been counted then while up."""
    since_us, rise_by = rise
    n = _count_through(health, since_us, rise_by)
    if not n:
        return False
    zeros = [h.at_us for h in health if h.at_us >= rise_by and _counts_none(h)]
    up = 0
    for run in local_runs(state, svc, node):
        if run.ready_us is None or run.ready_us - skew_us > rise_by:
            continue  # never listed ready by the rise: no count of it
        if run.down_us != HI:
            died_by = death_span(
                run.up_written_us, run.down_us, run.finished_us, clock_us, status_us
            )[1]
            if died_by <= since_us:
                continue  # dead before the range
        lane = state.pods.get((svc.cluster, svc.namespace, run.pod), [])
        if _first_ready(lane, run.ready_us) and any(
            _ready_until(lane, run.ready_us, z + skew_us) for z in zeros
        ):
            continue  # still listed ready at a look counting none: never programmed before it
        up += 1
    return n > up


def _count_through(health: Sequence[Sample], lo_us: int, hi_us: int) -> int:
    """The count of the run of answers holding every look from the last one at or before
    `lo_us` to one at or after `hi_us` (0: no such run, or not a counting answer). A run's last
    look is the next sample's `prev_us`."""
    k = bisect_right(health, lo_us, key=AT_US) - 1
    if k < 0 or health[k].value not in _COUNTING or not health[k].num:
        return 0
    if k + 1 < len(health):
        last = health[k + 1].prev_us
        if last is None or last < hi_us:
            return 0
    return health[k].num or 0


def _counts_none(h: Sample) -> bool:
    """A look at which kube-proxy counted no ready local endpoint."""
    return h.value in _COUNTING and h.num == 0


def _first_ready(lane: Sequence[PodSample], ready_us: int) -> bool:
    """The pod was seen ready at `ready_us` for the first time: no earlier listing of its
    endpoint (a container restarted in place keeps it) can be the version kube-proxy held."""
    return all(p.state != "ready" for p in lane if p.at_us < ready_us)


def _ready_until(lane: Sequence[PodSample], ready_us: int, until_us: int) -> bool:
    """The pod, seen ready at `ready_us`, was seen nothing but ready up to `until_us` (its next
    update, if any, came after it)."""
    if until_us <= ready_us:
        return False
    i = bisect_right(lane, ready_us, key=AT_US)
    return all(p.state == "ready" for p in lane[i:] if p.at_us <= until_us)
