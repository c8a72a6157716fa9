"""ProxyTerminatingEndpoints on a node no probe looked at, where only its kube-proxy version's
default says it was on (docs/semantics.md, "Without any probes: the misses (session 39, branch
s39-noprobemiss)").

From 1.26 to 1.27 the gate is beta and on by default (KEP-1669; DESIGN.md section 6), and can
be turned off (`--feature-gates=ProxyTerminatingEndpoints=false`); from 1.28 it is GA and
always on. With the gate on, kube-proxy forwards to serving-terminating local endpoints where
no ready one is left; with it off, to ready ones only, so a node whose last ready pod begins
terminating is closed at the sync that applies that change, the pod still serving
(`closed-before-deregistered`). The health check answers 503 either way (it never counts
terminating endpoints); a NodePort probe shows which reading held, and without any look
nothing does. F stays the default's reading (replay.lanes `_inferred_serves`); where the
gate-off reading may have closed while the default's surely forwarded, a window found
without that reading may have opened earlier (replay.detect `opened_earlier`, as an unseen
gap's earlier start), and kube-proxy's close is named. It makes no window of its own: a
possible window at every such rollout would stand on the unlikelier reading alone.
Pure.
"""

from __future__ import annotations

from gapwatch.replay.signals import Iv, Tri, complement, intersect


def gate_doubt(on: Tri, off: Tri) -> list[Iv]:
    """Where F under the gate on (`on`: serving-terminating endpoints forwarded) is surely true
    and F under it off (`off`: ready endpoints only) may not be: where kube-proxy may have
    closed had the gate been turned off."""
    return intersect(on.definite, complement(off.definite))
