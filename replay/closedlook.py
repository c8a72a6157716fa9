"""The looks of the health check that saw kube-proxy closed, for placing an unproven window.

kube-proxy answers on a Service's healthCheckNodePort 503 counting no ready local endpoint only
after a rules sync that left the node none: the proxier hands its count to the health server
after writing the rules of the same sync (DESIGN.md section 6). With ProxyTerminatingEndpoints
off kube-proxy forwards to ready endpoints only (KEP-1669), so such an answer is a look that saw
the node forwarding nothing: F false at that instant. F's Tri cannot hold an instant (the look
before and the look after answered 200, so F may have fallen just before it and risen just
after), and an unproven window was read at the end of F's possibly-true stretch, the next 200;
a gap that holds the look had opened by it, so the latest instant F can have fallen in the
stretch is that look (replay.detect._unproven_start). Read where F comes from the health check
alone (no NodePort lane for the Service and node) and the gate reads off as replay.lanes reads
it (`pte_enabled`: stated off, or 1.22-1.25 by the version's default; the caller names the
reading without the look where the gate may be on: `gate_open`). A 503 that still counts local
endpoints is kube-proxy behind (serviceProxyHealthy false, 1.27+), not a close: not read.
Random 34,000,582 node-002 without NodePort probes (kube-proxy 1.25, the gate off): the old pod
terminating at +2 s, the 503 at +5 s, the replacement listed at +6 s, the old pod dead at +7 s,
the 200 at +10 s; read at +10 s the death was named the cause, read at +5 s the close is
(docs/semantics.md, "Classes without the NodePort probes, the twenty-first spent set"). Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import AT_US, FoldState, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import pte_enabled, pte_possible


def closed_looks(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    health: Sequence[Sample],
    settings: DetectSettings,
) -> list[int]:
    """The instants, in order, of the health looks of (`svc`, `node`) that saw kube-proxy
    forwarding nothing (a 503 counting no ready local endpoint under the gate read off); none
    where a NodePort lane gives F or the gate reads on."""
    if not health or state.probes["nodeport"].get((svc, node)):
        return []
    if pte_enabled(state, svc.cluster, node, settings):
        return []
    return [h.at_us for h in health if h.value == "503" and not h.num]


def gate_open(state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings) -> bool:
    """The gate reads off by the version's default alone (1.22-1.25, nothing states it): had
    it been turned on, kube-proxy forwarded to the serving-terminating pod past the 503, which
    then saw no close (the reading without the look stays possible)."""
    return pte_possible(state, svc.cluster, node, settings)


def death_past_close(
    state: FoldState,
    where: tuple[ServiceRef, str],
    lanes: tuple[Sequence[Sample], Sequence[Sample]],
    spans: Sequence[tuple[int, int]],
    read: tuple[int, int, int],
    settings: DetectSettings,
) -> bool:
    """A window read as kube-proxy's close at `read`'s first instant (the class instant) from
    a health check that answered 503, where F comes from the health check alone (no NodePort
    lane for the Service and node, `where`) and the gate reads off by the version's default
    alone (1.22-1.25, nothing states it: `gate_open`): had the gate been turned on, kube-proxy
    forwarded to the serving-terminating local pod past the 503 (a terminating endpoint is never
    counted, whatever the gate) until the EndpointSlice stopped listing it serving, and the gap
    opened with that pod's death if it came first. True where the endpoints (`lanes`' first)
    listed a serving-terminating endpoint and no ready one at the class instant (seen up to the
    watch skew, `read`'s second, late: the 503 follows the sync of that change), and a local
    pod may have died (`spans`: replay.deaths.death_span) after it, before the window's latest
    end (`read`'s last) and before that listing ended (seen up to the watch skew late): that
    reading is `pod-gone-before-deregistered`. Random 35,000,278 node-004
    without NodePort probes (kube-proxy 1.24, the gate drawn on): the 503 at +0.5 s, the pod
    listed serving-terminating from +0.65 s to +6.31 s and dead in [+4, +6.1] s, the LB routing
    to +143 s; read `closed-before-deregistered` naming nothing, the truth the death at +5.9 s
    (docs/semantics.md, "Classes without the NodePort probes, the twenty-second spent set")."""
    svc, node = where
    eps, health = lanes
    at_us, skew_us, end_us = read
    if not health or state.probes["nodeport"].get((svc, node)):
        return False
    if pte_enabled(state, svc.cluster, node, settings) or not gate_open(state, svc, node, settings):
        return False
    i = bisect_right(eps, at_us + skew_us, key=AT_US)
    if not i or eps[i - 1].value != "serving-terminating":
        return False
    while i < len(eps) and eps[i].value == "serving-terminating":
        i += 1
    listed_until = eps[i].at_us + skew_us if i < len(eps) else end_us
    return any(hi > at_us and lo < min(end_us, listed_until) for lo, hi in spans)
