"""A dead pod's endpoint kube-proxy may still have forwarded to when the LB began routing.

With ProxyTerminatingEndpoints (KEP-1669) kube-proxy keeps forwarding to a node's
serving-terminating endpoints while it knows no ready one, and removes one only when it syncs
the EndpointSlice change that drops it, some lag after that change. The health check answers
503 over such endpoints either way (it counts ready ones only), so without a NodePort probe
nothing shows when kube-proxy removed them. A window the LB's rise opened while the node's
endpoints had gone from serving-terminating to none (or straight to a replacement's ready
endpoint) less than kube-proxy's lag bound before, the pods behind them dead by then, may have
met kube-proxy's rules still in place with no pod behind them (`pod-gone-before-deregistered`)
as well as no rules at all (`closed-before-deregistered`) or a replacement listed and not yet
programmed (`registered-before-forwarding`): nothing orders the rise against kube-proxy's
sync. Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.fold import AT_US, Sample


def dead_left_listed(
    eps: Sequence[Sample],
    spans: Sequence[tuple[int, int]],
    at_us: int,
    *,
    lag_hi_us: int,
    skew_us: int,
) -> bool:
    """The node's endpoints lane (time-ordered) last went from serving-terminating to none, or
    straight to a ready endpoint (the replacement listed in the same write), at an instant in
    (`at_us` - `lag_hi_us`, `at_us` + `skew_us`] (the change may be seen up to the watch skew
    late), not serving-terminating again through `at_us`, and a local pod that may have died
    (`spans`: when each local pod may have died, replay.deaths.death_span) while they were
    serving-terminating had surely died by `at_us`: kube-proxy, if it forwarded to
    serving-terminating endpoints, may not yet have removed that dead pod's at `at_us`, whatever
    the slice listed after (a replacement listed ready is forwarded to only once synced too)."""
    k = bisect_right(eps, at_us + skew_us, key=AT_US) - 1
    while k >= 1 and eps[k].value != "serving-terminating":
        if eps[k - 1].value == "serving-terminating" and eps[k].value in ("none", "ready"):
            break
        k -= 1
    if k < 1 or eps[k].value == "serving-terminating":
        return False
    dropped, since = eps[k].at_us, eps[k - 1].at_us
    if dropped <= at_us - lag_hi_us:
        return False
    return any(hi <= at_us and lo <= dropped and hi > since - skew_us for lo, hi in spans)


def dead_left_unsynced(
    health: Sequence[Sample], spans: Sequence[tuple[int, int]], at_us: int, *, lag_hi_us: int
) -> bool:
    """The health check's answer in effect at `at_us` (`health`: the node's lane, time-ordered)
    was a 503 counting no ready local endpoint, while a local pod that was terminating
    (`spans`: when each such pod may have died) had surely died by `at_us`, less than
    kube-proxy's lag bound before it: kube-proxy then knew no ready endpoint (a replacement the
    slice listed was not programmed yet), so with ProxyTerminatingEndpoints it forwarded to the
    serving-terminating ones it had, the dead pod's among them until it synced that pod's
    removal, which follows the death."""
    k = bisect_right(health, at_us, key=AT_US) - 1
    if k < 0 or health[k].value != "503" or health[k].num != 0:
        return False
    return any(at_us - lag_hi_us < hi <= at_us for _, hi in spans)
