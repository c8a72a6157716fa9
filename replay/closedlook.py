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

from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import FoldState, Sample
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
