"""A cluster-autoscaler scale-down in the simulator: taint, evict, terminate, in that order, and
what each observer sees (KEP-3836's /healthz, the AWS LB Controller skipping the tainted node).

The expectations come from the documented behaviour (DESIGN.md section 6), not from the
simulator's code: the taint is `ToBeDeletedByClusterAutoscaler`; an LB controller that skips
tainted nodes drains the node before it goes, so no window opens on it; kube-proxy's /healthz
answers 503 with `nodeEligible: false` from 1.30 (beta, on by default) and has no such field
before; the per-Service health check is unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from gapwatch.recorder.gotime import read_go_time
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import Simulation, load_scenario
from gapwatch.recorder.timefmt import to_micros
from tests.replay.accuracy import Report, compare

NODE = "ip-10-0-1-11.ec2.internal"
#: aws-nlb (a Deployment behind an NLB in instance mode) with one scale-down and /healthz probes
OVERRIDES: dict[str, Any] = {
    "events": [{"at_s": 60, "action": "scale_down", "node": NODE}],
    "observe.kube_proxy_healthz": True,
    "nodes.kubelet_version": "v1.30.5",
    "nodes.kube_proxy_version": "v1.30.5",
    "traffic.rps": 0,
}


def _run(**changes: Any) -> tuple[list[Observation], Simulation]:
    sim = Simulation(load_scenario("aws-nlb", {**OVERRIDES, **changes}), 1)
    return list(sim), sim


def _first(obs: list[Observation], test: Any) -> Observation:
    return next(o for o in obs if test(o))


def test_taint_then_eviction_then_the_node_goes() -> None:
    obs, _sim = _run()
    tainted = _first(
        obs,
        lambda o: (
            o.kind == "Node"
            and o.node == NODE
            and any(
                t["key"] == "ToBeDeletedByClusterAutoscaler"
                for t in o.payload["spec"].get("taints", [])
            )
        ),
    )
    evicted = [
        o
        for o in obs
        if o.kind == "Pod" and o.node == NODE and o.payload["metadata"].get("deletionTimestamp")
    ]
    deleted = _first(obs, lambda o: o.kind == "Node" and o.node == NODE and o.op == "DELETED")
    assert evicted, "the node's pods are evicted"
    assert tainted.observed_at <= min(o.observed_at for o in evicted)
    gone = [o for o in obs if o.kind == "Pod" and o.node == NODE and o.op == "DELETED"]
    assert max(o.observed_at for o in gone) < deleted.observed_at
    # nothing new is scheduled on a tainted node
    created = [
        o
        for o in obs
        if o.kind == "Pod" and o.op == "ADDED" and o.observed_at > tainted.observed_at
    ]
    assert created and all(o.node != NODE for o in created)


def test_an_lb_controller_that_skips_tainted_nodes_drains_first_and_no_window_opens() -> None:
    obs, sim = _run()
    assert sim.truth is not None
    assert [w for w in sim.truth.windows if w.node == NODE] == []
    draining = _first(
        obs,
        lambda o: (
            o.kind == "TargetHealth"
            and o.node == NODE
            and o.payload["TargetHealth"]["State"] == "draining"
        ),
    )
    deleted = _first(obs, lambda o: o.kind == "Node" and o.node == NODE and o.op == "DELETED")
    # the controller deregistered the node (draining) long before the machine went away
    assert draining.observed_at < deleted.observed_at


def test_without_the_skip_the_node_is_still_routed_while_it_empties() -> None:
    _obs, sim = _run(**{"ccm.exclude_to_be_deleted": False})
    assert sim.truth is not None
    mine = [w for w in sim.truth.windows if w.node == NODE]
    assert mine, "the health check alone lets traffic reach the emptying node"


def _healthz(obs: list[Observation]) -> list[Mapping[str, Any]]:
    return [o.payload for o in obs if o.kind == "ProxyNodeHealth" and o.node == NODE]


def test_kube_proxy_healthz_reports_the_node_ineligible_from_1_30() -> None:
    obs, _sim = _run()
    answers = _healthz(obs)
    assert answers[0]["status"] == 200 and answers[0]["body"]["nodeEligible"] is True
    assert any(a["status"] == 503 and a["body"]["nodeEligible"] is False for a in answers)


def test_the_per_service_health_check_ignores_eligibility() -> None:
    """A DaemonSet pod is not evicted by a scale-down: its node stays ineligible on /healthz
    but keeps answering 200 on the Service's healthCheckNodePort until the machine goes."""
    node = "node-002"
    overrides = {
        **OVERRIDES,
        "events": [{"at_s": 60, "action": "scale_down", "node": node}],
    }
    obs = list(Simulation(load_scenario("aws-nlb-lbc", overrides), 1))
    ineligible = _first(
        obs, lambda o: o.kind == "ProxyNodeHealth" and o.node == node and o.payload["status"] == 503
    )
    assert ineligible.payload["body"]["nodeEligible"] is False
    service = [
        o.payload["status"]
        for o in obs
        if o.kind == "ProxyHealth" and o.node == node and o.observed_at <= ineligible.observed_at
    ]
    after = [
        o.payload["status"]
        for o in obs
        if o.kind == "ProxyHealth" and o.node == node and o.observed_at > ineligible.observed_at
    ]
    assert service[-1] == 200
    assert 503 not in after


def test_before_1_30_healthz_has_no_eligibility() -> None:
    obs, _sim = _run(
        **{"nodes.kubelet_version": "v1.29.10", "nodes.kube_proxy_version": "v1.29.10"}
    )
    answers = _healthz(obs)
    assert answers
    assert all("nodeEligible" not in (a["body"] or {}) for a in answers)
    assert {a["status"] for a in answers} <= {200, None}


def test_replay_holds_the_truth_through_scale_downs() -> None:
    events = [
        {"at_s": 60, "action": "rollout", "workload": "ingress"},
        {"at_s": 400, "action": "scale_down", "node": "@random"},
        {"at_s": 700, "action": "scale_down", "node": "@random"},
    ]
    total = Report()
    for preset in ("aws-nlb", "aws-nlb-lbc"):
        for skip in (True, False):
            for seed in (1, 2, 3):
                overrides = {**OVERRIDES, "events": events, "ccm.exclude_to_be_deleted": skip}
                total.add(compare(preset, seed, overrides))
    assert total.truth >= 6
    assert (total.missed, total.false) == ([], [])


def test_kep_3836_before_1_28_is_a_clear_error() -> None:
    from gapwatch.recorder.errors import ConfigError

    with pytest.raises(ConfigError, match=r"kube_proxy\.draining_terminating_nodes: KEP-3836"):
        load_scenario("seed-3node", {"kube_proxy.draining_terminating_nodes": True})
    # alpha in 1.28: on only when enabled
    obs = list(
        Simulation(
            load_scenario(
                "aws-nlb",
                {
                    **OVERRIDES,
                    "nodes.kubelet_version": "v1.28.15",
                    "nodes.kube_proxy_version": "v1.28.15",
                    "kube_proxy.draining_terminating_nodes": True,
                },
            ),
            1,
        )
    )
    assert any(a["status"] == 503 for a in _healthz(obs))


def test_kube_proxy_healthz_times_are_written_as_upstream_writes_them() -> None:
    """kube-proxy's /healthz writes lastUpdated = currentTime on a 200; on a 503 the end of its
    last rules sync (kubernetes/kubernetes#83498), both as Go's time.Time.String() text."""
    obs, sim = _run()
    assert sim.world is not None
    start_us = to_micros(sim.world.clock.start)
    syncs = sim.world.proxy.synced_us[NODE]
    answers = [a for a in _healthz(obs) if a["status"] is not None]
    unhealthy = [a for a in answers if a["status"] == 503]
    assert unhealthy and len(unhealthy) < len(answers)
    for answer in answers:
        last = read_go_time(answer["body"]["lastUpdated"]).us
        now = read_go_time(answer["body"]["currentTime"]).us
        assert last is not None and now is not None
        if answer["status"] == 200:
            assert last == now
        else:  # one of the simulated kube-proxy's syncs, the last before the answer
            assert last - start_us in syncs and last < now
            assert not [t for t in syncs if last - start_us < t <= now - start_us]
