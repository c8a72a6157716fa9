"""Which EndpointSlice versions kube-proxy can hold at each health-check look, read in order.

kube-proxy answers on a Service's healthCheckNodePort with the number of ready local endpoints
of the version it last synced (`localEndpoints`, pushed after each rules sync: DESIGN.md
section 6, kube-proxy `pkg/proxy/healthcheck/service_health.go`), and it never goes back to an
older version: its EndpointSlice informer (client-go's reflector: list, then one watch that
delivers a resource's changes in the order they were written) hands kube-proxy's
EndpointSliceCache each slice's versions in order, a sync programs the cache's newest, and a
restart lists the newest. So at a look the version it holds is one whose ready local count
equals the answer's count, written no later than the look plus the watch skew (it may read a
version before the recorder does), no older than the newest written its lag bound before the
look, and no older than the oldest an earlier look admitted (`held_at`). Where none fits (a
slice that did not name its ready pods, an assumption exceeded) nothing is claimed and the
order is read again from there.

A local pod is then not forwarded to where every version kube-proxy can hold lists it not ready
beside a ready one (`not_forwarded`): kube-proxy forwards to a terminating endpoint only where it
programmed no ready one (KEP-1669). Surely from such a look until kube-proxy can hold the first
later version that lists the pod ready or none ready (its lane time less the watch skew, or
the last look before that can have held it); possibly until a look shows kube-proxy at that
version or later, or its lag bound has passed. Read by replay.podsup for a terminating pod.
Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import NamedTuple

from gapwatch.replay.fold import Sample
from gapwatch.replay.signals import HI, Iv, union

#: the node's ready local pods at each version that changed them (FoldState.ready_sets)
Versions = Sequence[tuple[int, frozenset[str] | None]]

#: the answers that carry a count of programmed ready local endpoints
_COUNTING = ("200", "503")


class Held(NamedTuple):
    """At the look `at_us`, kube-proxy holds one of the versions `first`..`last` (indexes into
    the node's versions) whose ready local count is `num`."""

    at_us: int
    num: int
    first: int
    last: int


def _looks(health: Sequence[Sample]) -> list[tuple[int, int]]:
    """(look time, count) for the first and the last look of each run of counting answers (the
    lane keeps changes only: a run's last look is the next sample's `prev_us`)."""
    out: list[tuple[int, int]] = []
    for i, h in enumerate(health):
        if h.value not in _COUNTING or h.num is None:
            continue
        out.append((h.at_us, h.num))
        last = health[i + 1].prev_us if i + 1 < len(health) else None
        if last is not None and last > h.at_us:
            out.append((last, h.num))
    return out


def _fits(pods: frozenset[str] | None, n: int) -> bool:
    return pods is None or len(pods) == n


def held_at(health: Sequence[Sample], versions: Versions, lag_us: int, skew_us: int) -> list[Held]:
    """The versions kube-proxy can hold at each counting look (module docstring), in look
    order; a look none fits is left out and drops the order read before it."""
    at = [t for t, _p in versions]
    out: list[Held] = []
    floor = 0
    for look, n in _looks(health):
        last = bisect_right(at, look + skew_us) - 1
        first = max(floor, bisect_right(at, look - lag_us - skew_us) - 1, 0)
        fits = [k for k in range(first, last + 1) if _fits(versions[k][1], n)]
        if not fits:
            floor = 0
            continue
        floor = fits[0]
        out.append(Held(look, n, fits[0], fits[-1]))
    return out


def not_forwarded(
    held: Sequence[Held], versions: Versions, pod: str, lag_us: int, skew_us: int
) -> tuple[list[Iv], list[Iv]]:
    """Where `pod`'s endpoint surely, and where possibly, takes no traffic on the node because
    kube-proxy holds a version that lists it not ready beside a ready one (module docstring)."""

    def good(k: int) -> bool:
        pods = versions[k][1]
        return pods is not None and bool(pods) and pod not in pods

    surely: list[Iv] = []
    possibly: list[Iv] = []
    for i, h in enumerate(held):
        if not all(good(k) for k in range(h.first, h.last + 1)):
            continue
        bad = next((k for k in range(h.last + 1, len(versions)) if not good(k)), None)
        if bad is None:
            surely.append(Iv(h.at_us, HI))
            continue
        # every later look before kube-proxy can hold `bad` shows it on a version before it
        end = max(h.at_us, versions[bad][0] - skew_us)
        for x in held[i + 1 :]:
            if x.last >= bad:
                break
            end = max(end, x.at_us)
        surely.append(Iv(h.at_us, end))
        past = versions[bad][0] + lag_us + skew_us
        seen = next((x.at_us for x in held[i + 1 :] if x.first >= bad), HI)
        possibly.append(Iv(h.at_us, max(h.at_us, min(past, seen))))
    return union([v for v in surely if v.end > v.start], []), union(
        [v for v in possibly if v.end > v.start], []
    )
