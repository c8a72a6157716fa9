"""When kube-proxy on a node programmed a change, bounded by its own metrics (`sync` facts).

Without probes, F (the node serves) is inferred: each endpoints change is programmed an assumed
kube-proxy lag later (`proxy_lag_s`, up to 60 s by default). kube-proxy's metrics, scraped by
the prober or by Prometheus (`gapwatch import prometheus`), narrow that per node and per change
(DESIGN.md section 6, "kube-proxy lag metrics"):

- `kubeproxy_sync_proxy_rules_last_timestamp_seconds` (S): when the last successful rules sync
  ended; `..._last_queued_timestamp_seconds` (Q): when the last change asked for one.
- kube-proxy receives an endpoints change within `reach` of the time the store has for it (the
  watch skew between two watchers of the same apiserver, plus the clocks' skew).
- Not yet: a look at time t with S earlier than the change could have reached kube-proxy saw
  no sync since: the change was not programmed at t (the earliest bound moves to t).
- Done: a look whose last sync began at least `reach` after the change, and Q <= S (nothing
  asked for a sync after that one): that sync took every change pending when it began, so the
  change was programmed by S (the latest bound moves to S, or stays where the assumption put it
  when that is earlier). kube-proxy's `syncProxyRules` takes every pending change at its start
  (`endpointsMap.Update(endpointsChanges)`), runs one at a time (its sync runner) and observes
  its own duration in `kubeproxy_sync_proxy_rules_duration_seconds` when it ends
  (pkg/proxy/iptables/proxier.go), so the last sync began at S less its duration: at most the
  growth of the histogram's `_sum` since the latest earlier look of the process that counted
  fewer syncs (the last sync is one of those since, and no duration is negative); where the
  looks do not say (no `_sum`, another process, no such look), at most SYNC_SPAN_S (the
  `sync_span_s` assumption). A sync of seconds (large clusters, or a slow iptables-restore)
  began before changes queued while it ran, and did not apply them.
- Where the looks contradict the assumption (not yet programmed after the assumed largest lag:
  kube-proxy was stuck), the looks win: the change lies after the last "not yet" look, and
  before the first "done" one.

`kubeproxy_network_programming_duration_seconds` is not used for bounds: it is measured from
the EndpointSlice's `last-change-trigger-time` annotation, across two machines' clocks, and a
histogram mixes every Service's changes. Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import NamedTuple

from gapwatch.replay.assumptions import DEFAULTS, DetectSettings, seconds_us
from gapwatch.replay.fold import SyncLook
from gapwatch.replay.signals import Step

#: How long one rules sync may run, at most, by default (the named assumption `sync_span_s`,
#: replay.assumptions, with its source).
SYNC_SPAN_US = seconds_us(DEFAULTS.sync_span_s)
#: How far a scrape's time may be from kube-proxy's clock when searching for a sync: a bound for
#: the search only (a look that early is still examined), not for the result.
CLOCKS_US = 60_000_000


def began_by(looks: Sequence[SyncLook], i: int, span_us: int) -> int:
    """The earliest that the last sync `looks[i]` shows can have begun (module docstring): its
    end less the growth of `_sum` since the latest earlier look of the same process that counted
    fewer syncs, or less `span_us` where the looks do not say. `looks` in time order."""
    look = looks[i]
    if look.syncs is not None and look.busy_us is not None and look.process_us is not None:
        for j in range(i - 1, -1, -1):
            before = looks[j]
            if not before.complete:
                continue
            if before.process_us != look.process_us or before.syncs is None:
                break
            if before.syncs < look.syncs:
                if before.busy_us is None or before.busy_us > look.busy_us:
                    break
                return look.synced_us - (look.busy_us - before.busy_us)
    return look.synced_us - span_us


def done_look(
    looks: Sequence[SyncLook], times: Sequence[int], after_us: int, span_us: int
) -> int | None:
    """The first look showing a sync that began at or after `after_us`, with nothing queued
    since it ended (looks before `after_us`, less a minute of clock difference, cannot show
    one)."""
    for i in range(bisect_left(times, after_us - CLOCKS_US), len(looks)):
        look = looks[i]
        queued = look.queued_us
        if not look.complete:
            continue  # a health 503: nothing synced since synced_us, no more
        if look.synced_us < after_us or (queued is not None and queued > look.synced_us):
            continue
        if began_by(looks, i, span_us) >= after_us:
            return i
    return None


def _not_yet(looks: Sequence[SyncLook], end: int, before_us: int, from_us: int) -> int | None:
    """The time of the latest look (of looks[:end], none before `from_us`) whose last sync
    ended before `before_us`: the change was not programmed then."""
    for i in range(end - 1, -1, -1):
        look = looks[i]
        if look.at_us < from_us:
            return None
        if look.synced_us < before_us:
            return look.at_us
    return None


def _arrival(latest_us: int, seen_in: Sequence[int], within_us: int, skew_us: int) -> int:
    """When the change surely was in the store: the first of `seen_in` (the times the node's
    endpoints lane changed) within `within_us` after it (or `skew_us` before: two watchers
    may see related changes that far out of order), else `within_us` after it."""
    i = bisect_left(seen_in, latest_us - skew_us)
    if i < len(seen_in) and seen_in[i] <= latest_us + within_us:
        return seen_in[i]
    return latest_us + within_us


class SyncIndex(NamedTuple):
    """A node's looks in time order, with their times (for bisecting): build it once per node
    (`index_looks`) when many changes are bounded against the same looks."""

    looks: Sequence[SyncLook]
    times: Sequence[int]


def reach_us(settings: DetectSettings) -> int:
    """How far kube-proxy's receipt of a change may lie from the store's time for it: the watch
    skew between two watchers of the same apiserver, plus the clocks' skew (the scrapes' clock
    may be off like any observer's)."""
    return seconds_us(settings.watch_skew_s) + seconds_us(settings.clock_skew_s)


def read_early(steps: list[Step], reach_us: int) -> list[Step]:
    """`steps` (changes of what kube-proxy forwards, from the store's times) each possible from
    `reach_us` earlier (kube-proxy's watch may have read the object that much before the
    store's), never before the change before it was done."""
    out: list[Step] = []
    for step in steps:
        floor = out[-1].latest if out else step.earliest - reach_us
        out.append(step._replace(earliest=max(step.earliest - reach_us, floor)))
    return out


def index_looks(looks: Sequence[SyncLook]) -> SyncIndex:
    times = [look.at_us for look in looks]
    if times == sorted(times):
        return SyncIndex(looks, times)
    ordered = sorted(looks, key=lambda look: look.at_us)
    return SyncIndex(ordered, [look.at_us for look in ordered])


def programmed(
    steps: Sequence[Step],
    looks: Sequence[SyncLook] | SyncIndex,
    lo_us: int,
    hi_us: int,
    reach_us: int,
    *,
    seen_in: Sequence[int] = (),
    within_us: int = 0,
    span_us: int = SYNC_SPAN_US,
) -> list[Step]:
    """The changes `steps` as kube-proxy programmed them: `lo..hi` later (the assumption),
    narrowed by the node's metrics looks (module docstring); without looks exactly
    replay.signals.shifted. A change that reaches the EndpointSlice up to `within_us` later (a
    Pod's) counts from the endpoints lane's next change in that span (`seen_in`), if any.
    `span_us`: how long one sync may run (the `sync_span_s` assumption)."""
    ordered, times = looks if isinstance(looks, SyncIndex) else index_looks(looks)
    out: list[Step] = []
    for s in steps:
        earliest, latest = s.earliest + lo_us, s.latest + hi_us
        if ordered:
            arrived = _arrival(s.latest, seen_in, within_us, reach_us)
            i = done_look(ordered, times, arrived + reach_us, span_us)
            end = len(ordered) if i is None else i
            waiting = _not_yet(ordered, end, s.earliest - reach_us, earliest)
            if waiting is not None:
                earliest = max(earliest, waiting)
            if i is not None:
                done = ordered[i].synced_us
                latest = done if earliest > latest else min(latest, done)
            latest = max(latest, earliest)
        if out and earliest < out[-1].latest:
            earliest = out[-1].latest
            latest = max(latest, earliest)
        out.append(Step(earliest, latest, s.value, s.event_id))
    return out
