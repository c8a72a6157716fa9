"""The simulated kube-proxy's rules syncs as a real kube-proxy would report them: when each began,
from when it ended and which changes it applied. Pure.

The simulator programs each endpoints change its own drawn lag after it, with the endpoints as
they were at that change (recorder.sim.kubeproxy); it does not run syncs. Its `/metrics` must
still read like a real kube-proxy's, whose facts are these (kubernetes/kubernetes:
pkg/proxy/iptables/proxier.go and pkg/proxy/nftables/proxier.go, `syncProxyRules` and the
`OnEndpointSlice*` handlers; pkg/util/async/bounded_frequency_runner.go at 2d58ef78,
`NewBoundedFrequencyRunner`'s comment and `tryRun`):

- every endpoints change kube-proxy's informer hands it calls `QueuedUpdate()` and sets
  `kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds` to now (OnEndpointSliceAdd /
  Update / Delete -> `proxier.Sync()`), then asks the sync runner for a run;
- the sync runner (`async.BoundedFrequencyRunner`, built with minSyncPeriod and syncPeriod)
  runs `syncProxyRules` one call at a time ("multiple runs are serialized": `tryRun` holds
  the runner's mutex while it calls the function, and `syncProxyRules` holds `proxier.mu`
  for the whole sync), with at least minSyncPeriod from one's completion to the next start
  (modulo bursts); a Run() while a sync runs is coalesced into the next one;
- `syncProxyRules` takes every pending change at its start (`proxier.endpointsMap.Update(
  proxier.endpointsChanges)`), writes the rules, then sets
  `kubeproxy_sync_proxy_rules_last_timestamp_seconds` to now and, in a deferred call, observes
  the time since its start in `kubeproxy_sync_proxy_rules_duration_seconds` (whose `_count`
  and `_sum` every page prints).

So a sync that ended at `S` and began at `B` applied every change queued before `B` and none
queued after it, began after the previous sync ended, and added `S - B` to `_sum`. Each
simulated programming is read as such a sync: it began as early as the runner could start it,
at the later of the last change it applied and the end of the previous sync of the process
(queued-but-not-started time before that, which the page shows as last_queued > last sync),
and ran until the programming. The simulator has no minSyncPeriod (its lag draws stand for the
whole wait), so none is added.

A programming that no sequence of syncs explains (its view lacks a change queued before the
previous sync of the process ended: that sync's successor began after the change and would have
read it) is reported as beginning just before that change, so that its duration still says
which changes it applied; it then overlaps the previous sync, which a real kube-proxy never
does (docs/semantics.md, "The simulator's kube-proxy syncs as a real kube-proxy reports them").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Sync(NamedTuple):
    """One rules sync: when it began and ended (the run's us), how many changes it applied."""

    began_us: int
    ended_us: int
    applied: int

    @property
    def duration_us(self) -> int:
        return self.ended_us - self.began_us


def syncs(
    queued_us: Sequence[int],
    ended_us: Sequence[int],
    applied: Sequence[int],
    started_us: int,
    free_us: int | None = None,
) -> list[Sync]:
    """The syncs of one kube-proxy process (module docstring): `ended_us` when its programmings
    happened, `applied[k]` how many of the node's changes `queued_us` (in order) the k-th
    applied, `started_us` when the process started; `free_us` when its previous sync ended
    (to go on from syncs already read; None: these are its first)."""
    out: list[Sync] = []
    free = started_us if free_us is None else free_us
    for end, n in zip(ended_us, applied, strict=True):
        began = max(free, queued_us[n - 1] if n else started_us)
        if n < len(queued_us) and queued_us[n] <= began:
            began = queued_us[n] - 1  # no sync explains it: it began before the change it lacks
        began = min(max(began, started_us), end)
        out.append(Sync(began, end, n))
        free = max(free, end)
    return out


def infeasible(found: Sequence[Sync], started_us: int) -> list[Sync]:
    """The syncs of `found` that began before the previous one ended (module docstring: no
    sequence of syncs explains their programming)."""
    out = []
    free = started_us
    for s in found:
        if s.began_us < free:
            out.append(s)
        free = max(free, s.ended_us)
    return out
