"""An endpoint-driven LB whose CCM reacts to Pods, not only to EndpointSlices (Tencent TKE's
`enable-grace-shutdown` / `enable-grace-deletion`: the node's CLB weight goes to 0 when its last
ready pod terminates, the design notes' section 6): between two polls that both saw the target
healthy it may have stopped routing to the node with no EndpointSlice change seen, since the
EndpointSlice controller can go straight from the old ready pod to the new one in one update
(what held-out seed 16,000,439 showed: a window reported certain where the LB sent nothing).

Literal observations: Pod and EndpointSlice objects as the watch returns them, NodePort probe
results, DescribeTargetHealth answers with the group's HealthCheckPort."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.context import ccm_mode
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from tests.replay.builders import _sample, eps, facts_of, node, nodeport, pod, service


def _target(t: float, prev: float | None, port: int, op: str = "OBSERVED") -> Observation:
    """n1's target as a poller stores it; `port`: the group's HealthCheckPort (the NodePort for
    a CLB that checks the traffic port, the healthCheckNodePort for a node-driven LB)."""
    payload = {
        "Target": {"Id": "ins-n1", "Port": 32999},
        "HealthCheckPort": str(port),
        "TargetHealth": {"State": "healthy"},
        "TargetGroupArn": "lb-1/lbl-80",
    }
    return _sample(t, prev, "TargetHealth", "lb-poller", "n1", payload, op)


def _swap(port: int) -> list[Observation]:
    """One node: its pod p1 is replaced by p2 (a DaemonSet's order: p2 after p1 is going);
    the slice goes from p1 ready to p2 ready in one update; kube-proxy refuses between p1's
    death and p2's programming (NodePort probes every 2 s); the LB is polled every 10 s and
    saw the target healthy at 0, 10, 20 and 30 s."""
    obs = [
        service(0),
        node(0, "n1"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        _target(0, None, port, "ADDED"),
        _target(10, 0, port),
        _target(20, 10, port),
        _target(30, 20, port),
    ]
    probes = [(t, "connected") for t in range(2, 22, 2)]
    probes += [(22, "refused"), (24, "refused"), (26, "connected"), (28, "connected")]
    prev = None
    for t, result in probes:
        obs.append(nodeport(t, prev, "n1", result))
        prev = t
    obs += [
        pod(21.0, "p1", "n1", "terminating", deleted_at=21, revision="aaa"),
        pod(21.2, "p2", "n1", "pending", revision="bbb"),
        pod(21.6, "p1", "n1", "gone", deleted_at=21, revision="aaa"),
        pod(24.6, "p2", "n1", "ready", revision="bbb"),
        eps(25.0, [("p2", "n1", "ready")]),
    ]
    return sorted(obs, key=lambda o: o.observed_at)


def _windows(obs: list[Observation]) -> tuple[FoldState, list[Window]]:
    state = fold(FoldState(), facts_of(obs))
    return state, [w for w in detect(state, settings=DEFAULTS) if w.node == "n1"]


def test_a_pod_swap_between_two_healthy_polls_of_an_endpoint_driven_lb_is_no_sure_window() -> None:
    state, found = _windows(_swap(port=32999))
    (svc,) = state.services
    assert ccm_mode(state, svc, DEFAULTS) == "endpoint"
    # kube-proxy surely refused at 22-24 s, but the LB may have stopped routing to n1 when p1
    # terminated (a pod-driven CCM) without any look seeing it: a possible window, not a sure one
    assert found, "the refused looks while the LB may still route are a possible window"
    assert all(not w.certain for w in found)


def test_a_node_driven_lb_that_saw_the_node_healthy_around_it_still_proves_the_window() -> None:
    # the same swap behind an LB that health-checks healthCheckNodePort: it drops a node only
    # by its checks (unhealthy_threshold failed checks, not seen here), never on a Pod change
    state, found = _windows(_swap(port=31805))
    (svc,) = state.services
    assert ccm_mode(state, svc, DEFAULTS) == "node"
    assert any(w.certain for w in found)
