"""A refused NodePort look that kube-proxy's REJECT may explain: the Service had no usable
endpoint anywhere. Pure.

Where CategorizeEndpoints (pkg/proxy/topology.go) finds no usable endpoint in the whole
Service (`hasAnyEndpoints` false: none ready, none serving-terminating), the iptables proxier
(pkg/proxy/iptables/proxier.go, nftables alike) REJECTs its traffic on every node
(`externalTrafficFilterTarget = "REJECT"`, `"... has no endpoints"`), and an IPVS virtual
service without a real server is answered with ICMP port unreachable (Linux
net/netfilter/ipvs/ip_vs_core.c, `ip_vs_leave`): a NodePort look is refused either way, with no
rules that forward to a local pod at all. detect reads a refused look as those rules
(`pod-gone-before-deregistered`) only where this cannot be.

kube-proxy programs the REJECT at its sync after the listing lost the last usable endpoint
and lifts it at its sync after one is listed again, each within kube-proxy's lag bound of the
change (replay.proxy `proxy_lag_hi`: measured from the probes, else 2 x the sync period the
nodes' /configz stated, else `proxy_lag_max_s`); the recorder stores a listing up to
`watch_skew_s` after it was written. A lane
stores a look when its answer changed, so a refused look stands for every look until the
window's start (`until_us`) that the prober did not store. So the refusal read at `until_us`
from a look at `look_us` may be a REJECT where, at some instant in
[look_us - that bound, until_us + watch_skew_s], no node of the Service listed a ready
endpoint, nor a serving-terminating one unless the node's kube-proxy surely runs with
ProxyTerminatingEndpoints (which a kube-proxy before 1.28 without the gate does not read:
KEP-1669).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.context import nodes_of
from gapwatch.replay.fold import AT_US, FoldState, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import proxy_lag_hi, pte_sure
from gapwatch.replay.signals import value_at

#: the values of a NodePort or health look that say the node served
_SERVED = ("connected", "200")


def refused_look_us(samples: Sequence[Sample], times: Sequence[int], at_us: int) -> int | None:
    """When the not-serving look detect reads a window's reason from was taken: the last at or
    before `at_us`, else the first after it (detect `_false_reason`'s sample)."""
    i = min(bisect_right(times, at_us), len(samples))
    before = (j for j in range(i - 1, -1, -1) if samples[j].value not in _SERVED)
    after = (j for j in range(i, len(samples)) if samples[j].value not in _SERVED)
    j = next(before, None)
    j = next(after, None) if j is None else j
    return None if j is None else samples[j].at_us


def rejected_possible(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    look: tuple[int, int],
    settings: DetectSettings,
) -> bool:
    """The Service may have had no usable endpoint anywhere for kube-proxy on `node` while it
    refused from the look at `look[0]` through `look[1]`: a refusal there may be its REJECT
    (module docstring)."""
    lo = look[0] - proxy_lag_hi(state, svc, settings)
    hi = max(look) + seconds_us(settings.watch_skew_s)
    usable = ("ready", "serving-terminating") if pte_sure(state, svc.cluster, node, settings) \
        else ("ready",)  # fmt: skip
    lanes = [lane for n in nodes_of(state, svc) if (lane := state.endpoints.get((svc, n)))]
    if not lanes:
        return False
    listed = min(lane[0].at_us for lane in lanes)  # before the first listing nothing is known
    instants = {max(lo, listed)}
    for lane in lanes:
        first, last = bisect_left(lane, lo, key=AT_US), bisect_left(lane, hi, key=AT_US)
        instants.update(s.at_us for s in lane[first:last])
    return any(
        not any(value_at(lane, t) in usable for lane in lanes) for t in sorted(instants) if t < hi
    )
