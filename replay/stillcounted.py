"""How long kube-proxy may still have forwarded to a dead pod's ready endpoint, from the health
check's count.

kube-proxy's health check node port answers with the count of the ready local endpoints of the
EndpointSlice version it last synced (`localEndpoints`, handed to the health server after each
sync: DESIGN.md section 6). With ProxyTerminatingEndpoints, kube-proxy forwards to the
serving-terminating local endpoints only where it holds no ready one (KEP-1669). So where the
last local pod listed ready dies, no other local pod being ready, and the health check still
answers 200 counting ready endpoints, those counted are the dead pod's: kube-proxy still
forwards to it, not to a live terminating pod, until it programs the version without it. A
sync pushes the counts after it wrote the rules, so the look whose count fell (a 503, or a
lower count) is the latest the rules can have changed by; the look before it is no bound (the
rules may have changed before the counts did). Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.fold import PodSample, Sample


def counted_until(health: Sequence[Sample], death_us: int) -> int | None:
    """The first health-check look after `death_us` (a pod's death's latest instant) whose
    answer no longer counted what the look in effect then counted (a non-200, or a lower count
    of ready local endpoints), where that look answered 200 counting one or more; None where
    it did not, or no later look changed."""
    times = [h.at_us for h in health]
    i = bisect_right(times, death_us) - 1
    if i < 0 or health[i].value != "200" or not health[i].num:
        return None
    counted = health[i].num or 0
    for h in health[i + 1 :]:
        if h.value != "200" or (h.num is not None and h.num < counted):
            return h.at_us
    return None


def ready_between(
    lanes: Sequence[Sequence[PodSample]], lo_us: int, hi_us: int, skew_us: int
) -> bool:
    """Whether any of the pods (`lanes`: their Pod lanes) was possibly ready in (lo_us, hi_us):
    from an update that says ready (up to the watch skew `skew_us` earlier: the update may be
    seen late) to the next update that says otherwise."""
    for lane in lanes:
        for i, p in enumerate(lane):
            if p.state != "ready":
                continue
            until = next((q.at_us for q in lane[i + 1 :] if q.state != "ready"), None)
            if p.at_us - skew_us < hi_us and (until is None or until > lo_us):
                return True
    return False
