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
from gapwatch.replay.syncs import SyncIndex


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
) -> list[Step]:
    """`steps` (a probed F) with each turn-on that kube-proxy's looks place before the probe's
    look moved there (module docstring), and each change a sync made moved out of the `quiet`
    spans in which no sync changed anything (replay.synccount). `by_sync`: which changes a sync
    made (default: the turn-ons of a forwarding set that had turned on, as above)."""
    if not looks.looks:
        return list(steps)
    out: list[Step] = []
    for step in steps:
        # (asked of the probe's own step: `by_sync` finds a health-check change by its sample)
        made = by_sync(step) if by_sync else _opened(step, forwardable)
        if step.value:
            step = _bounded(step, forwardable, looks, reach_us)
        if quiet and made:
            step = outside_quiet(step, quiet)
        out.append(step)
    return out


def _opened(step: Step, forwardable: Sequence[Step]) -> bool:
    return step.value and _forwarding_since(forwardable, step.latest) is not None


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
