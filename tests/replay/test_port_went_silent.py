"""A node read only through its NodePort, whose looks timed out from the window's start while
kube-proxy surely forwarded to a local endpoint, and whose Node the node controller marked
Unknown within its grace after: the node's end (replay/portsilent.py; docs/semantics.md,
"Classes on the eighteenth spent set (session 35, branch s35-class)", rule NS).

Random 31,000,229 node-003's shape (and 31,000,528 node-004's): kube-proxy 1.24 with no
health-check lane (the LB checks the traffic port, endpoint-driven, and no healthz is probed);
the NodePort looked at every second. The machine stops at 100.2 s (nothing records it); the
NodePort times out from the next look; the LB's own checks (15 s, five failures) have not yet
failed it when a scale-down drains the dead node at 137.9 s (the pod deleted, its endpoint
serving-terminating at 138.0 s) and the endpoint-driven LB deregisters it (draining at 139 s);
the node controller writes the Node's Ready Unknown at 140.3 s (40 s grace on 1.24). Read on
main as a certain `registered-before-forwarding` naming `node-not-ready`: the endpoints were
listed ready at the start, and a NodePort timeout may be kube-proxy dropping without a local
endpoint, so the silence only named the node's end.

Literal observations as the API server returns them (Node, Pod, EndpointSlice), the prober's
NodePort looks and the LB poller's DescribeTargetHealth answers (its HealthCheckPort the
NodePort)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import (
    eps,
    looks,
    node,
    node_deleted,
    node_unknown,
    p1_replaced_on_n1,
    pod,
    polled,
    service,
    windows_of,
)

STOP = 100.2
DRAIN = 137.9
UNKNOWN = 140.3
V = "v1.24.17"
POLLS = [float(k) for k in range(1, 201)]


def _stopped(node_end: Observation, *before: Observation) -> list[Window]:
    """p1 on n1 and p2 on n2 ready from 1 s; n1's machine stops at 100.2 s, its NodePort
    timing out from 101 s; the drain at 137.9 s, the LB draining n1 from 139 s; `node_end`
    (n1's Node) seen at 140.3 s. `before`: more observations."""
    return [
        w
        for w in windows_of(
            [
                service(0),
                node(0, "n1", version=V),
                node(0, "n2", version=V),
                pod(1.0, "p1", "n1", "ready"),
                pod(1.0, "p2", "n2", "ready"),
                eps(1.0, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
                *looks("n1", 2.0, 200.0, 1.0, lambda t: "connected" if t < STOP else "timeout"),
                *looks("n2", 2.0, 200.0, 1.0),
                *polled("n1", POLLS, lambda t: "healthy" if t < DRAIN + 1 else "draining", 32999),
                *polled("n2", POLLS, lambda t: "healthy", 32999),
                *before,
                pod(DRAIN, "p1", "n1", "terminating", deleted_at=DRAIN),
                eps(DRAIN + 0.1, [("p1", "n1", "terminating"), ("p2", "n2", "ready")]),
                node_end,
            ]
        )
        if w.node == "n1"
    ]


def test_a_silent_node_port_over_programmed_rules_is_the_nodes_end() -> None:
    # main: a certain registered-before-forwarding naming node-not-ready
    (w,) = _stopped(node_unknown(UNKNOWN, "n1", version=V))
    assert w.certain
    assert w.cls == "node-not-ready"


def test_a_replacement_kube_proxy_may_not_have_programmed_is_read_as_before() -> None:
    # the control: p1 replaced by p3 listed at 95 s (p1 gone at 96 s, reported), inside
    # kube-proxy's lag bound before the start: the timeouts may be kube-proxy without a local
    # endpoint programmed (p3 listed, not yet programmed), so the node is not the one reading
    swap = p1_replaced_on_n1()
    windows = _stopped(node_unknown(UNKNOWN, "n1", version=V), *swap)
    assert windows
    assert all(w.cls != "node-not-ready" for w in windows)


def test_a_deleted_node_is_not_read_so() -> None:
    # the control: the Node deleted instead of marked (a scale-down removes a drained node
    # that ran): no node controller's grace to read back; read as before
    windows = _stopped(node_deleted(UNKNOWN, "n1", ready="True"))
    assert windows
    assert all(w.cls != "node-not-ready" for w in windows)
