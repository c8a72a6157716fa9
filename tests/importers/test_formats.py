"""Each format's parser on records written after the upstream documentation of that format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gapwatch.recorder.accessfields import is_lb_failure
from gapwatch.recorder.importers.accesslog import parse_line
from gapwatch.recorder.importers.audit import EVIDENCE_KIND
from tests.importers.helpers import parse_bytes

T0 = "2026-11-25T09:55:46.123456Z"


def _pod(**meta: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "gw-1", "namespace": "istio-system", "resourceVersion": "42", **meta},
        "spec": {"nodeName": "node-a"},
    }


def _audit(verb: str, resource: str, **extra: Any) -> dict[str, Any]:
    """An audit event as the log backend writes one; `extra` replaces or adds fields."""
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": f"id-{verb}-{resource}",
        "stage": "ResponseComplete",
        "verb": verb,
        "user": {"username": "system:node:node-a"},
        "objectRef": {"resource": resource, "namespace": "istio-system", "name": "gw-1"},
        "responseStatus": {"code": 200},
        "stageTimestamp": T0,
    }
    event.update(extra)
    return event


def _lines(*records: Any) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


def test_audit_object_changes_become_watch_observations(tmp_path: Path) -> None:
    graceful = _pod(deletionTimestamp="2026-11-25T09:56:16Z", deletionGracePeriodSeconds=30)
    records = [
        _audit("create", "pods", responseObject=_pod()),
        _audit(
            "patch",
            "pods",
            objectRef={
                "resource": "pods",
                "subresource": "status",
                "namespace": "istio-system",
                "name": "gw-1",
            },
            responseObject=_pod(),
        ),
        _audit("delete", "pods", responseObject=graceful),
        _audit(
            "delete",
            "pods",
            responseObject=graceful,
            requestObject={"kind": "DeleteOptions", "gracePeriodSeconds": 0},
        ),
    ]
    found, errors, _stats = parse_bytes("k8s-audit", _lines(*records), tmp_path)
    assert errors == []
    assert [(o.kind, o.op, o.node, o.resource_version) for o in found] == [
        ("Pod", "ADDED", "node-a", "42"),
        ("Pod", "MODIFIED", "node-a", "42"),
        ("Pod", "MODIFIED", "node-a", "42"),  # graceful deletion: the Pod lives on
        ("Pod", "DELETED", "node-a", "42"),  # the kubelet's final delete
    ]
    assert all(o.observed_at == o.source_time for o in found)
    assert found[0].payload == _pod()


def test_audit_metadata_level_is_timing_evidence(tmp_path: Path) -> None:
    node_status = _audit(
        "patch",
        "nodes",
        level="Metadata",
        objectRef={"resource": "nodes", "subresource": "status", "name": "node-a"},
    )
    ccm = _audit(
        "update",
        "services",
        level="Metadata",
        user={"username": "system:serviceaccount:kube-system:service-controller"},
    )
    found, _errors, stats = parse_bytes("k8s-audit", _lines(node_status, ccm), tmp_path)
    assert [(o.kind, o.name, o.node, o.namespace) for o in found] == [
        (EVIDENCE_KIND, "node-a", "node-a", None),
        (EVIDENCE_KIND, "gw-1", None, "istio-system"),
    ]
    assert found[1].payload["username"].endswith("service-controller")
    from gapwatch.recorder.importers.audit import notes

    assert "objects themselves are missing" in notes(stats)[0]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"stage": "RequestReceived"}, "stage RequestReceived"),
        ({"verb": "watch"}, "read-only request"),
        ({"responseStatus": {"code": 409}}, "failed request"),
        ({"objectRef": {"resource": "secrets", "name": "x"}}, "resource replay does not use"),
        (
            {"objectRef": {"resource": "pods", "subresource": "exec", "name": "x"}},
            "subresource exec",
        ),
    ],
)
def test_audit_skips_say_why(tmp_path: Path, change: dict[str, Any], why: str) -> None:
    event = _audit("create", "pods")
    event.update(change)
    found, errors, stats = parse_bytes("k8s-audit", _lines(event), tmp_path)
    assert (found, errors, dict(stats.skipped)) == ([], [], {why: 1})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"apiVersion": "v1"}, "apiVersion 'v1': not audit.k8s.io"),
        ({"stageTimestamp": "soon"}, "stageTimestamp: 'soon' is not an RFC 3339 timestamp"),
        ({"responseObject": {"metadata": {"namespace": "x"}}}, "metadata.name: missing"),
        ({"verb": 7}, "verb: missing or not a string"),
    ],
)
def test_audit_bad_records_are_errors(tmp_path: Path, change: dict[str, Any], reason: str) -> None:
    event = _audit("create", "pods", responseObject=_pod())
    event.update(change)
    data = _lines(event)
    found, errors, _stats = parse_bytes("k8s-audit", data, tmp_path)
    assert found == [] and [e.reason for e in errors] == [reason] and errors[0].line == 1


def test_audit_event_list_is_unwrapped(tmp_path: Path) -> None:
    data = orjson.dumps(
        {
            "kind": "EventList",
            "apiVersion": "audit.k8s.io/v1",
            "items": [_audit("create", "pods", responseObject=_pod())] * 2,
        }
    )
    found, _errors, stats = parse_bytes("k8s-audit", data, tmp_path)
    assert len(found) == 2 and stats.records == 2


def _trail(name: str, **extra: Any) -> dict[str, Any]:
    record = {
        "eventVersion": "1.08",
        "eventTime": "2026-11-25T09:55:46Z",
        "eventSource": "elasticloadbalancing.amazonaws.com",
        "eventName": name,
        "userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIAEXAMPLE"},
        "requestParameters": {},
        "eventID": name,
    }
    record.update(extra)
    return record


def test_cloudtrail_membership_changes(tmp_path: Path) -> None:
    register = _trail(
        "RegisterTargets",
        requestParameters={
            "targetGroupArn": "arn:tg",
            "targets": [{"id": "i-1", "port": 31805}, {"id": "i-2"}],
        },
    )
    failed = _trail(
        "DeregisterTargets",
        errorCode="AccessDenied",
        requestParameters={"targetGroupArn": "arn:tg", "targets": [{"id": "i-1"}]},
    )
    classic = _trail(
        "DeregisterInstancesFromLoadBalancer",
        requestParameters={"loadBalancerName": "clb", "instances": [{"instanceId": "i-3"}]},
    )
    created = _trail(
        "CreateTargetGroup", responseElements={"targetGroups": [{"targetGroupArn": "arn:new"}]}
    )
    other = _trail("DescribeTargetHealth")
    data = orjson.dumps({"Records": [register, failed, classic, created, other]})
    found, errors, stats = parse_bytes("cloudtrail", data, tmp_path)
    assert errors == []
    assert [(o.op, o.payload.get("Target"), o.payload.get("TargetGroupArn")) for o in found] == [
        ("ADDED", {"Id": "i-1", "Port": 31805}, "arn:tg"),
        ("ADDED", {"Id": "i-2"}, "arn:tg"),
        ("OBSERVED", {"Id": "i-1"}, "arn:tg"),  # failed: kept as such, not a change
        ("DELETED", {"Id": "i-3"}, None),
        ("ADDED", None, "arn:new"),
    ]
    assert found[3].payload["LoadBalancerName"] == "clb"
    assert all("accessKeyId" not in o.payload["userIdentity"] for o in found)
    assert found[0].observed_at.isoformat() == "2026-11-25T09:55:46+00:00"
    assert dict(stats.skipped) == {"ELB call that changes no target membership": 1}


ALB_502 = (
    "http 2026-11-25T09:55:46.500000Z app/k8s-gw/50dc6c495c0c9188 203.0.113.7:4000 "
    '10.0.1.12:31805 0.000 -1 -1 502 - 34 272 "GET http://gw.example.com:80/ HTTP/1.1" '
    '"curl/8.0" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gw/1 '
    '"Root=1-1" "-" "-" 0 2026-11-25T09:55:46.400000Z "forward" "-" "-" "10.0.1.12:31805" "-" '
    '"-" "-"'
)


@pytest.mark.parametrize(
    ("line", "failed"),
    [
        (ALB_502, True),
        (ALB_502.replace(" 502 - ", " 502 502 "), False),  # the target itself answered 502
        (ALB_502.replace(" 502 - ", " 200 200 "), False),
        (
            ALB_502.replace(" 502 - ", " 503 - ").replace(
                '"forward" "-" "-"', '"waf" "-" "WAFConnectionError"'
            ),
            False,
        ),
        (
            "2026-11-25T09:55:46.5Z my-clb 203.0.113.7:4000 10.0.1.12:31805 0.000073 -1 -1 504 - "
            '0 0 "GET http://gw:80/ HTTP/1.1" "curl/8.0" - -',
            True,
        ),
    ],
)
def test_access_log_failure_comes_from_the_fields(tmp_path: Path, line: str, failed: bool) -> None:
    _fmt, fields = parse_line(line)
    assert is_lb_failure(fields) is failed
    _found, _errors, stats = parse_bytes("elb-access-log", line.encode(), tmp_path)
    assert stats.notes.get("failed", 0) == int(failed)
    from gapwatch.recorder.importers.accesslog import notes

    assert notes(stats)[0].startswith(f"{int(failed)} lines are the LB's own")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("hello world", "not an ALB, NLB or Classic ELB access-log line"),
        ("http 2026-11-25T09:55:46Z app/x", "alb line with 3 fields, expected 12+"),
        (
            ALB_502.replace(" 502 - ", " 5O2 - "),
            "elb_status_code: '5O2' is not an HTTP status code",
        ),
        (ALB_502.replace("2026-11-25T09:55:46.500000Z", "noon"), "time: 'noon' is not a timestamp"),
    ],
)
def test_access_log_bad_lines(tmp_path: Path, line: str, reason: str) -> None:
    found, errors, _stats = parse_bytes("elb-access-log", f"{ALB_502}\n{line}\n".encode(), tmp_path)
    assert len(found) == 1 and [(e.line, e.reason) for e in errors] == [(2, reason)]


PROM_ANSWER: dict[str, Any] = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [
            {
                "metric": {
                    "__name__": "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                    "instance": "10.0.1.12:10249",
                    "job": "kube-proxy",
                },
                "values": [[1764064546, "1764064545.5"], [1764064561, "1764064560.1"]],
            },
            {
                "metric": {
                    "__name__": "kubeproxy_sync_proxy_rules_duration_seconds_bucket",
                    "le": "0.001",
                    "node": "node-b",
                },
                "values": [[1764064546, "NaN"]],
            },
        ],
    },
}


def test_prometheus_matrix_becomes_proxy_metrics_per_node(tmp_path: Path) -> None:
    found, errors, _stats = parse_bytes("prometheus", orjson.dumps(PROM_ANSWER), tmp_path)
    assert errors == []
    assert [(o.node, o.observed_at.timestamp(), o.payload["metrics"]) for o in found] == [
        (
            "10.0.1.12",
            1764064546.0,
            {"kubeproxy_sync_proxy_rules_last_timestamp_seconds": 1764064545.5},
        ),
        (
            "10.0.1.12",
            1764064561.0,
            {"kubeproxy_sync_proxy_rules_last_timestamp_seconds": 1764064560.1},
        ),
        (
            "node-b",
            1764064546.0,
            {'kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.001"}': None},
        ),
    ]


def test_prometheus_errors(tmp_path: Path) -> None:
    data = _lines(
        {"status": "error", "errorType": "bad_data", "error": "bad query"},
        {"service": {"namespace": "default", "name": "nginx"}, "localEndpoints": 1},
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": {"__name__": "m"}, "values": [[1, "1"]]}],
            },
        },
    )
    _found, errors, _stats = parse_bytes("prometheus", data, tmp_path)
    assert [e.reason for e in errors] == [
        "status 'error': not a successful query answer (bad_data: bad query)",
        # a kube-proxy health answer, not a query's: it was "status None", Python's word
        "status: missing: not a Prometheus HTTP API answer (expected "
        '{"status": "success", "data": {"resultType": "matrix", "result": [...]}}, '
        "what /api/v1/query_range answers)",
        "series without a node, kubernetes_node, nodename or instance label",
    ]


def test_watch_capture_gaps_become_uncertainty(tmp_path: Path) -> None:
    def node(rv: str, beat: str) -> dict[str, Any]:
        return {
            "type": "MODIFIED",
            "object": {
                "kind": "Node",
                "metadata": {"name": "node-a", "resourceVersion": rv},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": beat}]
                },
            },
        }

    data = _lines(
        node("1", "2026-11-25T09:00:00Z"),
        {"type": "BOOKMARK", "object": {}},
        node("2", "2026-11-25T09:05:00Z"),
        node("3", "2026-11-25T09:01:00Z"),
        {"type": "ERROR", "object": {"code": 410}},
    )
    found, errors, stats = parse_bytes("k8s-watch", data, tmp_path)
    assert errors == []
    assert [(o.resource_version, o.observed_at.minute, o.previous_observed_at) for o in found] == [
        ("1", 0, None),
        ("2", 5, found[0].observed_at),
        ("3", 5, None),  # older own time: the capture's order wins, no gap to bound it
    ]
    assert dict(stats.skipped) == {"BOOKMARK": 1, "watch ERROR event (changes may be missing)": 1}
