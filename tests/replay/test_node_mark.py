"""A local pod's not-ready that the node lifecycle controller wrote is the node's end, not a
pod's death (replay/nodemark.py; docs/semantics.md, "node-not-ready without probes (session 34,
branch s34-nnr)").

Random 30,000,129 node-001's shape, and 42 more of that set's `node-not-ready` windows read
`pod-gone-before-deregistered` without probes: the machine stops (nothing records it); the
node controller writes the Node's Ready condition Unknown node-monitor-grace-period later,
then marks the node's pods not ready (MarkPodsNotReady: the Pod's Ready condition False, its
container statuses left running and ready as the kubelet last wrote them); the recorder's Pod
watch delivers the mark 0.47 s before its Node watch delivers the NotReady, and the
EndpointSlice drops the pod after both. F without probes fell at the pod's update, and
`_pods_stopped_first` read the pod as stopped first: a certain `pod-gone-before-deregistered`
naming nothing else.

Literal observations as the API server returns them (Node, Pod, EndpointSlice) and the LB
poller's DescribeTargetHealth answers every 5 s; no kube-proxy probe unless a test adds the
health-check node port's answers."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import (
    at,
    eps,
    health_looks,
    node_unknown,
    one_node,
    pod,
    polled,
    windows_of,
)

MARK, NOT_READY, DROPPED = 150.53, 151.0, 151.02


def _stamp(t: float) -> str:
    return at(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _container(finished: float | None) -> dict[str, Any]:
    """p1's container as its kubelet last wrote it: running and ready (`finished`: a stop it
    reported instead, the container crashed and waiting to restart)."""
    if finished is None:
        running = {"running": {"startedAt": _stamp(1)}}
        return {"name": "istio-proxy", "ready": True, "started": True, "restartCount": 0,
                "state": running}  # fmt: skip
    stop = {"exitCode": 1, "reason": "Error", "startedAt": _stamp(1),
            "finishedAt": _stamp(finished)}  # fmt: skip
    return {"name": "istio-proxy", "ready": False, "started": False, "restartCount": 1,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": stop}}  # fmt: skip


def _not_ready(t: float, finished: float | None = None) -> Observation:
    """p1's Ready condition False at `t`: MarkPodsNotReady's write (the condition alone), or,
    with `finished`, its kubelet's report of a crash."""
    o = pod(t, "p1", "n1", "pending")
    o.payload["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "lastTransitionTime": _stamp(t)},
        {"type": "ContainersReady", "status": "True" if finished is None else "False"},
    ]
    o.payload["status"]["containerStatuses"] = [_container(finished)]
    return o


def _stopped(mark: float, not_ready: float, *, finished: float | None = None) -> list[Window]:
    """p1 ready on n1 (1.29) from 1 s; the machine stops at 100 s; p1's not-ready seen at
    `mark`, the Node's Unknown at `not_ready`, the slice listing p1 not ready at 151.02; the
    LB, polled every 5 s, saw n1 healthy to 155 s and draining from 160 s."""
    obs = [
        *one_node(),
        *polled(
            "n1",
            [5.0 * k for k in range(0, 40)],
            lambda t: "healthy" if t <= 155 else "draining",
            check_port=31805,
        ),
        _not_ready(mark, finished),
        node_unknown(not_ready, "n1"),
        eps(DROPPED, [("p1", "n1", "unready")]),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_mark_seen_before_the_not_ready_is_the_nodes_end() -> None:
    # main: a certain pod-gone-before-deregistered naming nothing else
    (w,) = _stopped(MARK, NOT_READY)
    assert w.certain
    assert w.cls == "node-not-ready"


def test_a_crash_its_kubelet_reported_is_a_death_not_the_mark() -> None:
    # the control: the same not-ready carrying a stop newer than any before (finishedAt
    # 150 s): the kubelet's report of a crash, read as before
    (w,) = _stopped(MARK, NOT_READY, finished=150.0)
    assert w.cls == "pod-gone-before-deregistered"


def test_a_not_ready_seen_past_the_watch_skew_of_the_mark_is_not_its_cause() -> None:
    # the control: the Node's NotReady seen 0.6 s after the mark, past the 0.5 s skew the
    # two watches allow between writes in that order: the not-ready is read as before
    (w,) = _stopped(MARK, MARK + 0.6)
    assert w.cls == "pod-gone-before-deregistered"


def test_a_node_that_answered_after_the_mark_was_up() -> None:
    """The kubelet alone stopped (the machine and kube-proxy ran on): kube-proxy's health
    check counted p1 to 150 s and answered 503 counting none at 150.8 s, after the mark and
    the slice's drop (seen early, at 150.6 s) and before the Node's NotReady was seen. That
    answer shows the node up after the start's latest instant (the mark, 150.53 s): the rule
    does not read the node's end over it (the other rules read the window as on main)."""
    obs = [
        *one_node(),
        *polled(
            "n1",
            [5.0 * k for k in range(0, 40)],
            lambda t: "healthy" if t <= 155 else "draining",
            check_port=31805,
        ),
        *health_looks("n1", [1.0, 150.0, 150.8, 170.0], lambda t: 1 if t <= 150 else 0),
        _not_ready(MARK),
        eps(150.6, [("p1", "n1", "unready")]),
        node_unknown(NOT_READY, "n1"),
    ]
    (w,) = [w for w in windows_of(obs) if w.node == "n1"]
    assert w.certain
    assert w.cls != "node-not-ready"
