"""A local pod's death under kube-proxy's rules, shown by the health check's own count.

kube-proxy answers on a Service's healthCheckNodePort with the number of ready local endpoints
its last rules sync programmed (`localEndpoints`): the proxier hands that count to its health
server after writing the rules of the same sync (DESIGN.md section 6; docs/semantics.md, "Without
NodePort probes"). A ready endpoint is forwarded to whatever ProxyTerminatingEndpoints says
(the gate only adds terminating ones when no ready one is left). So a look that counted a local
pod's endpoint after that pod had surely died shows kube-proxy still forwarding to it when it
died: the gap opened with kube-proxy's rules in place, `pod-gone-before-deregistered`, decided,
where a NodePort probe would have seen it as `refused`. The count is a dead pod's where it
exceeds the number of other local pods whose endpoint can have been counted then while they
were still up (one that came up before the look, within the watch skew, had not stopped more
than kube-proxy's largest lag before the run of answers began, and may not yet have died at
the look): kube-proxy's count grows only with an endpoint newly ready, so its rules held a
dead pod from that death to the look. The looks read are the run's last and its first after
the death's latest instant: the prober looks on a fixed period and stores a look only when
its answer changed (docs/kubeproxy.md), so the run was seen no more than the largest gap
between two looks the lane names (replay.proxy.probe_period) after that instant, and a
replacement that turned ready later cannot be the one counted there (random 33,000,072
node-003 without NodePort probes: kube-proxy, slow, counting one endpoint 10 s past the old
pod's death, the replacement ready 2.5 s after the death; docs/semantics.md, "Classes without
the NodePort probes, the twentieth spent set"). Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.deaths import death_span, local_runs
from gapwatch.replay.fold import FoldState, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.signals import HI

#: the answers that carry a count of programmed ready local endpoints
_COUNTING = ("200", "503")


def counted_dead(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    health: Sequence[Sample],
    start: tuple[int, int],
    *,
    clock_us: int,
    status_us: int,
    skew_us: int,
    lag_hi_us: int,
    period_us: int | None = None,
) -> bool:
    """A local pod that may have died in the start range `start` (lo, hi) was still counted
    by the node's health check (`health`, time-ordered) at a look at or after its death's
    latest instant (replay.deaths.death_span): kube-proxy forwarded to it when it died.
    `period_us`: the largest gap between two looks the lane names (replay.proxy.probe_period):
    the prober stores a look only when its answer changed, so a run was seen at a look no more
    than that after any of its instants, and the count is read at the first look after the
    death as well as at the run's last look (None: at the last look only)."""
    if not health:
        return False
    since_us, at_us = start
    every = local_runs(state, svc, node)
    died = {
        id(r): death_span(r.up_written_us, r.down_us, r.finished_us, clock_us, status_us)
        for r in every
        if r.down_us != HI
    }
    times = [h.at_us for h in health]
    for run in every:
        if id(run) not in died:
            continue
        lo, hi = died[id(run)]
        if lo > at_us or hi < since_us:
            continue  # not a death that may have opened the window
        last = _counted_through(health, times, hi)
        if last is None:
            continue
        began, n, seen = last
        looks = [(seen, seen)]
        if period_us is not None:
            # and the run's first look at or after the death's latest instant, somewhere in
            # [from, by]: a pod ready by its end may be counted, one dead by its start not
            by = min(seen, max(began, hi + period_us))
            looks.append((min(by, max(began, hi)), by))
        # the other local pods whose endpoint a look may have counted while they were up
        for since, by in looks:
            alive = sum(
                1
                for r in every
                if r is not run
                and r.ready_us is not None
                and r.ready_us - skew_us <= by
                and r.down_us > began - lag_hi_us
                and (id(r) not in died or died[id(r)][1] > since)
            )
            if n > alive:
                return True
    return False


def _counted_through(
    health: Sequence[Sample], times: list[int], at_us: int
) -> tuple[int, int, int] | None:
    """The run of answers in effect at `at_us` when it counted ready local endpoints and a look
    of it at or after `at_us` saw the same answer: (its first look, its count, that last look).
    The lane keeps changes only: a run's last look is the next sample's `prev_us`."""
    k = bisect_right(times, at_us) - 1
    if k < 0 or k + 1 >= len(health):
        return None
    run, after = health[k], health[k + 1]
    if run.value not in _COUNTING or not run.num:
        return None
    last = after.prev_us
    if last is None or last < at_us:
        return None
    return run.at_us, run.num, last
