"""Where a sampled or inferred lane may hide a change: excursions of the exact endpoints lane
that no probe sample showed (`hidden`, `excursions`), and the per-pod inference of F when no probe
exists (`pod_serves`: the pod's endpoint programmed within the assumed lags, the pod still up).
The time bounds assumed for what is not observed are named in replay.assumptions. Pure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from itertools import pairwise
from operator import attrgetter
from typing import NamedTuple

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.context import endpoint_steps, kept_by_pods, local_pods
from gapwatch.replay.deaths import death_range, death_span
from gapwatch.replay.fold import AT_US, FoldState, PodSample, Sample, SyncLook
from gapwatch.replay.lane_order import in_time
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.orphans import removed_with_node
from gapwatch.replay.owntime import STAMP_RESOLUTION_US, written_from
from gapwatch.replay.podstate import ALIVE, STOPPED
from gapwatch.replay.signals import (
    HI,
    LO,
    Iv,
    Step,
    Tri,
    complement,
    exact_steps,
    intersect,
    shifted,
    t_and,
    tri_from_steps,
    union,
)
from gapwatch.replay.stillcounted import counted_until, ready_between
from gapwatch.replay.syncs import SyncIndex, programmed, read_early

_START = attrgetter("start")


def hidden(
    usable: Sequence[Step],
    samples: Sequence[Sample],
    bad: Callable[[str], bool],
    hi_us: int,
    bad_times: list[int] | None = None,
    cut: dict[int, int] | None = None,
    unanswered: Callable[[int, int], bool] | None = None,
) -> list[Iv]:
    """Where a sampled lane may have been false unseen: the endpoints left the usable set and
    came back (plus the reaction lag) while no sample in between showed it. Sampling every P
    seconds hides any excursion shorter than P; the endpoints lane (exact) says where to look.
    `bad_times`: `bad_looks(samples, bad)` where the caller has it (replay.lane_tail).
    `cut` (given: filled) and `unanswered`: a bad look in an excursion's reach at which the
    health check got no answer, with no 503 before it from the excursion's loss on
    (`unanswered(loss, look)`: the node unreachable, not kube-proxy's close, which answers 503,
    and a 503 there was this loss's close, seen) did not see the excursion's gap; where a look
    that saw the lane fine came after the return and before it, the gap may have opened and
    closed unseen before that look (`_seen_after`). Such an excursion is kept, and `cut` maps
    its return's event id to that good look, where the caller ends it."""
    if bad_times is None:
        bad_times = bad_looks(samples, bad)
    periods: list[Iv] = []
    #: per period, until when a bad sample can be its effect (the next endpoint change after
    #: its return: a later failure is another change's)
    reach: list[int] = []
    down: Step | None = None
    seen_up = False
    for step in usable:
        if step.value:
            if down is not None:
                periods.append(Iv(down.latest, step.latest + hi_us, down.event_id, step.event_id))
                reach.append(HI)
            down, seen_up = None, True
        elif seen_up:
            down = step
            if reach and reach[-1] == HI:
                reach[-1] = step.latest
    if down is not None:
        periods.append(Iv(down.latest, HI, down.event_id, 0))
        reach.append(HI)
    out = []
    for iv, until in zip(periods, reach, strict=True):
        i = bisect_left(bad_times, iv.start)
        if i < len(bad_times) and bad_times[i] <= min(iv.end, until):
            good = None
            if cut is not None and unanswered is not None and unanswered(iv.start, bad_times[i]):
                good = _seen_after(samples, bad, iv, hi_us, bad_times[i])
                if good is not None:
                    cut[iv.end_eid] = good
            if good is None:
                continue  # the samples saw this one: their own steps bound it
        out.append(iv)
    return out


def _seen_after(
    samples: Sequence[Sample], bad: Callable[[str], bool], iv: Iv, hi_us: int, bad_us: int
) -> int | None:
    """The last look before `bad_us` that saw the lane fine, where it came after the return of
    the excursion `iv` (`hidden`'s: loss to return + `hi_us`); else None. kube-proxy opens
    again only on the return, and a gap holds no look that saw the lane fine, so a gap that
    the bad look at `bad_us` saw began after that good look; one that it did not see may have
    closed before it, unseen: the excursion stays possible up to that look (a lane keeps only
    its changes: a run's last look is the next sample's `prev_us`)."""
    if iv.end >= HI:
        return None
    good: int | None = None
    was_bad = True
    for s in samples:
        if s.at_us >= bad_us:
            if not was_bad and s.prev_us is not None and s.prev_us < bad_us:
                good = s.prev_us
            break
        was_bad = bad(s.value)
        if not was_bad:
            good = s.at_us
    return good if good is not None and good > iv.end - hi_us else None


def _closed_seen(health: Sequence[Sample], lo_us: int, hi_us: int) -> bool:
    """Whether a look of the health lane `health` (in time order) in [`lo_us`, `hi_us`)
    answered 503 counting no local endpoint: kube-proxy's close of a loss, seen (its health
    server answers 503 when the last sync programmed none, service_health.go). A lane keeps
    only its changes: a 503 run's looks span from its sample to the next sample's `prev_us`."""
    for s, after in zip(health, [*health[1:], None], strict=True):
        if s.at_us >= hi_us:
            return False
        if s.value != "503" or s.num != 0:
            continue
        last = after.prev_us if after is not None and after.prev_us is not None else s.at_us
        if last >= lo_us:
            return True
    return False


def bad_looks(samples: Sequence[Sample], bad: Callable[[str], bool]) -> list[int]:
    """The times of the looks that saw a bad value. A lane keeps only its changes: a bad run's
    first look is a sample, its last look the next sample's `prev_us` (the last look that saw
    the old value), so a run that began before an excursion and outlasted its start is seen."""
    out: list[int] = []
    bad_run(samples, bad, False, out)
    return sorted(out)


def bad_run(
    samples: Sequence[Sample], bad: Callable[[str], bool], last_bad: bool, out: list[int]
) -> bool:
    """`bad_looks`' loop over `samples` (its output appended to `out`, unsorted), after a
    sample whose value was bad or not (`last_bad`; False: none before); whether the last of
    them was bad. Its state after a sample is that alone (replay.lane_tail resumes it)."""
    for s in samples:
        now = bad(s.value)
        if now:
            out.append(s.at_us)
        elif last_bad and s.prev_us is not None:
            out.append(s.prev_us)
        last_bad = now
    return last_bad


class Unseen(NamedTuple):
    """What `excursions` finds: where F may have been false unseen (`gaps`), and before them
    where such a gap may already have been open (`earlier`: kube-proxy may have read the
    EndpointSlice change before the recorder did, `_written_before`). `earlier` only moves the
    start of a window found without it (replay.detect.opened_earlier): alone it opens none."""

    gaps: list[Iv]
    earlier: list[Iv]


def excursions(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    samples: Sequence[Sample],
    bad: Callable[[str], bool],
    hi_us: int,
    pte_on: bool,
    pod_status_us: int,
    period_us: int = 0,
    clock_us: int | None = None,
    early_us: int = 0,
    counts_dead: bool = False,
    bad_times: list[int] | None = None,
    unbegun: Sequence[Iv] = (),
    reach_us: int = 0,
    silent: Callable[[str], bool] | None = None,
) -> Unseen:
    """Where F may have been false unseen (`hidden`). Without ProxyTerminatingEndpoints known
    to be on, any loss of the node's ready endpoints may hide one (never miss one). With it on,
    kube-proxy keeps forwarding to serving-terminating endpoints: a ready-set excursion only
    hides a gap when a local pod died during it (before its replacement was programmed); that
    gap opens at the death and, unseen by a lane looked at every `period_us` (its measured
    sampling interval; 0: unknown), closes less than one period after the death was seen.
    `early_us`: how long before its lane time an EndpointSlice change may have been written
    (the watch skew): where each gap may have opened earlier (`Unseen.earlier`). `counts_dead`:
    the lane is the health check, which cannot see such a gap (it counts the dead pod's
    endpoint until kube-proxy drops it): with no other local pod ready, the gap lasts while
    the count does (replay.stillcounted), past the return's programming and the lane's period.
    `bad_times`: `bad_looks(samples, bad)` where the caller has it (replay.lane_tail).
    `unbegun`: the spans in which kube-proxy began no rules sync
    (replay.synccount.unbegun_spans), `reach_us` how far its receipt of a change may lie from
    the store's time (replay.syncs.reach_us): an excursion no sync can have read ends at its
    return (`_never_read`). `silent`: which health-check values got no answer
    (replay.proxy.silent); given, a bad look the health check did not answer sets aside no
    ready-set excursion (without the gate known on) that a look seeing the lane fine followed
    after its return and no 503 counting none preceded from its loss on (`hidden`'s `cut`)."""
    eps = state.endpoints.get((svc, node), [])
    if bad_times is None:
        bad_times = bad_looks(samples, bad)
    ready_steps = endpoint_steps(state, svc, node, ("ready",))
    held: list[list[Sample]] = []

    def health() -> list[Sample]:
        """The node's health lane in time order, found where first read (most calls find no
        excursion to place and read none), carried on from its last ordering
        (replay.lane_order: `sorted_lane` checked the whole lane's order on every find, a pass
        that grew with the node's history)."""
        if not held:
            held.append(in_time(state, "health", svc, node))
        return held[0]

    def unanswered(lo_us: int, at_us: int) -> bool:
        """The health check's look at `at_us` got no answer: its first sample from then on is
        silent, and the last look before that sample that still saw the old value came before
        `at_us` (a look that timed out is stored when it gave up, after it looked); and no look
        from `lo_us` (the excursion's loss) to it answered 503 counting none (`_closed_seen`)."""
        lane = health()
        i = bisect_left(lane, at_us, key=AT_US)
        if silent is None or i >= len(lane) or not silent(lane[i].value):
            return False
        prev = lane[i].prev_us
        return (prev is None or prev < at_us) and not _closed_seen(lane, lo_us, at_us)

    cut: dict[int, int] = {}
    ready = hidden(ready_steps, samples, bad, hi_us, bad_times, None if pte_on else cut, unanswered)
    # a health look from the next loss on (less the watch skew) may answer for that loss
    until = _next_losses(ready_steps, early_us)
    deaths = death_ranges(state, svc, node, clock_us)

    stamped = slices_stamped(state, svc)
    if not pte_on:
        losses = dead_before(ready, deaths, eps, samples, bad, period_us)

        def unseen_of(found: list[Iv]) -> list[Iv]:
            unseen = _shorter_than(found, hi_us, period_us)
            synced = (_synced_back(iv, health(), period_us, until) for iv in unseen)
            return [iv for iv in synced if iv]

        back = _never_read(ready, hi_us, unbegun, max(reach_us, early_us), reach_us)
        back = _earlier(back, cut)
        gaps = _clipped(unseen_of(losses), back)
        if not early_us or not gaps:
            return Unseen(gaps, [])
        wide = _clipped(unseen_of(_written_before(ready, losses, samples, early_us, stamped)), back)
        return Unseen(gaps, _beyond(wide, gaps))
    kept = []
    for iv in ready:
        end, before = _programmed(health(), iv.start, iv.end)
        dead = [d for d in deaths if iv.start <= d[1] <= end + pod_status_us]
        if dead:
            start = max(iv.start, min(d[0] for d in dead))
            if period_us and before < until.get(iv.end_eid, HI):
                # it ends when the return is programmed, after the health check's last 503
                start = max(start, before - period_us)
                end = min(end, max(d[1] for d in dead) + period_us)
            if counts_dead:
                end = max(end, _still_counted(state, svc, node, health(), dead, early_us))
            if start < end:
                kept.append(iv._replace(start=start, end=end))
    serving = hidden(
        endpoint_steps(state, svc, node, ("ready", "serving-terminating")),
        samples,
        bad,
        hi_us,
        bad_times,
    )
    back = _never_read(serving, hi_us, unbegun, max(reach_us, early_us), reach_us)
    found = dead_before(serving, deaths, eps, samples, bad, period_us)
    losses = _clipped(found, back)
    gaps = union(sorted(kept), losses)
    if not early_us or not losses:
        return Unseen(gaps, [])
    wide = _clipped(_written_before(serving, found, samples, early_us, stamped), back)
    wide = union(sorted(kept), wide)
    return Unseen(gaps, _beyond(wide, gaps))


def _never_read(
    periods: Sequence[Iv], hi_us: int, unbegun: Sequence[Iv], before_us: int, after_us: int
) -> dict[int, int]:
    """For each excursion of `periods` (`hidden`'s: loss to return + `hi_us`) that no rules
    sync can have read, its return's lane time, by the return's event id. An unseen gap is
    kube-proxy closing on the loss and opening on the return: the close needs a sync that began
    after the loss could reach kube-proxy (`before_us` before its lane time) and before the
    return surely had (`after_us` after its own). Where kube-proxy began no sync over all that
    (`unbegun`: its sync counts, replay.synccount.unbegun_spans) its rules never dropped the
    endpoint, and what is left is the pod itself down under rules that still name it, which
    ends when it is Ready again: by the return (random 5,000,486 node-002's shape,
    tests/replay/test_sync_restart.py)."""
    out: dict[int, int] = {}
    if not unbegun:
        return out
    # (bisected by start, not through a list of every span's start: that list was a pass over
    # the node's whole metrics history on every find, growing with it)
    for iv in periods:
        if iv.end >= HI:
            continue
        back = iv.end - hi_us
        i = bisect_right(unbegun, iv.start - before_us - 1, key=_START) - 1
        if i >= 0 and unbegun[i].start < iv.start - before_us and back + after_us < unbegun[i].end:
            out[iv.end_eid] = back
    return out


def _earlier(back: dict[int, int], cut: dict[int, int]) -> dict[int, int]:
    """Two maps of a return's event id to where its excursion ends, the earlier of each."""
    if not cut:
        return back
    out = dict(cut)
    for eid, at in back.items():
        out[eid] = min(at, out.get(eid, at))
    return out


def _clipped(gaps: list[Iv], back: dict[int, int]) -> list[Iv]:
    """`gaps` ended by the returns `_never_read` found (by the return's event id)."""
    if not back:
        return gaps
    out = []
    for iv in gaps:
        end = min(iv.end, back.get(iv.end_eid, iv.end))
        if iv.start < end:
            out.append(iv._replace(end=end))
    return out


def _still_counted(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    health: Sequence[Sample],
    dead: Sequence[tuple[int, int]],
    skew_us: int,
) -> int:
    """The latest look by which kube-proxy may still have forwarded to a dead local pod's ready
    endpoint, the health check counting it with no other local pod ready (replay.stillcounted:
    ProxyTerminatingEndpoints falls back only where no ready endpoint is held); LO where none."""
    lanes = [
        state.pods.get((svc.cluster, svc.namespace, p), []) for p in local_pods(state, svc, node)
    ]
    out = LO
    for _lo, hi in dead:
        until = counted_until(health, hi)
        if until is not None and not ready_between(lanes, hi, until, skew_us):
            out = max(out, until)
    return out


def slices_stamped(state: FoldState, svc: ServiceRef) -> bool:
    """Whether the Service's EndpointSlice changes carry their write times (managedFields:
    replay.owntime), so a change's lane time lies in its write's second."""
    late = state.own.late.get(("slice", svc))
    return late is not None and late.stamped > 0


def _beyond(wide: list[Iv], narrow: list[Iv]) -> list[Iv]:
    """Where `wide` holds and `narrow` does not."""
    return intersect(union([], wide), complement(union([], narrow)))


def _written_before(
    periods: list[Iv], found: list[Iv], samples: Sequence[Sample], early_us: int, stamped: bool
) -> list[Iv]:
    """`found` (one per excursion of `periods`, in order) opening no later than `early_us`
    before its loss's lane time, and not before the lane's last sample at or before that loss
    (a look there bounds it by its own steps). kube-proxy and the recorder are separate watch
    clients: kube-proxy may read the EndpointSlice change, and close, before the recorder's
    watch delivers it; the lane time lies up to the watch skew after the write (`early_us`,
    per Service, measured from the objects' own write times where they carry them:
    replay.measure.watch_skew). Where the Service's slices carry write times (`stamped`), the
    write lies in its stamp's second, which ends at or after the lane time
    (replay.owntime.bounded_at): no earlier than the whole second at or after lane time - 1 s."""
    out = []
    for loss, iv in zip(periods, found, strict=True):
        k = bisect_right(samples, loss.start, key=AT_US) - 1
        floor = samples[k].at_us if k >= 0 else loss.start - early_us
        if stamped:
            second = -(-(loss.start - STAMP_RESOLUTION_US) // STAMP_RESOLUTION_US)
            floor = max(floor, second * STAMP_RESOLUTION_US)
        out.append(iv._replace(start=min(iv.start, max(loss.start - early_us, floor))))
    return out


def dead_before(
    periods: list[Iv],
    deaths: Sequence[tuple[int, int]],
    eps: Sequence[Sample],
    samples: Sequence[Sample],
    bad: Callable[[str], bool],
    period_us: int,
) -> list[Iv]:
    """Excursions whose loss a local pod's death explains: the pod was seen stopped after
    the endpoints lane's previous change and no later than the loss, so it stopped serving
    before the EndpointSlice showed it (the controller's lag is not bounded); the excursion
    opens at the death, after the last update that saw the pod up (`death_ranges`). No look
    saw the gap, so it is shorter than the lane's sampling interval `period_us`: it opened
    less than that before the loss (0: unknown, no change), and after the lane's last sample
    before the loss (a sample there that saw F false bounds it by its own steps)."""
    if not period_us:
        return periods
    out = []
    for iv in periods:
        i = bisect_left(eps, iv.start, key=AT_US)
        before = eps[i - 1].at_us if i > 0 else None
        ups = [u for u, g in deaths if g <= iv.start and (before is None or g > before)]
        first = max(min(ups, default=iv.start), iv.start - period_us)
        k = bisect_right(samples, iv.start, key=AT_US) - 1
        if k >= 0:
            if bad(samples[k].value):
                first = iv.start
            first = max(first, samples[k].at_us)
        out.append(iv._replace(start=first) if first < iv.start else iv)
    return out


def _shorter_than(periods: list[Iv], hi_us: int, period_us: int) -> list[Iv]:
    """Ready-set excursions [loss, return + lag] whose gap no probe saw: kube-proxy closed at
    or after the loss and opened after the return, and the gap was shorter than `period_us`
    (the probe period, with the watch skew and clock allowances; 0: unknown), so it opened
    less than that before the return was seen."""
    if not period_us:
        return periods
    out = []
    for iv in periods:
        back = iv.end - hi_us if iv.end < HI else iv.start
        start = max(iv.start, back - period_us)
        if start < iv.end:
            out.append(iv._replace(start=start))
    return out


def _synced_back(
    iv: Iv, health: Sequence[Sample], period_us: int, until: dict[int, int]
) -> Iv | None:
    """An unseen excursion of the ready set ends by the health check's first 200 after a
    non-200 inside it (`_programmed`: kube-proxy synced the loss, then a ready local endpoint
    again), not at the return plus kube-proxy's assumed lag; unseen by a lane looked at every
    `period_us` (0: unknown), it opened less than that before the last look that still saw it
    missing, where that look came before the next loss (`until`, by the return's event id:
    `_next_losses`): a later one may have seen that loss's sync, and says nothing of when this
    excursion's gap opened. None where nothing of it is left."""
    end, before = _programmed(health, iv.start, iv.end)
    if end >= iv.end:
        return iv
    placed = period_us and before < until.get(iv.end_eid, HI)
    start = max(iv.start, before - period_us) if placed else iv.start
    return iv._replace(start=start, end=end) if start < end else None


def _next_losses(steps: Sequence[Step], early_us: int) -> dict[int, int]:
    """For each return of `steps` (a usable set non-empty again after a loss), by its event
    id: the next loss's lane time less `early_us` (the watch skew: kube-proxy may read it that
    much before the recorder). A health check's 503 counting no ready endpoint from then on
    may be kube-proxy's sync of that later loss: the 200 after it still shows the return
    programmed (kube-proxy never goes back to an older version), but its last 503 says nothing
    of when the earlier excursion's own gap opened, as `hidden` reads no bad look after the
    next loss as the earlier excursion's (random 29,000,697 node-new-1: the 503s of a loss
    24 s later placed an unseen gap after them, and a registration during it was missed)."""
    out: dict[int, int] = {}
    returned: Step | None = None
    lost = False
    for step in steps:
        if not step.value:
            if returned is not None:
                out[returned.event_id] = step.latest - early_us
            returned, lost = None, True
        elif lost:
            returned, lost = step, False
    return out


def _programmed(health: Sequence[Sample], down: int, end: int) -> tuple[int, int]:
    """When kube-proxy surely had the returned ready endpoint: the health check answered 503
    counting no ready local endpoint after the loss (it synced the loss) and then 200 (a ready
    local endpoint again, even before the watch showed the return: the EndpointSlice may be
    seen late); else `end`. Second: the last look before that still saw it missing (`down`
    when unknown). Only such a 503 is an answer about the rules: a refused look is kube-proxy
    restarting (its health server down, the rules it installed kept), a timeout no answer
    (random 25,000,723 node-003: a restart 4 s after an unseen excursion was read as its sync,
    and the gap placed before the restart's 200)."""
    synced_loss = False
    # (in time order: a look before `down` neither syncs the loss nor, before that, counts)
    for i in range(bisect_left(health, down, key=AT_US), len(health)):
        s = health[i]
        if s.at_us >= end:
            break
        if s.value == "503" and not s.num and s.at_us >= down:
            synced_loss = True
        elif s.value == "200" and synced_loss:
            return s.at_us, s.prev_us if s.prev_us is not None else down
    return end, down


def death_ranges(
    state: FoldState, svc: ServiceRef, node: str, clock_us: int | None = None
) -> list[tuple[int, int]]:
    """When a local pod that was up stopped: after the last update that saw it up and by the
    update that says so (no assumed status lag: the kubelet's report can be late), narrowed
    by the kubelet's finishedAt within `clock_us` (replay.deaths.death_range; None: not).
    Kept per node while its pods' samples are (`_kept_deaths`)."""
    return kept_by_pods(
        state, (svc, node, "ranges", clock_us), lambda: _death_ranges(state, svc, node, clock_us)
    )


def reported_stops(
    state: FoldState, svc: ServiceRef, node: str
) -> list[tuple[int, int, int | None]]:
    """Each stop of a local pod that was up: (the earliest instant the last update that saw it
    up can have been written, replay.owntime.written_from: the death lies after it; the update
    that says it stopped; its kubelet's finishedAt or None)."""
    out = []
    for pod in local_pods(state, svc, node):
        up_at: int | None = None
        for p in state.pods.get((svc.cluster, svc.namespace, pod), []):
            if up_at is not None and (p.state in STOPPED or p.started_us is not None):
                # a stop, or a crash and restart between two updates (replay.podstate.restarted)
                out.append((up_at, p.at_us, p.finished_us))
            up_at = written_from(p.at_us) if p.state in ALIVE else None
    return out


def _death_ranges(
    state: FoldState, svc: ServiceRef, node: str, clock_us: int | None
) -> list[tuple[int, int]]:
    if clock_us is None:
        return sorted((up, down) for up, down, _ in reported_stops(state, svc, node))
    return sorted(
        death_range(up, down, done, clock_us)[:2]
        for up, down, done in reported_stops(state, svc, node)
    )


def death_spans(
    state: FoldState, svc: ServiceRef, node: str, clock_us: int, status_us: int
) -> list[tuple[int, int]]:
    """When each local pod that was up and stopped may have died, to order it against
    kube-proxy's close (replay.deaths.death_span: the kubelet's finishedAt within `clock_us`,
    else the `status_us` before the update that says it stopped, unless that update was
    PodGC's after the Node's deletion, `removed_unreported`: then anywhere after the last
    update that saw the pod up). Kept per node while its pods' samples are (`_kept_deaths`)."""
    return kept_by_pods(
        state,
        (svc, node, f"spans {status_us}", clock_us),
        lambda: _death_spans(state, svc, node, clock_us, status_us),
    )


def _death_spans(
    state: FoldState, svc: ServiceRef, node: str, clock_us: int, status_us: int
) -> list[tuple[int, int]]:
    removed = removed_unreported(state, svc, node)
    return sorted(
        death_span(up, down, done, clock_us, HI if down in removed else status_us)
        for up, down, done in reported_stops(state, svc, node)
    )


def removed_unreported(state: FoldState, svc: ServiceRef, node: str) -> frozenset[int]:
    """When a local pod was seen removed with its Node deleted and no stop reported by its
    kubelet (replay.orphans.removed_with_node: PodGC's removal): that removal is no kubelet
    status write, so the pod_status_s assumption does not bound the death before it, which
    lies anywhere after the last update that saw the pod up (death_span with no status
    bound)."""
    node_lane = state.nodes.get((svc.cluster, node), [])
    if not node_lane:
        return frozenset()
    return frozenset(
        at
        for pod in local_pods(state, svc, node)
        for at in removed_with_node(
            state.pods.get((svc.cluster, svc.namespace, pod), []), node_lane
        )
    )


def death_earliest(
    state: FoldState, svc: ServiceRef, node: str, clock_us: int, status_us: int
) -> dict[int, int]:
    """For each `pod_deaths` instant (a Pod update that says a local pod stopped), the
    earliest instant a pod it reports may have died (replay.deaths.death_span). Kept per node
    while its pods' samples are (`_kept_deaths`): classify asks for each death it reads."""
    key = (svc, node, f"earliest {status_us}", clock_us)
    return dict(
        kept_by_pods(state, key, lambda: _death_earliest(state, svc, node, clock_us, status_us))
    )


def _death_earliest(
    state: FoldState, svc: ServiceRef, node: str, clock_us: int, status_us: int
) -> list[tuple[int, int]]:
    out: dict[int, int] = {}
    removed = removed_unreported(state, svc, node)
    for up, down, done in reported_stops(state, svc, node):
        lo = death_span(up, down, done, clock_us, HI if down in removed else status_us)[0]
        out[down] = min(lo, out.get(down, lo))
    return list(out.items())


def pod_deaths(state: FoldState, svc: ServiceRef, node: str) -> list[int]:
    """When a local pod that was up (ready or terminating) was seen stopped (gone or crashed).
    Kept per node while its pods' samples are (`_kept_deaths`)."""
    return kept_by_pods(state, (svc, node, "deaths", None), lambda: _pod_deaths(state, svc, node))


def _pod_deaths(state: FoldState, svc: ServiceRef, node: str) -> list[int]:
    out = []
    for pod in local_pods(state, svc, node):
        up = False
        for p in state.pods.get((svc.cluster, svc.namespace, pod), []):
            if up and (p.state in STOPPED or p.started_us is not None):
                out.append(p.at_us)
            up = p.state in ALIVE
    return sorted(out)


def terminating_deaths(state: FoldState, svc: ServiceRef, node: str) -> list[int]:
    """The `pod_deaths` of local pods whose last update before it said terminating."""
    out = []
    for pod in local_pods(state, svc, node):
        last = None
        for p in state.pods.get((svc.cluster, svc.namespace, pod), []):
            if last == "terminating" and p.state in STOPPED:
                out.append(p.at_us)
            last = p.state
    return sorted(out)


def terminating_spans(
    state: FoldState, svc: ServiceRef, node: str, clock_us: int, status_us: int
) -> list[tuple[int, int]]:
    """`death_spans` of the local pods whose last update before their stop said terminating."""
    ended = set(terminating_deaths(state, svc, node))
    return sorted(
        death_span(up, down, done, clock_us, status_us)
        for up, down, done in reported_stops(state, svc, node)
        if down in ended
    )


def pod_serves(
    lane: Sequence[PodSample],
    accept: tuple[str, ...],
    listed: int,
    lo: int,
    hi: int,
    settings: DetectSettings,
    looks: Sequence[SyncLook] | SyncIndex = (),
    reach_us: int = 0,
    eps_times: Sequence[int] = (),
    *,
    early_us: int = 0,
) -> Tri:
    """One pod: kube-proxy has its endpoint (the pod forwardable, plus the EndpointSlice and
    kube-proxy lags, narrowed by the node's kube-proxy metrics `looks`: replay.syncs) and it is
    still up (it stops before the Pod update that says so). `early_us`: how much before the
    recorder's watch kube-proxy's may have read the slice that followed each Pod update (the
    update was written up to the watch skew before it was seen: replay.lanes
    `inferred_forwarding`)."""
    list_us = seconds_us(settings.list_s)
    status_us = seconds_us(settings.pod_status_s)
    states = ("ready", "terminating") if "serving-terminating" in accept else ("ready",)
    fwd = exact_steps([(p.at_us, p.state in states, p.event_id) for p in lane], False)
    fwd, fwd_initial = backdated(fwd, listed, list_us)
    fwd = read_early(fwd, early_us)
    # a crash and restart between two updates (podstate.restarted): down just before the
    # update that reports it, its bounds set by `_restarts`
    changes = [
        c
        for i, p in enumerate(lane)
        for c in (
            [(p.at_us - 1, False, p.event_id)] if i and p.started_us is not None else []
        ) + [(p.at_us, p.state in ALIVE, p.event_id)]
    ]  # fmt: skip
    up = exact_steps(changes, False)
    up, up_initial = backdated(up, listed, list_us)
    seen = [p.at_us for p in lane]
    clock_us = seconds_us(settings.node_clock_s)
    finished = {p.event_id: p.finished_us for p in lane if p.finished_us is not None}
    up = [s if s.value else _stopped(s, seen, status_us, finished, clock_us) for s in up]
    up = shifted(_restarts(up, lane, clock_us))
    slice_us = seconds_us(settings.slice_lag_s)
    # the EndpointSlice follows the Pod within slice_us: kube-proxy gets the change that late
    synced = programmed(
        fwd, looks, lo, hi + slice_us, reach_us, seen_in=eps_times, within_us=slice_us,
        span_us=seconds_us(settings.sync_span_s),
    )  # fmt: skip
    return t_and(tri_from_steps(synced, fwd_initial), tri_from_steps(up, up_initial))


def _restarts(up: list[Step], lane: Sequence[PodSample], clock_us: int) -> list[Step]:
    """`up` with each restart's stop and return (podstate.restarted) placed where the kubelet's
    times put them: the stop in the death range (finishedAt within `clock_us`, after the update
    before: replay.deaths.death_range), the return from the new container's startedAt less
    `clock_us` (no sooner than the stop) to the update that reports it."""
    found: dict[int, tuple[Iv, int]] = {}
    for before, p in pairwise(lane):
        if p.started_us is not None:
            death = death_range(written_from(before.at_us), p.at_us, p.finished_us, clock_us)
            found[p.event_id] = (death, max(death.start, p.started_us - clock_us))
    if not found:
        return up
    out = []
    for s in up:
        hit = found.get(s.event_id)
        if hit is None:
            out.append(s)
        elif s.value:
            out.append(s._replace(earliest=min(hit[1], s.latest)))
        else:
            out.append(s._replace(earliest=hit[0].start, latest=hit[0].end))
    return out


def _stopped(
    step: Step,
    seen: list[int],
    status_us: int,
    finished: dict[int, int] | None = None,
    clock_us: int = 0,
) -> Step:
    """A pod stopped after the last update that saw it up (from a stamp's second before it:
    its write is known to the second at best, replay.owntime, as replay.podsup reads it) and
    by the update that says so: where that update carries its kubelet's finishedAt
    (`finished`, by event id), within [finishedAt - `clock_us`, finishedAt + 1 s +
    `clock_us`) however late the report was seen (replay.deaths.death_span: a kubelet's status
    writes queue behind its API rate limit), else at most `status_us` (the pod_status_s
    assumption) before the update."""
    i = bisect_left(seen, step.latest)
    before = written_from(seen[i - 1]) if i > 0 else step.latest - status_us
    done = (finished or {}).get(step.event_id)
    lo, hi = death_span(before, step.latest, done, clock_us, status_us)
    return step._replace(earliest=lo, latest=hi)


def listed_at(state: FoldState, svc: ServiceRef) -> int:
    """When the Service's endpoints were first listed: its lanes' first change (HI: none).
    Every Service's is found in one pass over the lanes, kept until the next fold (read per
    node: a pass per call compared each lane's Service, 150 passes over 1,000 lanes)."""
    if not state.memo.listed_at:
        firsts: dict[ServiceRef, int] = {}
        for (s, _n), lane in state.endpoints.items():
            if lane and (s not in firsts or lane[0].at_us < firsts[s]):
                firsts[s] = lane[0].at_us
        state.memo.listed_at.append(firsts)
    return state.memo.listed_at[0].get(svc, HI)


def with_listing(
    state: FoldState,
    svc: ServiceRef,
    pod: str,
    lane: Sequence[PodSample],
    listed_us: int,
    list_us: int,
) -> Sequence[PodSample]:
    """The pod's lane, begun with its state at the Service's first listing (`listed_us`) where
    the EndpointSlices' initial list (within `list_us` of it) named it ready and its own Pod
    stream listed it only later: the EndpointSlice controller lists an endpoint ready only
    while its Pod is Ready, so the pod was up then, whatever its own list says later. The
    recorder lists each kind on its own stream, and in a large cluster the Pods arrive seconds
    after the slices: a pod listed ready 1.02 s after them (past list_s) read as a pod that came
    up then, and the node as surely serving nothing before it (a certain window on every node
    at the start of 49 + 54 development runs without probes); one listed gone read as gone from
    before the recording, not as dead since the listing."""
    ready = state.slice_ready.get((svc, pod))
    if not lane or not ready or ready[0] > listed_us + list_us:
        return lane
    if lane[0].at_us <= listed_us + list_us:
        return lane  # listed with the slices: its first state held before (backdated)
    first = lane[0]
    listing = PodSample(
        listed_us, "ready", None, first.grace_s, first.prestop_ms, first.event_id, first.owner,
        first.revision,
    )  # fmt: skip
    return [listing, *lane]


def backdated(steps: list[Step], listed_us: int, list_us: int) -> tuple[list[Step], bool]:
    """A lane whose first change came with the initial list (within `list_us`, the list_s
    assumption): that value held before it (the state the recording found, not a change
    kube-proxy had to program)."""
    if steps and steps[0].latest <= listed_us + list_us:
        return steps[1:], steps[0].value
    return steps, False
