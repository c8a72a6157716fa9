"""A node-driven CCM's node set by controller and release (recorder.sim.ccmnodes): the AWS Load
Balancer Controller registers Ready nodes only, on every release; the upstream service
controller keeps a NotReady node registered from 1.27 (KEP-3458, StableLoadBalancerNodeSet on by
default) and in 1.25.0-1.25.2 and 1.26.0-1.26.10 (kubernetes/kubernetes#109706, until #112807
and #121116 put the Ready predicate back), so that only the LB's health check takes a crashed
node out, and registers a new node before it is Ready. Before session 36 every node-driven run
registered Ready nodes only, whatever its controller and release."""

from __future__ import annotations

from typing import Any

import pytest

from gapwatch.recorder.sim import from_dict, load_scenario, run
from gapwatch.recorder.sim.ccmnodes import keeps_not_ready, service_controller_keeps_not_ready
from gapwatch.recorder.sim.generate import (
    _base_scenario,
    _extras,
    random_scenario,
    with_sync_period,
)
from gapwatch.recorder.sim.scenario import Scenario
from gapwatch.recorder.timefmt import parse_time

CRASHED = "node-003"
DOWN_AT_S = 300.0


def _crash(controller: str, version: str, **overrides: Any) -> Scenario:
    """aws-nlb-lbc's cluster (4 nodes, a DaemonSet ingress) with `CRASHED` going down at
    `DOWN_AT_S` and nothing else happening."""
    return load_scenario(
        "aws-nlb-lbc",
        {
            "duration_s": 700,
            "events": [{"at_s": DOWN_AT_S, "action": "node_down", "node": CRASHED}],
            "ccm.controller": controller,
            "nodes.kubelet_version": version,
            "nodes.kube_proxy_version": version,
            **overrides,
        },
    )


def _states(scenario: Scenario, node: str) -> list[str]:
    """The target states the LB poller saw for `node`, in order, repeats dropped."""
    out: list[str] = []
    for o in run(scenario, 1).observations:
        if o.kind == "TargetHealth" and o.node == node and o.op != "DELETED":
            state = str(o.payload["TargetHealth"]["State"])
            if not out or out[-1] != state:
                out.append(state)
    return out


@pytest.mark.parametrize(
    ("controller", "version", "deregistered"),
    [
        ("service-controller", "v1.29.10", False),
        ("service-controller", "v1.35.2", False),
        ("service-controller", "v1.27.0", False),
        ("service-controller", "v1.26.10", False),
        ("service-controller", "v1.26.15", True),
        ("service-controller", "v1.25.2", False),
        ("service-controller", "v1.25.16", True),
        ("service-controller", "v1.24.17", True),
        ("aws-load-balancer-controller", "v1.29.10", True),
        ("aws-load-balancer-controller", "v1.35.2", True),
        ("aws-load-balancer-controller", "v1.24.17", True),
    ],
)
def test_a_crashed_node_is_deregistered_by_controller_and_release(
    controller: str, version: str, deregistered: bool
) -> None:
    states = _states(_crash(controller, version), CRASHED)
    assert states[:2] == ["healthy", "unhealthy"], states
    assert ("draining" in states) is deregistered, states


def _node_not_ready_s(controller: str) -> float:
    """The crashed node's true node-not-ready window (seconds), under a health check that takes
    150 s to fail it (interval 30 s, 5 failures) against the node controller's 40 s."""
    scenario = _crash(
        controller,
        "v1.29.10",
        **{"lb.health_check.interval_s": 30, "lb.health_check.unhealthy_threshold": 5},
    )
    (window,) = [
        w for w in run(scenario, 1).truth.windows if w.node == CRASHED and w.cls == "node-not-ready"
    ]
    assert window.start_us == int(DOWN_AT_S * 1_000_000)
    return window.duration_s


def test_only_the_health_check_ends_the_window_where_the_ccm_keeps_the_node() -> None:
    # the LB controller deregisters the node at NotReady (40 s) plus its lag; the service
    # controller of 1.29 leaves it registered until the fifth failed check (>= 4 intervals)
    assert _node_not_ready_s("aws-load-balancer-controller") < 60.0
    assert _node_not_ready_s("service-controller") >= 120.0


def _registered_at_s(controller: str) -> float:
    """When the LB poller first saw a new node (added at 300 s, Ready 20 s later) as a target."""
    scenario = load_scenario(
        "aws-nlb-lbc",
        {
            "duration_s": 500,
            "events": [{"at_s": 300, "action": "add_node", "node": "node-new"}],
            "ccm.controller": controller,
            "observe.lb_poll_period_s": 1,
        },
    )
    start = parse_time(scenario.start)
    for o in run(scenario, 1).observations:
        if o.kind == "TargetHealth" and o.node == "node-new":
            return (o.observed_at - start).total_seconds()
    raise AssertionError("the new node was never a target")


def test_a_new_node_is_registered_before_its_ready_where_notready_nodes_stay() -> None:
    early = _registered_at_s("service-controller")
    late = _registered_at_s("aws-load-balancer-controller")
    assert 300.0 < early < 320.0, early
    assert late > 320.0, late


def test_the_release_table() -> None:
    got = {
        v: service_controller_keeps_not_ready(v)
        for v in (
            "v1.24.17",
            "v1.25.0",
            "v1.25.2",
            "v1.25.3",
            "v1.25.16",
            "v1.26.0",
            "v1.26.10",
            "v1.26.11",
            "v1.26.15",
            "v1.27.0",
            "v1.30.14",
            "v1.35.2",
        )
    }
    assert [v for v, keeps in got.items() if keeps] == [
        "v1.25.0",
        "v1.25.2",
        "v1.26.0",
        "v1.26.10",
        "v1.27.0",
        "v1.30.14",
        "v1.35.2",
    ]
    assert not keeps_not_ready("aws-load-balancer-controller", "v1.35.2")
    assert keeps_not_ready("service-controller", "v1.35.2")


def test_the_presets_name_their_controller() -> None:
    assert load_scenario("aws-nlb").ccm.controller == "service-controller"
    assert load_scenario("gke-l4").ccm.controller == "service-controller"
    assert load_scenario("aws-nlb-lbc").ccm.controller == "aws-load-balancer-controller"


def test_the_generator_draws_a_node_driven_runs_controller_apart() -> None:
    drawn = set()
    for seed in range(1, 301):
        data = random_scenario(seed)
        ccm = data["ccm"]
        if ccm["mode"] == "node-driven":
            drawn.add(ccm.pop("controller"))
        else:
            assert "controller" not in ccm, seed
        # nothing else moved: the scenario without the draw is the one drawn before it
        assert data == with_sync_period(_extras(seed, _base_scenario(seed)), seed), seed
        from_dict(random_scenario(seed), f"random {seed}")
    assert drawn == {"service-controller", "aws-load-balancer-controller"}
