"""A node read only through its NodePort that went silent while kube-proxy surely forwarded to a
local endpoint: the node's end, not kube-proxy's (docs/semantics.md, "Classes on the eighteenth
spent set", rule NS). Pure.

A NodePort look that times out is one of two things on a node with no health-check lane (a
Service without a health-check node port, e.g. a TCP health check on the NodePort): kube-proxy
dropping external traffic it has no local endpoint for (iptables and nftables DROP, IPVS since
kubernetes#97081 discards the replies: DESIGN.md section 6, replay.modeshape), or the node not
answering at all. replay.opener `nodeport_went_silent` therefore names the node's end beside a
window's class and never as it. The first reading needs kube-proxy without a local endpoint
programmed; where F's forwarding part (replay.nodealone `forwarded_through`: the endpoints and
local pods as listed, each change taken up to kube-proxy's lag bound late, `proxy_lag_hi`) was
surely true over the window start's whole range, kube-proxy had one, and a pod that died under
its rules is read before this (replay.detect's pod-death rules: its kubelet reports the stop).
What is left is the node: where its NodePort answered before the range, timed out at every look
from there, and its Node was next seen NotReady or Unknown within the node controller's grace
(`node_grace_s`, the `--node-monitor-grace-period`, and the watch skew: replay.nodealone
`marked_after`) without answering in between, the node stopped inside the range: the class is
`node-not-ready` (the mirror of replay.opener `went_down_silent`, which reads the same from the
health check). Not for a deletion (a scale-down deletes a drained node that ran). No new number.
"""

from __future__ import annotations

from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import FoldState, sorted_lane
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.nodealone import forwarded_through, marked_after
from gapwatch.replay.opener import nodeport_went_silent


def port_went_silent(
    state: FoldState, svc: ServiceRef, node: str, span: tuple[int, int], settings: DetectSettings
) -> bool:
    """The node's NodePort answered before the start range `span` (since, at) and timed out at
    every look from there until its Node was seen NotReady or Unknown (`marked_after`), while
    kube-proxy surely forwarded to a local endpoint over the whole range (module docstring).
    The caller reads it only on a node with no health-check lane."""
    since, at = span
    down = marked_after(state, svc, node, at, settings)
    if down is None:
        return False
    ports = sorted_lane(state.probes["nodeport"].get((svc, node), []))
    node_lane = state.nodes.get((svc.cluster, node), [])
    reach = down - at  # the mark found above is the one `nodeport_went_silent` reads to
    if not ports or not nodeport_went_silent(ports, node_lane, since, at, reach):
        return False
    return forwarded_through(state, svc, node, span, settings)
