"""Without any kube-proxy probe, a node that went down may have stopped serving up to
node_grace_s before its NotReady was written, and the recorder's watch delivers that write up
to the watch skew after it (replay.context `node_ready_steps`; docs/semantics.md, "The
sixteenth spent set read (session 33, branch s33-heldread)").

Random 29,000,025 node-003's shape, and 53 more of that set's 54 `node-not-ready` misses
without probes: the machine stops, nothing on it answers, the node controller writes the Node's
Ready condition Unknown node-monitor-grace-period (50 s) later and the recorder sees it 0.01-
0.4 s after that; the LB keeps routing until its health checks or the CCM take the node out.
F read from the NotReady's watch time less the grace began 0.01-0.4 s after the stop, and the
window found began after the true one. The node classes already read the grace from the watch
time less the skew (tests/replay/test_down_seen_late.py); F now does too.

Literal observations: Node, Pod and EndpointSlice objects as the watch returns them and the LB
poller's DescribeTargetHealth answers every 10 s; no kube-proxy probe (a recorder without the
prober, or an import of objects and LB data)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import covers, node, one_node, polled, windows_of


def _went_down(not_ready_at: float) -> list[Window]:
    """p1 ready on n1 (1.29) from 1 s; the machine stops at 100 s (nothing records it); the
    Node is seen with Ready Unknown at `not_ready_at`; the LB, polled every 10 s, saw n1
    healthy to 150 s and unhealthy from 160 s."""
    obs: list[Observation] = [
        *one_node(),
        *polled(
            "n1",
            [10.0 * k for k in range(0, 20)],
            lambda t: "healthy" if t <= 150 else "unhealthy",
            check_port=31805,
        ),
        node(not_ready_at, "n1", ready=False),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_not_ready_seen_after_the_grace_may_have_been_written_within_it() -> None:
    # seen 50.2 s after the stop: written by 149.7 s at the earliest with the assumed 0.5 s
    # watch skew, so the node may have stopped from 99.7 s
    assert covers(_went_down(150.2), 100.0, 150.0)


def test_a_not_ready_seen_later_than_the_grace_and_the_skew_is_not() -> None:
    # the control: seen at 150.8 s, written after 150.3 s: the stop lies after 100.3 s
    assert not covers(_went_down(150.8), 100.0, 150.0)
