"""Measurements that replace assumptions (replay/measure.py): a target group's health-check
settings from the poller's reads and from CloudTrail, the watch delay from observer vs API time.

The target group comes from AWS's own ELBv2 examples (botocore's examples-1.json, copied
unchanged into tests/fixtures/sim): `DescribeTargetGroups` (interval 30 s, thresholds 5/2,
timeout 5 s), `DescribeTargetGroupAttributes` (deregistration delay 300 s) and
`ModifyTargetGroupAttributes` (to 600 s). The poller's payload is built as docs/observation.md
describes `TargetGroupAttributes`; CloudTrail's requestParameters are the API input with
lower-camel keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gapwatch.recorder.sources.lb.elbv2 import TIMING_ATTRIBUTE_PREFIXES
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.measure import Row, target_group_settings, watch_delay, with_measured

EXAMPLES = (
    Path(__file__).resolve().parents[1] / "fixtures" / "sim" / "botocore-elbv2-examples-1.json"
)
S = 1_000_000


def _example(name: str) -> dict[str, Any]:
    data = json.loads(EXAMPLES.read_text())
    examples = data.get("examples", data)
    result: dict[str, Any] = examples[name][0]
    return result


def _poller_read(at_s: float) -> Row:
    group = _example("DescribeTargetGroups")["output"]["TargetGroups"][0]
    attrs = {
        k: str(v)
        for k, v in group.items()
        if (k.startswith("HealthCheck") and k != "HealthCheckPort") or k.endswith("ThresholdCount")
    }
    for item in _example("DescribeTargetGroupAttributes")["output"]["Attributes"]:
        if item["Key"].startswith(TIMING_ATTRIBUTE_PREFIXES):
            attrs[item["Key"]] = item["Value"]
    payload = {
        "TargetGroupArn": group["TargetGroupArn"],
        "Attributes": attrs,
        "Cloud": "aws",
        "HealthCheckPort": group["HealthCheckPort"],
    }
    return Row("TargetGroupAttributes", "ADDED", "lb-poller", round(at_s * S), None, payload)


def _lower_camel(params: dict[str, Any]) -> dict[str, Any]:
    def key(k: str) -> str:
        return k[:1].lower() + k[1:]

    def conv(v: Any) -> Any:
        if isinstance(v, dict):
            return {key(k): conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    out: dict[str, Any] = conv(params)
    return out


def _trail(event: str, params: dict[str, Any], at_s: float) -> Row:
    payload = {"eventName": event, "requestParameters": _lower_camel(params)}
    op = "ADDED" if event.startswith("Create") else "MODIFIED"
    return Row("TargetChange", op, "cloudtrail", round(at_s * S), round(at_s * S), payload)


def test_the_pollers_read_is_a_measurement_of_every_setting() -> None:
    found = target_group_settings([_poller_read(10)], DEFAULTS)
    assert found["hc_interval_s"].value == 30.0
    assert found["hc_healthy_threshold"].value == 5.0
    assert found["hc_unhealthy_threshold"].value == 2.0
    assert found["hc_timeout_s"].value == 5.0
    assert found["deregistration_delay_s"].value == 300.0
    assert all(m.measured and m.samples == 1 for m in found.values())
    assert found["hc_interval_s"].describe() == "measured (1 sample, TargetGroupAttributes)"
    used = with_measured(DEFAULTS, found)
    assert (used.hc_interval_s, used.hc_healthy_threshold, used.hc_unhealthy_threshold) == (
        30.0,
        5,
        2,
    )


def test_cloudtrail_create_then_modify_the_newest_wins_and_the_change_shows() -> None:
    create = _example("CreateTargetGroup")["input"] | {
        "HealthCheckIntervalSeconds": 10,
        "HealthyThresholdCount": 3,
        "UnhealthyThresholdCount": 3,
    }
    modify = _example("ModifyTargetGroupAttributes")["input"]
    rows = [
        _trail("ModifyTargetGroupAttributes", modify, 50),
        _trail("CreateTargetGroup", create, 5),
        _poller_read(20),
    ]
    found = target_group_settings(rows, DEFAULTS)
    # the trail's create (10 s) was followed by a poller read (30 s): the newest is in use
    assert found["hc_interval_s"].value == 30.0 and found["hc_interval_s"].values == (10.0, 30.0)
    assert found["deregistration_delay_s"].value == 600.0
    assert found["deregistration_delay_s"].values == (300.0, 600.0)
    assert found["deregistration_delay_s"].samples == 2
    assert "TargetChange" in found["deregistration_delay_s"].source


def test_nothing_read_is_an_assumption_with_its_source() -> None:
    found = target_group_settings([], DEFAULTS)
    interval = found["hc_interval_s"]
    assert not interval.measured and interval.value == DEFAULTS.hc_interval_s
    assert interval.describe().startswith("assumed (default 10, AWS Load Balancer Controller")
    assert "300" in found["deregistration_delay_s"].describe()
    assert with_measured(DEFAULTS, found) == DEFAULTS


def _watched(kind: str, op: str, observed_s: float, source_s: float | None) -> Row:
    own = None if source_s is None else round(source_s * S)
    return Row(kind, op, "k8s-watch", round(observed_s * S), own)


def test_watch_delay_from_changes_the_watch_delivered_not_from_the_initial_list() -> None:
    rows = [
        # the recorder's first list at t=100: old objects, their creation long before
        _watched("Pod", "ADDED", 100.0, 10.0),
        _watched("Node", "ADDED", 100.2, 0.0),
        # watched later: a pod created at 200 s (whole-second stamp) seen at 200.4 s
        _watched("Pod", "ADDED", 200.4, 200.0),
        _watched("EndpointSlice", "ADDED", 201.7, 201.0),
        _watched("Event", "MODIFIED", 250.3, 250.0),
        # an update has no time of its own: not a sample
        _watched("Pod", "MODIFIED", 260.0, None),
        # the observer's clock behind the API server's: counted, not a delay
        _watched("Pod", "ADDED", 299.5, 300.0),
    ]
    found = watch_delay(rows, list_s=1.0)
    assert found.measured and found.samples == 3
    assert found.value is not None and abs(found.value - 0.7) < 1e-9
    assert found.negative == 1
    assert "upper bounds" in found.describe()


def test_no_watch_means_no_watch_delay() -> None:
    found = watch_delay([Row("ProxyHealth", "OBSERVED", "kube-proxy-probe", 5, None)], list_s=1)
    assert not found.measured and found.value is None


def test_the_store_says_measured_for_the_simulated_pollers_read(store_url: str) -> None:
    """End to end through a real store (SQLite and PostgreSQL) and the CLI: the simulator's
    poller read the target group once; `gapwatch assumptions --json` lists each setting as
    measured from it with the scenario's values, and the watch delay from the watched pods."""
    from gapwatch.recorder.sim import load_scenario
    from tests.replay.test_assumptions import gw

    gw("simulate", "--scenario", "aws-nlb", "--seed", "2", "--db", store_url)
    shown = json.loads(gw("assumptions", "--db", store_url, "--json"))
    rows = {r["name"]: r for r in shown["measured"]}
    hc = load_scenario("aws-nlb", {}).lb.health_check
    assert rows["hc_interval_s"]["value"] == hc.interval_s
    assert rows["hc_unhealthy_threshold"]["value"] == hc.unhealthy_threshold
    assert rows["deregistration_delay_s"]["value"] == 300.0
    assert rows["hc_interval_s"]["provenance"] == "measured (1 sample, TargetGroupAttributes)"
    watch = rows["watch_delay_s"]
    assert watch["samples"] > 0
    # the simulator's watch delay is at most 0.5 s; whole-second stamps add less than 1 s
    assert 0 < watch["value"] < 1.5
    # detection's watch skew: measured from the objects' managedFields times (the simulator
    # stamps its writes as the API server does): a lane time at most 1 s after its change
    skew = rows["watch_skew_s"]
    assert skew["samples"] >= 5 and 0 < skew["value"] <= 1.0
    assert skew["provenance"].startswith("measured (")
    assert "managedFields" in skew["provenance"]
