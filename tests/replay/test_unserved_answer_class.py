"""A window read `node-not-ready` whose start range holds a 503 names the class the endpoints
listed at that answer (docs/semantics.md, "The tenth spent set read"; naming only).

Random 23,000,791 node-004's shape: kube-proxy 1.25 (ProxyTerminatingEndpoints off by default),
a node-driven LB (its group checks the health-check node port) polled every 1 s and healthy
until the node was gone, the health check probed every 0.5 s, no NodePort probe. The node's
one pod is deleted at 30 s and listed serving-terminating 0.04 s later; kube-proxy's health
check answers 503 counting none from 30.5 s (it synced that listing: nothing ready, and with
the gate off no rules); the node goes down at 35.7 s, the check times out from 37 s, the Node
turns Unknown at 75.9 s. The truth: kube-proxy closed at 30.1 s with nothing ready listed,
`closed-before-deregistered`. The window reads `node-not-ready` (the timeouts); the node still
answering with nothing to serve inside the start range named the class the endpoints listed
at the window's earliest start (30 s: ready), `registered-before-forwarding`, and not the one
at the answer itself.

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers, DescribeTargetHealth answers."""

from __future__ import annotations

from collections.abc import Callable

from gapwatch.recorder.observation import Observation
from tests.replay.builders import (
    eps,
    health_looks,
    node,
    pod,
    polled,
    service,
    window_on,
)

NNR, CBD = "node-not-ready", "closed-before-deregistered"


def _closed_then_down(listed_at: float) -> list[Observation]:
    """n1 on 1.25: p1 ready from 1 s, deleted at 30 s and listed serving-terminating at
    `listed_at`; the health check every 0.5 s counts one until 30.5 s, none until 37 s, then
    gets no answer; the Node Unknown at 75.9 s; the LB polled every 1 s, healthy to 76 s."""
    times = [0.5 * k for k in range(2, 200)]

    def local(t: float) -> int | None:
        return 1 if t < 30.5 else 0 if t < 37.0 else None

    return [
        service(0),
        node(0, "n1", version="v1.25.16"),
        pod(1.0, "p1", "n1", "ready"),
        eps(1.0, [("p1", "n1", "ready")]),
        pod(30.0, "p1", "n1", "terminating", deleted_at=30, grace=30),
        eps(listed_at, [("p1", "n1", "terminating")]),
        node(75.9, "n1", ready=False, version="v1.25.16"),
        *health_looks("n1", times, local),
        *polled("n1", [float(k) for k in range(0, 100)], _healthy_until(76.5), check_port=31805),
    ]


def _healthy_until(t_end: float) -> Callable[[float], str]:
    return lambda t: "healthy" if t < t_end else "unhealthy"


def test_the_answer_inside_names_what_the_endpoints_listed_then() -> None:
    w = window_on(_closed_then_down(30.04), "n1")
    assert w.cls == NNR
    assert CBD in w.also
