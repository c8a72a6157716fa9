"""A refused NodePort look while every local pod kube-proxy could forward to was alive: not a
dead pod's rules. Pure.

What refuses a connection to a node's NodePort (the design notes, section 6; replay.modeshape
and replay.rejected have the upstream lines): rules that forward to a local pod that is gone
(the packets reach no socket), kube-proxy's REJECT of a Service with no usable endpoint
anywhere, or an IPVS kube-proxy before kubernetes#97081 with no local endpoint programmed.
Where nothing states the node's mode, detect reads a refusal as the first of these, under
iptables (kube-proxy's default on Linux), and names the last beside it
(replay.modeshape `refusal_readings`). The first needs a pod that was dead at the look and
still in the rules; this module asks whether the log allows one.

kube-proxy forwards only to endpoints of the EndpointSlice versions it programmed, and at a
look it has programmed every change written its lag bound before (replay.proxy
`proxy_lag_hi`). A local pod may be a dead pod in the rules at a look `t` only where

- one of its reported stops (replay.unseen `reported_stops`) may have come by `t`: the death's
  range (replay.deaths `death_range`: after the last update that saw it up, by the one that
  says it stopped, narrowed by the kubelet's finishedAt within `node_clock_s`) begins at or
  before `t`; and no listing of no local endpoint at all (the node's endpoints lane `none`)
  at a lane time `e` after the death's latest instant with `e` + the lag bound at or before
  `t` took it out of the rules (a dead pod is not listed again: its Ready condition stays
  false, and a restart is a new stop);
- or the log does not show its life at the look: no Pod update of it at all (a recording
  without the Pod stream), or its first update after the look says it was already up (the
  Pod stream began later), not that it was created;
- or it was last seen up and no update says it stopped: it may have died unreported only
  within `pod_status_s` of the kubelet's end (a kubelet writes a stop within that, the
  assumption replay.deaths reads before a stop's update): the end of the data, or a node
  that went down after the look (`_kubelet_end`: its next NotReady or Unknown less the node
  controller's grace, else its last answered look; 34,000,535 node-002: a pod that exited
  12 s before its node went down, its kubelet's report never written).

Where no local pod may be, the refusal is not the rules to a dead pod under iptables or
nftables, nor under IPVS with #97081 (both would have connected to the live pods, or dropped
with none programmed): it is the REJECT (replay.rejected reads that) or IPVS before #97081.
`look_readings` then puts the not-rules reading first; the rules reading stays named
(`also`), since an application that closes its listener before it exits refuses while its
container lives, which the Pod stream does not show. No new number: `node_clock_s`,
`pod_status_s` and kube-proxy's lag bound are the assumptions other rules read.
"""

from __future__ import annotations

from bisect import bisect_left

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.context import local_pods
from gapwatch.replay.deaths import death_range
from gapwatch.replay.fold import AT_US, FoldState, horizon
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.opener import NODE_DOWN, answered
from gapwatch.replay.podstate import ALIVE
from gapwatch.replay.proxy import proxy_lag_hi
from gapwatch.replay.unseen import reported_stops


def dead_in_rules_possible(
    state: FoldState, svc: ServiceRef, node: str, look_us: int, settings: DetectSettings
) -> bool:
    """May kube-proxy's rules on `node` have forwarded `svc` to a local pod that was dead at
    `look_us` (module docstring)? False only where every local pod it could hold was alive."""
    for pod in local_pods(state, svc, node):
        lane = state.pods.get((svc.cluster, svc.namespace, pod), [])
        if not lane or (lane[0].at_us > look_us and lane[0].state != "pending"):
            return True  # a pod the slices listed whose life at the look the log does not show
    clock = seconds_us(settings.node_clock_s)
    lag = proxy_lag_hi(state, svc, settings)
    eps = state.endpoints.get((svc, node), [])
    for up, down, finished in reported_stops(state, svc, node):
        died = death_range(up, down, finished, clock)
        if died.start > look_us:
            continue  # alive at the look
        k = bisect_left(eps, died.end, key=AT_US)
        if not any(s.value == "none" for s in eps[k:] if s.at_us + lag <= look_us):
            return True  # dead by the look, maybe still in the rules
    if look_us <= _kubelet_end(state, svc, node, look_us, settings) - seconds_us(
        settings.pod_status_s
    ):
        return False
    for pod in local_pods(state, svc, node):
        lane = state.pods.get((svc.cluster, svc.namespace, pod), [])
        if lane and lane[-1].state in ALIVE:
            return True  # last seen up: a death this near the kubelet's end may be unreported
    return False


def _kubelet_end(
    state: FoldState, svc: ServiceRef, node: str, look_us: int, settings: DetectSettings
) -> int:
    """The earliest instant after `look_us` the node's kubelet may have stopped writing: the
    end of the data, or the machine's end before the Node's next NotReady, Unknown or
    deletion: no earlier than that mark less `node_grace_s` and the watch skew (the node
    controller marks a node that long after it stopped: replay.nodealone `marked_after`;
    a deletion bounds nothing), nor than the last answered look before it."""
    end = horizon(state, svc)
    lane = state.nodes.get((svc.cluster, node), [])
    down = next((n for n in lane if n.at_us > look_us and n.value in NODE_DOWN), None)
    if down is None:
        return end
    bound = look_us
    if down.value != "Deleted":
        reach = seconds_us(settings.node_grace_s) + seconds_us(settings.watch_skew_s)
        bound = max(bound, down.at_us - reach)
    for kind in ("health", "nodeport"):
        for sample in state.probes[kind].get((svc, node), []):
            if look_us <= sample.at_us <= down.at_us and answered(sample.value):
                bound = max(bound, sample.at_us)
    return min(end, bound)
