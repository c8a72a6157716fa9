"""Without any kube-proxy probe, a local pod's stop is timed by its kubelet's finishedAt where the
Pod update that says it stopped carries one, however late that update came (replay.unseen
`_stopped`, as replay.deaths.death_span already reads it for the health-check path;
docs/semantics.md, "The seventeenth spent set read (session 34, branch s34-heldread)").

Random 30,000,781 node-001's shape, and 28 more of that set's 33 `pod-gone-before-deregistered`
misses without probes: the node's only pod crashes at 103.6 s; its kubelet's status write
reporting the crash (`lastState.terminated.finishedAt` 103 s, the container waiting to restart)
is seen 3.9 s later, more than the pod_status_s assumption (3 s) after the crash: a kubelet's
status writes queue behind its API rate limit and a watch can lag. F read from that update less
pod_status_s began at 104.53 s, after the crash; the finishedAt (whole seconds, the node's clock
within node_clock_s) places it in [102, 105) s.

Random 30,000,376 node-001's shape, and three more of those 33 misses: the pod is deleted with no
preStop hook and stops 0.13 s before the recorder sees the deletion; the stop was read as after
that update's time, which is its write known to the second at best (replay.owntime): the pod
was up at the write, not surely at the observation, as replay.podsup reads it.

Literal observations: Node, Pod and EndpointSlice objects as the watch returns them and the LB
poller's DescribeTargetHealth answers every 2 s; no kube-proxy probe (a recorder without the
prober, or an import of objects and LB data)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import covers, eps, one_node, pod, polled, windows_of

HEALTHY = [*polled("n1", [2.0 * k for k in range(1, 80)], lambda t: "healthy", check_port=31805)]


def _crashed(finished: float | None) -> list[Window]:
    """p1 ready on n1 (1.24) from 1 s, registered healthy; it crashes at 103.6 s (nothing
    records it); the Pod update reporting it (not ready, its container waiting to restart,
    lastState.terminated.finishedAt `finished`; None: no finishedAt) is seen at 107.53 s, the
    slice lists p1 not ready at 107.75 s; the restarted container is ready at 118 s (listed at
    118.05 s); the LB, polled every 2 s, saw n1 healthy throughout."""
    obs: list[Observation] = [
        *one_node("v1.24.17"),
        *HEALTHY,
        pod(107.53, "p1", "n1", "pending", finished=finished),
        eps(107.75, [("p1", "n1", "unready")]),
        pod(118.0, "p1", "n1", "ready"),
        eps(118.05, [("p1", "n1", "ready")]),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_stop_reported_late_is_timed_by_its_finished_at() -> None:
    # finishedAt 103 s: the crash lies in [102, 105) s with the node clock within 1 s, so the
    # gap may begin by 103.6 s though the update came 3.9 s later
    assert covers(_crashed(103.0), 103.6, 107.5)


def test_a_stop_without_finished_at_keeps_the_status_bound() -> None:
    # the control: no finishedAt, the stop lies within pod_status_s (3 s) of the update
    assert not covers(_crashed(None), 103.6, 107.5)
    assert covers(_crashed(None), 104.6, 107.5)


def _deleted() -> list[Window]:
    """p1 ready on n1 (1.28: ProxyTerminatingEndpoints on) from 1 s, registered healthy; it is
    deleted with no preStop hook and stops at 93.87 s (nothing records it); the deletion is seen
    at 94.0 s, the kubelet's stop (finishedAt 93 s) at 95.0 s; the slice lists p1 terminating
    at 94.63 s and drops it at 96.33 s; its replacement p2, created at 94.13 s, is ready at
    99.0 s (listed at 100.0 s); the LB, polled every 2 s, saw n1 healthy throughout."""
    obs: list[Observation] = [
        *one_node("v1.28.15"),
        *HEALTHY,
        pod(94.0, "p1", "n1", "terminating", deleted_at=94.0),
        pod(94.13, "p2", "n1", "pending", revision="bbb"),
        eps(94.63, [("p1", "n1", "terminating"), ("p2", "n1", "unready")]),
        pod(95.0, "p1", "n1", "gone", deleted_at=94.0, finished=93.0),
        eps(96.33, [("p2", "n1", "unready")]),
        pod(99.0, "p2", "n1", "ready", revision="bbb"),
        eps(100.0, [("p2", "n1", "ready")]),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_stop_may_precede_the_deletion_seen_by_its_write_stamp() -> None:
    # the deletion seen at 94.0 s was written from 93.0 s on: the stop may lie from there
    assert covers(_deleted(), 93.9, 99.0)


def test_a_stop_still_follows_the_update_that_saw_the_pod_up() -> None:
    # the control: not before that write's earliest second (93.0 s)
    assert not covers(_deleted(), 92.9, 99.0)
