"""replay.opener: a node that stopped answering at a window's start and whose Node went
NotReady (or was deleted) within node_grace_s, after the window had closed, opened it
(`node-not-ready`). Hand-built timelines: the pure rule on literal lanes, and detection on
literal observations (the shapes of tests/replay/builders.py)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import classify
from gapwatch.replay.fold import FoldState, Sample
from gapwatch.replay.lanes import Lanes
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.opener import answered, forwarded_at_start, went_down_silent
from gapwatch.replay.signals import Step, Tri
from tests.replay.builders import (
    eps,
    health,
    node_deleted,
    nodeport,
    one_node,
    pod,
    target,
    windows_of,
)

S = 1_000_000
GRACE = 50 * S  # node_grace_s: kube-controller-manager's --node-monitor-grace-period


def _lane(*pairs: tuple[float, str]) -> list[Sample]:
    return [Sample(int(t * S), None, v, i) for i, (t, v) in enumerate(pairs, start=1)]


def test_answers_are_statuses_and_refusals_not_timeouts() -> None:
    assert answered("200") and answered("503") and answered("refused")
    assert not answered("timeout")


def test_silent_from_the_start_until_the_node_went_down_within_the_grace() -> None:
    checks = _lane((0, "200"), (103, "timeout"))
    assert went_down_silent(checks, _lane((0, "Ready"), (112, "Deleted")), 100 * S, GRACE)
    assert went_down_silent(checks, _lane((0, "Ready"), (140, "NotReady")), 100 * S, GRACE)


def test_a_node_down_later_than_the_grace_did_not_go_down_at_the_start() -> None:
    checks = _lane((0, "200"), (103, "timeout"))
    assert not went_down_silent(checks, _lane((0, "Ready"), (151, "NotReady")), 100 * S, GRACE)


def test_an_answer_before_the_node_went_down_means_it_was_still_up() -> None:
    checks = _lane((0, "200"), (103, "timeout"), (106, "503"), (109, "timeout"))
    assert not went_down_silent(checks, _lane((0, "Ready"), (112, "Deleted")), 100 * S, GRACE)


def test_no_check_after_the_start_proves_nothing() -> None:
    checks = _lane((0, "200"))
    assert not went_down_silent(checks, _lane((0, "Ready"), (112, "Deleted")), 100 * S, GRACE)


def test_a_node_never_seen_answering_is_joining_not_going_down() -> None:
    checks = _lane((0, "timeout"), (103, "timeout"))
    assert not went_down_silent(checks, _lane((0, "Ready"), (112, "Deleted")), 100 * S, GRACE)


def _machine_stops(deleted_at: float, *more: Observation) -> list[Window]:
    """The machine behind n1 stops at 100 s with its pod still ready: the NodePort probe sent at
    100.5 s times out, the LB is seen draining the node at 102 s, the next health check (sent
    at 102.5 s) times out after that; the Node is deleted at `deleted_at`."""
    obs = [
        *one_node(),
        health(2, None, "n1", 1),
        nodeport(2, None, "n1", "connected"),
        nodeport(101.5, 99.5, "n1", "timeout", latency_ms=1000),
        target(102, 97, "n1", "draining"),
        health(103.5, 97.5, "n1", None),
        *more,
        node_deleted(deleted_at, "n1"),
    ]
    return windows_of(obs)


def test_a_machine_that_stops_with_its_pod_ready_is_node_not_ready() -> None:
    (window,) = _machine_stops(112)
    assert window.cls == "node-not-ready"


def test_deleted_past_the_grace_the_stop_is_not_read_as_the_node() -> None:
    (window,) = _machine_stops(160)
    assert window.cls != "node-not-ready"


def test_a_pod_seen_stopping_at_the_start_opened_it_before_the_node_went() -> None:
    # a scale-down after a drain: the pod goes first (its endpoint leaves), then the machine
    (window,) = _machine_stops(112, pod(100.7, "p1", "n1", "gone"), eps(100.8, []))
    assert window.cls == "pod-gone-before-deregistered"


# --- forwarded_at_start: the pods' stop opened a window only if kube-proxy had something to
# forward to when it could begin


def _step(t: float, value: bool) -> Step:
    return Step(int(t * S), int(t * S), value, 0)


def test_forwarded_at_start_reads_the_lane_at_the_earliest_start() -> None:
    lane = [_step(0, True), _step(99.4, False), _step(100.02, True)]
    assert forwarded_at_start(lane, 99 * S)
    assert not forwarded_at_start(lane, 100 * S)
    assert forwarded_at_start(lane, int(99.4 * S))  # dropped at the start: opened with it
    assert forwarded_at_start(lane, 101 * S)
    assert not forwarded_at_start([], 100 * S)


def _classed(last_forwarded: float) -> str:
    """A rollout's old pod on n1 (serving-terminating, forwarded under PTE) stops at 99.2-99.6 s;
    the node's endpoints lose it at `last_forwarded` and its replacement turns ready at
    100.02 s. A window whose start lies in [100, 101] s, classed at 101 s, with no probe answer
    that names a cause (no refused, no timeout)."""
    svc = ServiceRef("c1", "istio-system", "istio-ingressgateway")
    eps = _lane((0, "ready"), (40, "serving-terminating"), (last_forwarded, "none"))
    eps.append(Sample(int(100.02 * S), None, "ready", 9))
    forwardable = [_step(0, True), _step(last_forwarded, False), _step(100.02, True)]
    alive = [_step(0, True), Step(int(99.2 * S), int(99.6 * S), False, 0), _step(100.0, True)]
    never = Tri([], [])
    lanes_ = Lanes(never, never, True, [], eps, [], forwardable)
    return classify(FoldState(), svc, "n1", lanes_, 101 * S, alive, since_us=100 * S)


def test_pods_gone_after_the_endpoints_left_did_not_open_the_window() -> None:
    # the endpoints left at 99.4 s, before the window could begin: the replacement, ready
    # before kube-proxy programmed it, is what the LB routed to
    assert _classed(99.4) == "registered-before-forwarding"


def test_pods_that_stopped_while_still_forwarded_opened_the_window() -> None:
    assert _classed(100.5) == "pod-gone-before-deregistered"
