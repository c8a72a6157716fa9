"""What a refused NodePort look may mean on a node whose kube-proxy mode, or whose IPVS
behaviour, nothing states: the readings its own looks allow. Pure.

A node with no local endpoint of an `externalTrafficPolicy: Local` Service answers external
traffic by its mode (DESIGN.md section 6; replay.proxymode has the upstream lines):

- iptables and nftables DROP it (pkg/proxy/iptables/proxier.go `externalTrafficFilterTarget =
  "DROP"`, "... has no local endpoints"): a timeout;
- IPVS since kubernetes#97081 (pkg/proxy/ipvs/proxier.go, syncEndpoint) takes the cluster's
  endpoints and the replies are discarded: a timeout as well;
- IPVS before it leaves the virtual server without a real server: refused.

So a refused look is rules that forward to a local pod that is gone (detect's
`pod-gone-before-deregistered`) in the first two, and may be no local endpoint at all in the
third. Which release first carried #97081 is not pinned (replay.proxymode), so neither the
node's version nor its /configz `Mode: ipvs` says which IPVS it runs; /configz and
`proxy_mode` say only which mode.

What decides, from the node's own NodePort looks: a look taken where kube-proxy surely had no
local endpoint to forward to, and the Service surely had a usable one elsewhere (so no REJECT:
replay.rejected). kube-proxy programs a change within its lag bound of the listing (replay.proxy
`proxy_lag_hi`: measured from the probes, else 2 x the sync period the nodes' /configz stated,
else `proxy_lag_max_s`), which the recorder stores no earlier than it was written and at most
`watch_skew_s` after, so "surely" is: from that bound after the node's endpoints lane began
listing none (before the node's
first sample no slice named it: none since the Service's first listing) to `watch_skew_s`
before it listed one again. There

- a refused look, unless the node's health check then refused or timed out (kube-proxy
  maybe not running, its rules maybe not there), is IPVS before #97081 (`NO_LOCAL_REFUSED`):
  iptables, nftables and IPVS with #97081 would have timed out;
- a timed-out look while the node's health check answered (kube-proxy alive and the node up:
  a timeout is then the mode's answer, not a dead node) is not (`NO_LOCAL_DROPPED`).

A lane stores a look when its answer changed, so a sample stands for every look until the last
one that gave it (the next sample's `prev_us`; for the newest, the lane's last look): a run of
one answer. A run shows the shape where it reaches into such a stretch at its first or last
look, or overlaps it by at least the prober's period (the longest step from a sample's
`prev_us` to it), so that some look of the run surely fell inside. Where the looks show both
shapes (a restart with another configuration) or neither, the mode is not decided and every
reading stands (`refusal_readings`).

Under IPVS before #97081 a refusal is still rules that forward to a local pod that is gone
where kube-proxy surely had that pod's endpoint programmed when it refused (the virtual server
had its real server: `refused_as_rules`).

Where nothing decides the mode, one look can still order the readings: a refusal while every
local pod kube-proxy could forward to was alive is no dead pod's rules (replay.liverefusal),
so `look_readings` reads IPVS before #97081 first there, the rules named (session 39).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.context import nodes_of
from gapwatch.replay.fold import AT_US, FoldState, Sample
from gapwatch.replay.liverefusal import dead_in_rules_possible
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import REFUSED, gate_stated, proxy_lag_hi, pte_stated
from gapwatch.replay.proxymode import REFUSED_IS_RULES, stated_mode
from gapwatch.replay.rejected import refused_look_us, rejected_possible
from gapwatch.replay.signals import HI, value_at

#: a look refused where the node surely had no local endpoint: IPVS before kubernetes#97081
NO_LOCAL_REFUSED = "refused"
#: a look timed out there while kube-proxy answered its health check: DROP, or IPVS with #97081
NO_LOCAL_DROPPED = "timeout"
#: health-check answers that say kube-proxy and the node were up (kube-proxy's own HTTP codes)
_ANSWERED = ("200", "503")


def _none_stretches(eps: Sequence[Sample], listed_us: int) -> list[tuple[int, int]]:
    """The stretches [from, until) the node listed no local endpoint (`until` HI for the last):
    before its first sample no slice of the Service named it (the fold starts its lane there),
    so none from the Service's first listing, `listed_us`."""
    out: list[tuple[int, int]] = []
    if not eps or eps[0].at_us > listed_us:
        out.append((listed_us, eps[0].at_us if eps else HI))
    for i, sample in enumerate(eps):
        if sample.value == "none" and (i == 0 or eps[i - 1].value != "none"):
            j = next((k for k in range(i + 1, len(eps)) if eps[k].value != "none"), None)
            out.append((sample.at_us, HI if j is None else eps[j].at_us))
    return out


def no_local_answers(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings
) -> frozenset[str]:
    """What `node`'s NodePort looks for `svc` answered where kube-proxy surely had no local
    endpoint and the Service surely had a usable one elsewhere (module docstring):
    `NO_LOCAL_REFUSED`, `NO_LOCAL_DROPPED`, both or neither."""
    looks = state.probes["nodeport"].get((svc, node), [])
    lanes = [lane for n in nodes_of(state, svc) if (lane := state.endpoints.get((svc, n)))]
    if not looks or not lanes:
        return frozenset()
    listed = min(lane[0].at_us for lane in lanes)  # before the first listing nothing is known
    stretches = _none_stretches(state.endpoints.get((svc, node), []), listed)
    health = state.probes["health"].get((svc, node), [])
    lag, skew = proxy_lag_hi(state, svc, settings), seconds_us(settings.watch_skew_s)
    # the prober's period: a sample's look after the last look that gave the old answer
    period = max((s.at_us - s.prev_us for s in looks if s.prev_us is not None), default=None)
    # the last look that gave the lane's newest answer (a lane stores changes only)
    newest = state.seen.get(("nodeport", svc.cluster, svc.namespace, svc.name, node))
    found: set[str] = set()
    for i, look in enumerate(looks):
        refused = look.value in REFUSED
        shape = NO_LOCAL_REFUSED if refused else NO_LOCAL_DROPPED
        if (not refused and look.value != "timeout") or shape in found:
            continue
        last = looks[i + 1].prev_us if i + 1 < len(looks) else newest
        first, last = look.at_us, max(look.at_us, last or look.at_us)
        for since, until in stretches:
            # kube-proxy surely programmed the stretch's "none" from `since` + lag until the
            # next listing, which it may have read up to the watch skew before it was stored
            lo, hi = max(first, since + lag), min(last, until - skew)
            if lo > hi or not (lo == first or hi == last or (period and hi - lo >= period)):
                continue  # no look of the run surely fell inside
            if any(
                value_at(health, t) not in _ANSWERED and (not refused or value_at(health, t))
                for t in (lo, hi)
            ):
                continue  # kube-proxy's health port silent or refusing: maybe not running
            if rejected_possible(state, svc, node, (lo, hi), settings):
                continue
            found.add(shape)
            break
        if len(found) == 2:
            break
    return frozenset(found)


def refusal_readings(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings
) -> tuple[bool, ...]:
    """What a refused NodePort look at `node` may be, the reading detection names first:
    True, rules that forward to a local pod that is gone; False, maybe no local endpoint (IPVS
    before kubernetes#97081). One reading where the node's mode and looks decide it, else both
    (module docstring): iptables first where nothing states the mode (kube-proxy's default on
    Linux), not-rules first where /configz or `proxy_mode` states IPVS (replay.proxymode)."""
    mode = stated_mode(state, svc.cluster, node) or settings.proxy_mode
    if mode is not None and mode != "ipvs":
        return (mode in REFUSED_IS_RULES,)  # iptables, nftables: rules; another mode: unread
    shapes = no_local_answers(state, svc, node, settings)
    if shapes == {NO_LOCAL_REFUSED}:
        return (False,)
    if shapes == {NO_LOCAL_DROPPED}:
        return (True,)  # iptables, nftables or IPVS with #97081: a refusal is the rules
    return (False, True) if mode == "ipvs" else (True, False)


def look_readings(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    read: tuple[tuple[Sequence[Sample], Sequence[int]], int],
    settings: DetectSettings,
) -> tuple[bool, ...]:
    """`refusal_readings` for the refused look a window starting by `at_us` reads (`read`, as
    `refused_as_rules` takes it): where nothing decides the node's mode and iptables is read
    first, the not-rules reading comes first where no local pod kube-proxy could forward to
    was dead at that look (replay.liverefusal); the rules reading stays named."""
    readings = refusal_readings(state, svc, node, settings)
    if readings != (True, False):
        return readings
    look = refused_look_us(*read[0], read[1])
    if look is None or dead_in_rules_possible(state, svc, node, look, settings):
        return readings
    return (False, True)


def refused_as_rules(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    read: tuple[tuple[Sequence[Sample], Sequence[int]], int],
    settings: DetectSettings,
    reading: bool | None = None,
) -> bool:
    """The refused look a window starting by `at_us` reads its reason from (`read`: the
    not-serving looks and their times, and `at_us`) is rules that forward to a local pod that
    is gone, under `reading` (None: the look's first, `look_readings`). Under IPVS before
    kubernetes#97081 too where kube-proxy surely had a local endpoint programmed when it
    refused: the node's endpoints listed a usable one (ready; serving-terminating where the
    gate is stated on) from kube-proxy's lag bound (`proxy_lag_hi`) before the look to the
    watch skew after `at_us` (the look stands for the unstored repeats up to it), so the
    virtual server had its real server."""
    if reading is None:
        reading = look_readings(state, svc, node, read, settings)[0]
    if reading:
        return True
    looks, at_us = read
    look = refused_look_us(*looks, at_us)
    if look is None:
        return False
    # serving-terminating counts where the gate is stated on (1.28+, configured, /configz or
    # metrics): the probes' evidence of it (replay.proxy `_lane_evidence`) reads a timeout as
    # the gate off, which a node refusing instead never shows
    stated = pte_stated(state, svc.cluster, node, settings) or gate_stated(state, svc.cluster, node)
    usable = ("ready", "serving-terminating") if stated else ("ready",)
    eps = state.endpoints.get((svc, node), [])
    lo = look - proxy_lag_hi(state, svc, settings)
    hi = max(look, at_us) + seconds_us(settings.watch_skew_s)
    k = bisect_right(eps, lo, key=AT_US) - 1
    if k < 0:
        return False
    return all(s.value in usable for s in eps[k:] if s.at_us < hi)
