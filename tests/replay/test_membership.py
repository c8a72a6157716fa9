"""CloudTrail membership as the LB lane: literal Kubernetes objects plus CloudTrail records (the
real importer's parse turns each record into TargetChange observations), folded and detected.
No LB poller: R comes from RegisterTargets / DeregisterTargets, health unknown or inferred."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.importers.base import Context
from gapwatch.recorder.importers.cloudtrail import parse
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.membership import member_lanes
from gapwatch.replay.model import LB_STATES, ServiceRef
from gapwatch.replay.routed import routed_signal
from gapwatch.replay.segments import lane_segments
from tests.replay.builders import CLUSTER, NS, SVC, at, eps, facts_of, node, pod, service

GROUP = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/k8s-istio/73e2d6bc"
REF = ServiceRef(CLUSTER, NS, SVC)
#: kube-proxy within 1 s; the LB applies a call 2..5 s after it (shrunk from the defaults so
#: the bounds below are small numbers; the rules are the same)
SETTINGS = DetectSettings(proxy_lag_max_s=1.0, ccm_lag_min_s=2.0, ccm_lag_max_s=5.0)


def us(seconds: float) -> int:
    return to_micros(at(seconds))


def trail(
    t: float, name: str, target: str, port: int = 32999, group: str = GROUP, **extra: Any
) -> Observation:
    """What `gapwatch import cloudtrail` stores for one call (eventTime in whole seconds)."""
    record = {
        "eventVersion": "1.08",
        "eventTime": at(t).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "elasticloadbalancing.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-west-1",
        "requestParameters": {"targetGroupArn": group, "targets": [{"id": target, "port": port}]},
        "responseElements": None,
        **extra,
    }
    found = parse(record, Context(cluster=CLUSTER, file="trail.json"))
    assert isinstance(found, list) and len(found) == 1
    return found[0]


def rollout(dereg_at: float = 43.0) -> list[Observation]:
    """n1's only pod fails readiness on SIGTERM at 40 s (kube-proxy stops forwarding: it is not
    serving) and lives on until 70 s; the CCM deregisters n1 seconds later."""
    return [
        service(0),
        node(0, "n1"),
        pod(5, "p1", "n1", "ready"),
        eps(5, [("p1", "n1", "ready")]),
        trail(8, "RegisterTargets", "i-n1"),
        pod(40, "p1", "n1", "terminating", deleted_at=40),
        eps(40, [("p1", "n1", "stopped")]),
        trail(dereg_at, "DeregisterTargets", "i-n1"),
        pod(70, "p1", "n1", "gone", deleted_at=40),
        eps(70, []),
    ]


def test_deregistration_after_the_pod_stopped_gives_a_measured_lb_side() -> None:
    state = fold(FoldState(), facts_of(rollout()))
    found = detect(state, settings=SETTINGS)
    assert [(w.node, w.cls) for w in found] == [("n1", "closed-before-deregistered")]
    window = found[0]
    # kube-proxy may close from 39.5 s (the slice seen at 40 s, which its own watch may have
    # delivered up to the 0.5 s watch skew before the recorder's); the LB may route until the
    # call (43 s +-1 s of eventTime resolution) took effect, at most ccm_lag_max_s after: 49 s
    assert (window.start_earliest_us, window.end_latest_us) == (us(39.5), us(49))
    # membership without a health check: R possible, never proven, so the window is not certain
    assert not window.certain
    _routed, lb_measured = routed_signal(state, REF, "n1", SETTINGS)
    assert lb_measured
    # the F side is inferred from the watch alone: the window as a whole is not measured
    assert window.provenance == "inferred"


def test_the_trail_moves_the_end_of_the_window() -> None:
    """Without the trail the end comes from the assumed CCM lag after the endpoints change
    (40 s + 5 s); with a deregistration at 60 s the LB side ends where the call says."""
    without = [o for o in rollout() if o.kind != "TargetChange"]
    inferred = detect(fold(FoldState(), facts_of(without)), settings=SETTINGS)
    assert [w.end_latest_us for w in inferred] == [us(45)]
    late = detect(fold(FoldState(), facts_of(rollout(dereg_at=60))), settings=SETTINGS)
    assert [(w.cls, w.end_latest_us) for w in late] == [("closed-before-deregistered", us(66))]


def test_a_known_health_check_makes_the_window_certain() -> None:
    """A node-driven LB checks healthCheckNodePort: healthy once 3 checks passed after the
    endpoint turned ready, until 3 failed after it stopped. Registered and healthy is routed."""
    state = fold(FoldState(), facts_of(rollout()))
    found = detect(state, settings=DetectSettings(**{**_fields(SETTINGS), "ccm_mode": "node"}))
    assert len(found) == 1 and found[0].certain
    window = found[0]
    assert window.cls == "closed-before-deregistered"
    # F possibly false from 39.5 s (the slice seen at 40 s less the watch skew) and surely
    # from 41 s; R surely true until the deregistration surely applied (42 + 2)
    assert window.start_earliest_us == us(39.5) and window.start_latest_us == us(41)
    assert window.end_earliest_us == us(44) and window.end_latest_us == us(49)


def _fields(settings: DetectSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def test_failed_calls_and_group_calls_are_no_membership_facts() -> None:
    failed = trail(43, "DeregisterTargets", "i-n1", errorCode="AccessDenied")
    assert failed.op == "OBSERVED"
    assert derive(1, failed) == []
    facts = derive(2, trail(43, "DeregisterTargets", "i-n1"))
    assert [(f.fact, f.state, f.num1, f.text1, f.text3) for f in facts] == [
        ("member", "deregistered", 32999, GROUP, "i-n1")
    ]
    assert facts[0].src_us == us(43)


def test_targets_map_by_instance_id_and_node_port_and_group_deletion_empties_the_group() -> None:
    deleted = Observation(
        observed_at=at(50),
        cluster=CLUSTER,
        source="cloudtrail",
        kind="TargetChange",
        op="DELETED",
        payload={"eventName": "DeleteTargetGroup", "TargetGroupArn": GROUP},
        source_time=at(50),
    )
    obs = [
        trail(8, "RegisterTargets", "i-n1"),  # before the Node and Service are known: still mapped
        trail(9, "RegisterTargets", "i-n2"),
        trail(9, "RegisterTargets", "i-unknown"),  # no such node: left out
        # another group, whose NodePort no Service has: left out
        trail(9, "RegisterTargets", "i-n2", port=31000, group=GROUP + "-other"),
        service(10),
        node(10, "n1"),
        node(10, "n2"),
        deleted,
    ]
    state = fold(FoldState(), facts_of(obs))
    lanes = member_lanes(state)
    assert sorted(node for _svc, node in lanes) == ["n1", "n2"]
    assert [(s.at_us, s.value) for s in lanes[(REF, "n1")]] == [
        (us(8), "registered"),
        (us(50), "deregistered"),
    ]
    assert [s.value for s in lanes[(REF, "n2")]] == ["registered", "deregistered"]


def test_the_timeline_shows_the_trail_as_the_lb_lane() -> None:
    """No poller: the lb lane of the timeline is the membership, each call within 1 s before
    its eventTime (whole seconds) at the earliest."""
    state = fold(FoldState(), facts_of(rollout()))
    lb = [s for s in lane_segments(state, REF) if s.lane == "lb"]
    assert [(s.state, s.start_us, s.start_earliest_us, s.end_us) for s in lb] == [
        ("REGISTERED", us(8), us(7), us(43)),
        ("DEREGISTERED", us(43), us(42), None),
    ]
    assert {s.state for s in lb} <= set(LB_STATES)


def created(t: float, health_check_port: str) -> Observation:
    """CreateTargetGroup as CloudTrail records it (the new group's ARN in the response)."""
    record = {
        "eventTime": at(t).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "elasticloadbalancing.amazonaws.com",
        "eventName": "CreateTargetGroup",
        "requestParameters": {
            "name": "k8s-istio-73e2d6bc",
            "protocol": "TCP",
            "port": 32999,
            "healthCheckProtocol": "HTTP",
            "healthCheckPort": health_check_port,
            "healthCheckPath": "/healthz",
            "targetType": "instance",
        },
        "responseElements": {"targetGroups": [{"targetGroupArn": GROUP}]},
    }
    found = parse(record, Context(cluster=CLUSTER, file="trail.json"))
    assert isinstance(found, list)
    return found[0]


def test_a_group_created_to_check_the_health_check_node_port_is_node_driven() -> None:
    """The trail's CreateTargetGroup says the LB checks healthCheckNodePort (31805): the LB is
    node-driven without any poller, and the window becomes certain as with ccm_mode node."""
    checked = detect(fold(FoldState(), facts_of([created(1, "31805"), *rollout()])), None, SETTINGS)
    assert [(w.cls, w.certain) for w in checked] == [("closed-before-deregistered", True)]
    assert (checked[0].end_earliest_us, checked[0].end_latest_us) == (us(44), us(49))
    # a group that checks the traffic port proves nothing about the health check node port
    other = facts_of([created(1, "traffic-port"), *rollout()])
    traffic = detect(fold(FoldState(), other), None, SETTINGS)
    assert [(w.cls, w.certain) for w in traffic] == [("closed-before-deregistered", False)]


def test_a_registered_node_without_endpoints_means_the_lb_checks_health() -> None:
    """The CCM registered n2, which never had an endpoint of the Service: only a node-driven LB
    (one that health-checks every node) does that, so the inferred health check bounds R and
    n1's window becomes certain (endpoint-driven it could not be: membership proves no health).
    n2 has no endpoints lane, so it is no node of the Service's windows either way."""
    obs = [*rollout(), node(0, "n2"), trail(8, "RegisterTargets", "i-n2")]
    found = detect(fold(FoldState(), facts_of(obs)), None, SETTINGS)
    assert [(w.node, w.cls, w.certain) for w in found] == [
        ("n1", "closed-before-deregistered", True)
    ]


INSTANCE = "i-0a1b2c3d4e5f60718"  # an EC2 instance id (17 hex digits)


def test_a_node_seen_only_in_the_trail_gets_a_lane_named_by_its_instance_id() -> None:
    """The CCM registered an instance no Node object names (the audit log began later, or the
    node is new): the LB may route there and nothing says it serves, so its possible window is
    shown under the instance id; once a Node names the instance, the lane is that node's."""
    trail_only = [*rollout(), trail(20, "RegisterTargets", INSTANCE)]
    state = fold(FoldState(), facts_of(trail_only))
    assert (REF, INSTANCE) in member_lanes(state)
    found = [w for w in detect(state, settings=SETTINGS) if w.node == INSTANCE]
    assert len(found) == 1 and not found[0].certain
    assert found[0].start_earliest_us == us(19 + 2)  # the call (+-1 s) applied 2..5 s later
    from gapwatch.replay.context import ccm_mode

    # an unknown node's endpoints are unknown: it does not make the LB look node-driven
    assert ccm_mode(state, REF, SETTINGS) == "endpoint"
    named = fold(FoldState(), facts_of([*trail_only, node(0, INSTANCE.removeprefix("i-"))]))
    assert (REF, INSTANCE) not in member_lanes(named)
    assert (REF, INSTANCE.removeprefix("i-")) in member_lanes(named)


def _with_ip(obs: Observation, ip: str) -> Observation:
    obs.payload["status"]["podIP"] = ip
    return obs


def test_ip_targets_map_to_their_pods_node_and_bypass_kube_proxy() -> None:
    """AWS LB Controller `target-type: ip`: the group holds pod IPs on the container port. Each
    maps to its pod's node and the Service whose slices name the pod; the node stays registered
    while any of its pods is; F is the pods themselves (no kube-proxy on the path), so a pod
    gone before its deregistration is the window, whatever kube-proxy did."""
    observations = [
        service(0),
        node(0, "n1"),
        _with_ip(pod(5, "p1", "n1", "ready"), "10.1.0.5"),
        _with_ip(pod(5, "p2", "n1", "ready"), "10.1.0.6"),
        eps(5, [("p1", "n1", "ready"), ("p2", "n1", "ready")]),
        trail(8, "RegisterTargets", "10.1.0.5", port=8080),
        trail(8, "RegisterTargets", "10.1.0.6", port=8080),
        _with_ip(pod(40, "p1", "n1", "terminating", deleted_at=40), "10.1.0.5"),
        eps(40, [("p1", "n1", "stopped"), ("p2", "n1", "ready")]),
        trail(45, "DeregisterTargets", "10.1.0.5", port=8080),  # p2 still registered
        _with_ip(pod(50, "p2", "n1", "terminating", deleted_at=50), "10.1.0.6"),
        eps(50, [("p1", "n1", "stopped"), ("p2", "n1", "stopped")]),
        _with_ip(pod(60, "p2", "n1", "gone", deleted_at=50), "10.1.0.6"),
        _with_ip(pod(61, "p1", "n1", "gone", deleted_at=40), "10.1.0.5"),
        eps(61, []),
        trail(80, "DeregisterTargets", "10.1.0.6", port=8080),
    ]
    state = fold(FoldState(), facts_of(observations))
    lanes = member_lanes(state)
    assert [(s.value, s.at_us) for s in lanes[(REF, "n1")]] == [
        ("registered", us(8)),
        ("deregistered", us(80)),
    ]
    from gapwatch.replay.membership import pod_targeted

    assert pod_targeted(state, (REF, "n1"))
    (window,) = detect(state, settings=SETTINGS)
    assert (window.node, window.cls) == ("n1", "pod-gone-before-deregistered")
    # the last pod stops at 61 s at the latest (the update that says so); the LB may route
    # until the call (80 s +-1 s) applied, 5 s after at most
    assert window.end_latest_us == us(86)
    assert us(55) <= window.start_earliest_us <= us(61)
