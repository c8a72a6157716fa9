"""A node that went down silent, its Node's NotReady seen up to the watch skew after the node
controller wrote it (replay.detect `_cls`, replay.opener.went_down_silent): random 25,000,548
node-002's shape. The machine stopped while its only pod was terminating (kube-proxy 1.29 still
forwarding to it), the NodePort timed out from the next look, the health check never answered
again and the Node was marked NotReady node_grace_s (50 s) after the stop; the recorder's watch
delivered that 0.16 s later, past the grace counted from the watch time, and the window read
`closed-before-deregistered`."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import eps, health, node, nodeport, one_node, pod, target, window_on


def _stops(not_ready_at: float) -> Window:
    """p1 terminating from 97 s (serving, the slice says so at 97.2 s; kube-proxy's 503 counts
    no ready endpoint at 98.5 s, and forwards to the serving-terminating pod: the NodePort
    connected at 99.5 s); the machine stops at 100 s: the NodePort look sent at 100.5 s times
    out, so does every health check after; the LB keeps the node until 130 s; the Node is seen
    NotReady at `not_ready_at`."""
    obs: list[Observation] = [
        *one_node(),
        health(2, None, "n1", 1),
        nodeport(2, None, "n1", "connected"),
        pod(97, "p1", "n1", "terminating", deleted_at=97, grace=60),
        eps(97.2, [("p1", "n1", "terminating")]),
        health(98.5, 97.5, "n1", 0),
        nodeport(99.5, 2, "n1", "connected"),
        nodeport(101.5, 99.5, "n1", "timeout", latency_ms=1000),
        health(103.5, 98.5, "n1", None),
        node(not_ready_at, "n1", ready=False),
        target(130, 128, "n1", "draining"),
    ]
    return window_on(obs, "n1")


def test_a_not_ready_seen_within_the_watch_skew_past_the_grace_is_the_node() -> None:
    # the sure start at 100.5 s, the NotReady seen at 150.8 s: written by 150.5 s at the
    # earliest with the assumed 0.5 s watch skew, so within the 50 s grace
    window = _stops(150.8)
    assert window.certain
    assert window.cls == "node-not-ready"


def test_a_not_ready_seen_later_than_that_is_not() -> None:
    # the control: seen at 151.3 s, written after 150.8 s, past the grace either way
    assert _stops(151.3).cls != "node-not-ready"
