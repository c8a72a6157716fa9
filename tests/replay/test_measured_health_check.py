"""A target group's stated health-check settings replace the assumed ones in detection
(replay.measure.lb_settings), where the LB's health is inferred (CloudTrail membership, no
target-health poller). Literal CloudTrail records through the real importer: CreateTargetGroup
with the settings of AWS's own DescribeTargetGroups example (interval 30 s, healthy 5,
unhealthy 2; botocore's examples-1.json) health-checking the Service's healthCheckNodePort,
RegisterTargets, then ModifyTargetGroup (the call that changes a health check)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.measure import lb_settings
from tests.replay.builders import eps, facts_of, node, pod, service
from tests.replay.test_membership import GROUP, REF, SETTINGS, trail, us


def _call(t: float, name: str, params: dict[str, Any], response: Any = None) -> Observation:
    """One call without targets, as `gapwatch import cloudtrail` stores it."""
    return trail(t, name, "", requestParameters=params, responseElements=response)


def _created(t: float, *, stated: bool = True) -> Observation:
    params = {
        "name": "k8s-istio",
        "protocol": "TCP",
        "port": 32999,
        "vpcId": "vpc-3ac0fb5f",
        "healthCheckProtocol": "HTTP",
        "healthCheckPort": "31805",  # the Service's healthCheckNodePort: node-driven
        "healthCheckIntervalSeconds": 30,
        "healthCheckTimeoutSeconds": 5,
        "healthyThresholdCount": 5,
        "unhealthyThresholdCount": 2,
        "targetType": "instance",
    }
    if not stated:
        params = {k: v for k, v in params.items() if not k.endswith(("Seconds", "Count"))}
    response = {"targetGroups": [{"targetGroupArn": GROUP, "targetGroupName": "k8s-istio"}]}
    return _call(t, "CreateTargetGroup", params, response)


def _history(*extra: Observation) -> list[Observation]:
    """n1's only pod is ready from 5 s and fails readiness on SIGTERM at 240 s (kube-proxy
    stops forwarding to it); the node stays registered (a node-driven LB deregisters nothing):
    the LB stops routing once its health check failed `unhealthy` times."""
    obs = [
        service(0),
        node(0, "n1"),
        _created(1),
        pod(5, "p1", "n1", "ready"),
        eps(5, [("p1", "n1", "ready")]),
        trail(8, "RegisterTargets", "i-n1"),
        pod(240, "p1", "n1", "terminating", deleted_at=240),
        eps(240, [("p1", "n1", "stopped")]),
        *extra,
    ]
    return sorted(obs, key=lambda o: o.observed_at)


def test_created_settings_replace_the_assumed_health_check() -> None:
    state = fold(FoldState(), facts_of(_history()))
    assert lb_settings(state, REF) == {
        "hc_interval_s": 30.0,
        "hc_healthy_threshold": 5,
        "hc_unhealthy_threshold": 2,
    }
    found = detect(state, settings=SETTINGS)
    assert [(w.node, w.cls, w.certain) for w in found] == [
        ("n1", "closed-before-deregistered", True)
    ]
    # unhealthy after 2 failed checks 30 s apart: R surely until 240 + (2-1) x 30 s, at most
    # until 240 + 1 s (kube-proxy's lag) + 2 x 30 s; the assumed 10 s x 3: 260..271 s
    assert (found[0].end_earliest_us, found[0].end_latest_us) == (us(270), us(301))


def test_a_later_modify_target_group_wins() -> None:
    modified = _call(
        20,
        "ModifyTargetGroup",
        {"targetGroupArn": GROUP, "healthCheckIntervalSeconds": 5, "unhealthyThresholdCount": 3},
    )
    state = fold(FoldState(), facts_of(_history(modified)))
    assert lb_settings(state, REF)["hc_interval_s"] == 5.0
    (window,) = detect(state, settings=SETTINGS)
    assert (window.end_earliest_us, window.end_latest_us) == (us(240 + 2 * 5), us(241 + 3 * 5))


def test_without_stated_settings_the_assumption_holds() -> None:
    """The same history with the settings left out of the create call: the defaults
    (AWS Load Balancer Controller: 10 s, 3/3)."""
    obs = [o for o in _history() if o.payload.get("eventName") != "CreateTargetGroup"]
    state = fold(FoldState(), facts_of([_created(1, stated=False), *obs]))
    assert lb_settings(state, REF) == {}
    (window,) = detect(state, settings=SETTINGS)
    assert (window.end_earliest_us, window.end_latest_us) == (us(240 + 2 * 10), us(241 + 3 * 10))


def test_a_failed_modify_states_nothing() -> None:
    failed = _call(
        20, "ModifyTargetGroup", {"targetGroupArn": GROUP, "healthCheckIntervalSeconds": 5}
    )
    failed_obs = replace(failed, op="OBSERVED")
    state = fold(FoldState(), facts_of(_history(failed_obs)))
    assert lb_settings(state, REF)["hc_interval_s"] == 30.0
