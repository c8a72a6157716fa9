"""When a probed F turned on, bounded by kube-proxy's own metrics (`sync` looks). Pure.

A probe (NodePort or health check) sees F turn on somewhere between two looks `(a, b]`. Where
the prober also scrapes kube-proxy's `/metrics` (replay.syncs: `S`, the end of its last rules
sync, on its own clock), the turn-on can be placed earlier than `b`:

- the node's forwarding set (the endpoints lane: ready, or serving-terminating with
  ProxyTerminatingEndpoints) turned non-empty at `e` and stayed so through `b`;
- a metrics look in `[a, b)` (kube-proxy answered inside the probe's interval) saw no sync since
  `e` could reach kube-proxy (S < e - reach): kube-proxy had not programmed the set yet;
- F is on at `b`, and the first look at or after `b` shows a newer sync that ended after `e`
  could reach kube-proxy: the sync that programmed the set ended by that look's `S` (every sync
  that ended before a look shows in it), so F turned on at or before `S`.

Nothing is assumed but the watch's and the clocks' skew (`reach`, as replay.syncs): the look
before the turn-on proves kube-proxy had not programmed it, the look after proves a sync ended
by `S`. A turn-on without that pair (the set was not empty, or no look in between) stays as the
probe has it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence

from gapwatch.replay.fold import SyncLook
from gapwatch.replay.signals import Iv, Step
from gapwatch.replay.synccount import outside_quiet
from gapwatch.replay.syncs import SYNC_SPAN_US, SyncIndex, began_by


def _forwarding_since(forwardable: Sequence[Step], at_us: int) -> Step | None:
    """The forwarding set's last turn-on at or before `at_us`, if it was on from then."""
    i = bisect_right(forwardable, at_us, key=lambda step: step.earliest)
    last = forwardable[i - 1] if i else None
    return last if last is not None and last.value and last.latest <= at_us else None


def synced_on(
    steps: Sequence[Step],
    forwardable: Sequence[Step],
    looks: SyncIndex,
    reach_us: int,
    quiet: Sequence[Iv] = (),
    by_sync: Callable[[Step], bool] | None = None,
    span_us: int = SYNC_SPAN_US,
    back: Callable[[Step, Step], bool] | None = None,
) -> list[Step]:
    """`steps` (a probed F) with each turn-on that kube-proxy's looks place before the probe's
    look moved there (module docstring), and each change a sync made moved out of the `quiet`
    spans in which no sync changed anything (replay.synccount). `by_sync`: which changes a sync
    made (default: the turn-ons that `_opened` proves a sync's; `span_us`: how long one sync
    may run, the `sync_span_s` assumption)."""
    if not looks.looks:
        return list(steps)
    out: list[Step] = []
    for step in steps:
        made = (
            by_sync(step) if by_sync else _opened(step, forwardable, looks, reach_us, span_us, back)
        )
        if step.value:
            step = _bounded(step, forwardable, looks, reach_us)
        if quiet and made:
            step = outside_quiet(step, quiet)
        out.append(step)
    return out


def _opened(
    step: Step,
    forwardable: Sequence[Step],
    looks: SyncIndex,
    reach_us: int,
    span_us: int,
    back: Callable[[Step, Step], bool] | None = None,
) -> bool:
    """A probed turn-on a sync made: kube-proxy's rules held the empty forwarding set at a look
    inside the probe's interval, so only a sync can have turned F on after it. That look's last
    sync began after the set's emptying surely reached kube-proxy (it programmed the empty set;
    when it began: replay.syncs.began_by)
    and ended before its turn-on could reach it (no sync since). Without that look the rules may
    never have dropped the endpoint (no sync between the set's turn-off and its turn-on): F
    then comes back when the pod does (a container restarted behind rules that still name
    it), with no sync at all."""
    if not step.value:
        return False
    opened = _forwarding_since(forwardable, step.latest)
    if opened is None:
        return False
    i = bisect_left(forwardable, opened.earliest, key=lambda s: s.earliest)
    emptied = forwardable[i - 1] if i else None
    if emptied is not None and emptied.value:
        return False
    if emptied is not None and back is not None and not back(opened, emptied):
        return True  # only pods new since the emptying: no rule named them before a sync
    ordered, times = looks
    # (a set empty from the lane's start: any sync before its turn-on programmed it empty)
    since = -(2**62) if emptied is None else emptied.latest + reach_us
    before = opened.earliest - reach_us
    return any(
        ordered[i].complete
        and ordered[i].synced_us < before
        and ordered[i].synced_us >= since
        and began_by(ordered, i, span_us) >= since
        for i in range(bisect_left(times, step.earliest), bisect_left(times, step.latest))
    )


def brought_back(ready: Sequence[Sequence[int]], skew_us: int) -> Callable[[Step, Step], bool]:
    """Whether a turn-on of the node's forwarding set (`opened`) brings back a pod that was
    ready before the set emptied (`emptied`): kube-proxy's rules may still name it, so F can
    come back with the pod and no sync. `ready`: when each local pod was seen ready; `skew_us`
    the watch's."""

    def back(opened: Step, emptied: Step) -> bool:
        return any(
            any(t < emptied.earliest for t in times)
            and any(emptied.earliest <= t <= opened.latest + skew_us for t in times)
            for times in ready
        )

    return back


def _bounded(step: Step, forwardable: Sequence[Step], looks: SyncIndex, reach_us: int) -> Step:
    opened = _forwarding_since(forwardable, step.latest)
    if opened is None:
        return step
    ordered, times = looks
    # the first look at or after the probe's: every sync that ended before it shows
    i = bisect_left(times, step.latest)
    if i >= len(ordered) or not ordered[i].complete:
        return step
    after = ordered[i]
    waiting: SyncLook | None = None
    for look in reversed(ordered[bisect_left(times, step.earliest) : i]):
        if look.synced_us < opened.earliest - reach_us:
            waiting = look
            break
    if waiting is None:
        return step
    synced = after.synced_us
    if synced <= waiting.synced_us or synced < opened.earliest - reach_us:
        return step  # no sync since: F turned on without kube-proxy (a pod back, a node up)
    return step._replace(latest=max(step.earliest, min(step.latest, synced)))
