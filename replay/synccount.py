"""When kube-proxy's rules cannot have changed, from its rules-sync count (`sync` looks). Pure.

kube-proxy observes `kubeproxy_sync_proxy_rules_duration_seconds` once at the end of every rules
sync (a deferred call in syncProxyRules, failed syncs too; pkg/proxy/iptables/proxier.go), so
its `_count` counts the syncs of the process. Two looks of one process (the same
`process_start_time_seconds`) whose pages were written at `a` and `b`:

- the count unchanged: no sync ran in between, so the rules and the health-check server's
  counts (both written only by a sync) did not change in `(a, b)`;
- the count one more and the last sync's end `S` newer: exactly one sync ran, the one that
  ended at `S`; it began at most its duration `d` before `S` (the histogram's `_sum` grew by
  `d`; without it `sync_span_s`, replay.assumptions), wrote the rules before `S` and the
  health-check counts right after it (before the deferred observation, so within `d`). The
  rules did not change in `(a, S - d - skew)` nor in `(S + d + skew, b)`, `skew` the clocks'
  (`clock_skew_s`: `S` is on kube-proxy's clock, `a` and `b` on the prober's).

Anything else (more syncs, another process, a look without the count or the process start, a
count that went down, a sync `S` outside the looks) claims nothing. A real kube-proxy syncs on
every Service and EndpointSlice change in the cluster (at most once per
`--iptables-min-sync-period`) and resyncs at least hourly (kubernetes/kubernetes#81517): on a
busy cluster most look pairs show several syncs, and these spans are rare; they stay correct.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import NamedTuple

from gapwatch.replay.fold import Sample, SyncLook
from gapwatch.replay.signals import Iv, Step

_START = attrgetter("start")


class Counted(NamedTuple):
    look: SyncLook
    syncs: int
    answered_us: int


def counted_looks(looks: Sequence[SyncLook]) -> list[Counted]:
    """The looks that say how many syncs their process ran and which process answered."""
    out = []
    for look in looks:
        syncs, answered = look.syncs, look.answered_us
        if look.complete and syncs is not None and answered is not None and look.process_us:
            out.append(Counted(look, syncs, answered))
    return out


def quiet_spans(looks: Sequence[SyncLook], span_us: int, skew_us: int) -> list[Iv]:
    """The spans `(start, end]` (prober's clock) in which kube-proxy's rules did not change,
    from consecutive counted looks of one process (module docstring), in time order.
    `span_us`: how long a sync may run where the look pair does not say (`sync_span_s`)."""
    counted = counted_looks(looks)
    out = quiet_raw(counted, 1, span_us, skew_us)
    spans = sorted((iv for iv in out if iv.end > iv.start), key=_START)
    return joined(spans, answered_at(looks))


def quiet_raw(counted: Sequence[Counted], first: int, span_us: int, skew_us: int) -> list[Iv]:
    """`quiet_spans`' spans (unsorted, empty ones too) from the pairs of `counted` ending at
    index `first` or later, in pair order."""
    out: list[Iv] = []
    for k in range(max(first, 1), len(counted)):
        earlier, later = counted[k - 1], counted[k]
        a, b = earlier.look, later.look
        if a.process_us != b.process_us:
            continue
        lo, hi, ran = earlier.answered_us, b.at_us, later.syncs - earlier.syncs
        if ran == 0:
            out.append(Iv(lo, hi, a.event_id, b.event_id))
        elif ran == 1 and b.synced_us > a.synced_us and b.synced_us + skew_us >= a.at_us:
            d = span_us
            if a.busy_us is not None and b.busy_us is not None and b.busy_us >= a.busy_us:
                d = b.busy_us - a.busy_us
            # to the last instant before the sync can have begun
            out.append(Iv(lo, b.synced_us - d - skew_us - 1, a.event_id, b.event_id))
            out.append(Iv(b.synced_us + d + skew_us, hi, a.event_id, b.event_id))
    return out


def answered_at(looks: Sequence[SyncLook]) -> dict[int, int]:
    """Each look's time -> when its page was answered (the last look of equal times)."""
    return {look.at_us: look.answered_us for look in looks if look.answered_us}


def unbegun_spans(looks: Sequence[SyncLook], span_us: int, skew_us: int) -> list[Iv]:
    """The spans `(start, end)` (prober's clock) in which no rules sync began: a run of
    consecutive counted looks of one process that ran none, ended by a pair that ran exactly one
    (the module docstring: it began after `S - d - skew`). kube-proxy runs one sync at a time
    (its sync runner), so a sync begun inside the run would have ended inside it (none did) or
    be that one sync, which began after it. A run not ended so claims nothing: a sync begun
    before its last look may still be running. `span_us`: how long a sync may run where the
    pair does not say (`sync_span_s`)."""
    out: list[Iv] = []
    unbegun_run(counted_looks(looks), 1, None, span_us, skew_us, out)
    return out


def unbegun_run(
    counted: Sequence[Counted],
    first: int,
    start: int | None,
    span_us: int,
    skew_us: int,
    out: list[Iv],
) -> int | None:
    """`unbegun_spans`' loop over the pairs of `counted` ending at index `first` or later,
    from its state `start` (where the run of quiet pairs began; None: none), its spans
    appended to `out`; the state after the last pair."""
    for k in range(max(first, 1), len(counted)):
        earlier, later = counted[k - 1], counted[k]
        a, b = earlier.look, later.look
        ran = later.syncs - earlier.syncs
        if a.process_us != b.process_us or ran not in (0, 1):
            start = None
            continue
        if ran == 0:
            start = earlier.answered_us if start is None else start
            continue
        if not (b.synced_us > a.synced_us and b.synced_us + skew_us >= a.at_us):
            start = None
            continue
        d = span_us
        if a.busy_us is not None and b.busy_us is not None and b.busy_us >= a.busy_us:
            d = b.busy_us - a.busy_us
        lo = earlier.answered_us if start is None else start
        began = b.synced_us - d - skew_us
        if began > lo:
            out.append(Iv(lo, began, a.event_id, b.event_id))
        start = b.synced_us + d + skew_us
    return start


def joined(spans: Sequence[Iv], answered: dict[int, int], out: list[Iv] | None = None) -> list[Iv]:
    """Spans on both sides of one look joined across the look's own latency: the first says
    no sync ended up to when its page was written, the second none after it. `out`: the
    joined spans before `spans` (extended here)."""
    out = [] if out is None else out
    for iv in spans:
        if out and answered.get(out[-1].end) == iv.start:
            out[-1] = Iv(out[-1].start, iv.end, out[-1].start_eid, iv.end_eid)
        else:
            out.append(iv)
    return out


def outside_quiet(step: Step, quiet: Sequence[Iv]) -> Step:
    """`step` (a change kube-proxy made by a sync, somewhere in `[earliest, latest]`) with its
    ends moved out of the spans `(start, end]` in which no sync changed anything (an earliest
    bound inside one moves to its end, a latest to its start); unchanged when the spans cover
    it all (then a sync did not make it: a node or a pod did)."""
    if not quiet:
        return step
    # (bisected by start: a list of every span's start is a pass over the node's whole
    # metrics history on every step, and F reads it on every refresh that moves the node)
    earliest, latest = step.earliest, step.latest
    i = bisect_right(quiet, earliest - 1, key=_START) - 1
    while 0 <= i < len(quiet) and quiet[i].start < earliest < quiet[i].end:
        earliest = quiet[i].end
        i += 1
    j = bisect_right(quiet, latest - 1, key=_START) - 1
    while j >= 0 and quiet[j].start < latest <= quiet[j].end:
        latest = quiet[j].start
        j -= 1
    if earliest > latest:
        return step
    return step._replace(earliest=earliest, latest=latest)


def _set_by_sync(sample: Sample) -> bool:
    """A health-check answer only a sync can have changed: 200, or 503 counting no local
    endpoint (a 503 that counts some is kube-proxy unhealthy, from 1.27: a timeout, no sync;
    a refusal or a timeout is kube-proxy or the node down)."""
    return sample.value == "200" or (sample.value == "503" and sample.num == 0)


def by_sync(health: Sequence[Sample]) -> Callable[[Step], bool]:
    """Which changes of the health-check lane `health` a sync made: the ones between two
    answers only a sync sets (kube-proxy's health-check server takes its counts from each
    sync: pkg/proxy/healthcheck/service_health.go, SyncEndpoints)."""
    at = {(s.at_us, s.event_id): i for i, s in enumerate(health)}

    def made(step: Step) -> bool:
        i = at.get((step.latest, step.event_id))
        return i is not None and i > 0 and _set_by_sync(health[i]) and _set_by_sync(health[i - 1])

    return made
