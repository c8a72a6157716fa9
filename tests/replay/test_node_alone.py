"""A window that only the Node's NotReady opens, on a node no probe looks at, is the node's
end, wherever the NotReady was seen after the window's end (replay/nodealone.py;
docs/semantics.md, "node-not-ready without probes (session 34, branch s34-nnr)").

Random 30,000,025 node-002's shape, and 31 more of that set's `node-not-ready` windows read
`registered-before-forwarding` without probes: the machine stops (nothing records it); the
LB's health checks fail and the poller sees the target `unhealthy` 25 s later, which ends the
window; the node controller writes the Node's Ready condition Unknown node-monitor-grace-period
after the stop, seen after that end, then marks the pod not ready and the slice drops it.
F without probes was possibly false only from the NotReady less the grace (the endpoints
listed ready all along, the pod up), and `_went_down` wants the NotReady before the window's
end: read `registered-before-forwarding` naming nothing else.

Literal observations as the API server returns them (Node, Pod, EndpointSlice) and the LB
poller's DescribeTargetHealth answers every 5 s; no kube-proxy probe."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import (
    eps,
    node_deleted,
    node_unknown,
    p1_replaced_on_n1,
    pod,
    polled,
    ready_pair,
    windows_of,
)

NOT_READY = 150.7


def _stopped(node_end: Observation, *before: Observation) -> list[Window]:
    """p1 on n1 and p2 on n2 (1.29) ready from 1 s; n1's machine stops at 100 s; the LB,
    polled every 5 s, saw n1 healthy to 120 s and unhealthy from 125 s (n2 healthy
    throughout: no fail-open); `node_end` (n1's Node) seen at 150.7 s, p1 not ready 0.2 s
    later, the slice dropping it 0.3 s later. `before`: more observations."""
    return [
        w
        for w in windows_of(
            [
                *ready_pair(1.0),
                *polled("n2", [5.0 * k for k in range(0, 40)], lambda t: "healthy", 31805),
                *polled(
                    "n1",
                    [5.0 * k for k in range(0, 40)],
                    lambda t: "healthy" if t < 125 else "unhealthy",
                    31805,
                ),
                *before,
                node_end,
                pod(NOT_READY + 0.2, "p1", "n1", "pending"),
                eps(NOT_READY + 0.3, [("p1", "n1", "unready"), ("p2", "n2", "ready")]),
            ]
        )
        if w.node == "n1"
    ]


def test_a_window_only_the_not_ready_opens_is_the_nodes_end() -> None:
    # main: an uncertain registered-before-forwarding naming nothing else
    (w,) = _stopped(node_unknown(NOT_READY, "n1"))
    assert not w.certain
    assert w.cls == "node-not-ready"


def test_a_replacement_kube_proxy_may_not_have_programmed_is_read_as_before() -> None:
    # the control: p1 replaced by p3 listed at 95 s (p1 gone at 96 s), inside kube-proxy's
    # lag bound (60 s) before the start: F's forwarding part may have been false (p3 not
    # yet programmed, p1 gone), so the Node is not its only fall: read as before (p1's death)
    swap = p1_replaced_on_n1()
    (w,) = _stopped(node_unknown(NOT_READY, "n1"), *swap)
    assert w.cls == "pod-gone-before-deregistered"


def test_a_deleted_node_is_not_read_so() -> None:
    # the control: the Node deleted (a scale-down removes a drained node that ran) instead
    # of marked: no node controller's grace to read back; read as before
    (w,) = _stopped(node_deleted(NOT_READY, "n1", ready="True"))
    assert w.cls == "registered-before-forwarding"
