"""Every real sample of a supported format imports, with the counts read off each file by hand
(tests/fixtures/importers/SOURCES.md says where each came from), into both stores."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine, func, select

from gapwatch.recorder.accessfields import is_lb_failure
from gapwatch.recorder.importers import load
from gapwatch.recorder.importers.driver import import_format
from gapwatch.recorder.tables import events
from gapwatch.replay.facts import write_facts
from tests.importers.helpers import FIXTURES, parse

#: file -> (format, records, {kind: observations}, {skip reason: records})
EXPECTED: dict[str, tuple[str, int, dict[str, int], dict[str, int]]] = {
    # 37 Metadata-level list/get requests of a demo user: nothing changed anything
    "audit2rbac-demo-audit-v1.log": ("k8s-audit", 37, {}, {"read-only request": 37}),
    # services create x3 / delete (level Request: evidence only), pods create x2 (RequestResponse),
    # exec/attach (ResponseStarted), deployments create/delete (Request), configmap, namespace
    "falco-k8s-audit-minikube-2018.jsonl": (
        "k8s-audit",
        12,
        {"APIRequest": 6, "Pod": 2},
        {"stage ResponseStarted": 2, "resource replay does not use": 2},
    ),
    "aws-kops-node-watch-modified.jsonl": ("k8s-watch", 1, {"Node": 1}, {}),
    "aws-kops-nodelist-2nodes.json": ("k8s-watch", 2, {"Node": 2}, {}),
    "k9s-node-minikube.json": ("k8s-watch", 1, {"Node": 1}, {}),
    "k9s-service-clusterip.json": ("k8s-watch", 1, {"Service": 1}, {}),
    "k9s-endpointslice-v1.json": ("k8s-watch", 1, {"EndpointSlice": 1}, {}),
    "k9s-endpoints-v1.json": ("k8s-watch", 1, {}, {"kind replay does not use": 1}),
    "k9s-event-kubelet-pulled.json": ("k8s-watch", 1, {"Event": 1}, {}),
    "kubelb-kind-services-lb-local-healthchecknodeport.json": ("k8s-watch", 6, {"Service": 6}, {}),
    "awsdocs-alb-cloudtrail-CreateLoadBalancer.json": (
        "cloudtrail",
        1,
        {},
        {"ELB call that changes no target membership": 1},
    ),
    "awsdocs-alb-cloudtrail-DeleteLoadBalancer.json": (
        "cloudtrail",
        1,
        {},
        {"ELB call that changes no target membership": 1},
    ),
    "awsdocs-clb-access-log-examples.log": ("elb-access-log", 4, {"LBAccessLog": 4}, {}),
    # 10 ALB, 4 Classic, 2 NLB TLS lines, no trailing newline
    "plaso-aws_elb_access.log": ("elb-access-log", 16, {"LBAccessLog": 16}, {}),
}


def test_every_fixture_has_expectations() -> None:
    files = {p.name for p in FIXTURES.iterdir() if p.name != "SOURCES.md"}
    assert files == set(EXPECTED)
    listed = (FIXTURES / "SOURCES.md").read_text()
    assert all(f"### `{name}`" in listed for name in files)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_counts(name: str) -> None:
    fmt, records, kinds, skipped = EXPECTED[name]
    found, errors, stats = parse(fmt, FIXTURES / name)
    assert errors == []
    assert stats.records == records
    assert dict(stats.kinds) == kinds == dict(Counter(o.kind for o in found))
    assert dict(stats.skipped) == skipped
    assert stats.imported_records + stats.rejected + sum(stats.skipped.values()) == records


def test_access_log_formats_are_told_apart_per_line() -> None:
    found, _errors, _stats = parse("elb-access-log", FIXTURES / "plaso-aws_elb_access.log")
    assert Counter(o.payload["format"] for o in found) == {"alb": 10, "classic": 4, "nlb": 2}
    first = found[0].payload["fields"]
    assert first["elb_status_code"] == "200" and first["target:port"] == "192.168.1.123:32869"
    assert first["actions_executed"] == "waf,forward"
    # request_creation_time is when the request was made; time when the response went out
    assert found[0].source_time is not None and found[0].source_time < found[0].observed_at
    # none of these is the LB's own failure (the Classic 502 in the docs has no HTTP status)
    assert not any(is_lb_failure(o.payload["fields"]) for o in found)
    nlb = [o for o in found if o.payload["format"] == "nlb"]
    assert nlb[0].observed_at.isoformat() == "2022-04-01T08:51:42+00:00"


def test_audit_objects_keep_identity_and_time() -> None:
    found, _e, _s = parse("k8s-audit", FIXTURES / "falco-k8s-audit-minikube-2018.jsonl")
    pods = [o for o in found if o.kind == "Pod"]
    assert [(p.op, p.namespace, p.resource_version) for p in pods] == [
        ("ADDED", "default", "237324"),
        ("ADDED", "default", "256667"),
    ]
    assert pods[0].observed_at.isoformat() == "2018-10-25T14:09:49.761315+00:00"
    evidence = [o for o in found if o.kind == "APIRequest"]
    assert {o.payload["objectRef"]["resource"] for o in evidence} == {"services", "deployments"}
    assert all("requestObject" not in o.payload for o in evidence)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_samples_store_once(engine: Engine, name: str) -> None:
    fmt, _records, kinds, _skipped = EXPECTED[name]
    path = str(FIXTURES / name)
    first = import_format(engine, load(fmt), [path], cluster="samples", derive=write_facts)
    again = import_format(engine, load(fmt), [path], cluster="samples", derive=write_facts)
    assert first.report.error_count == 0
    assert first.report.written.inserted == sum(kinds.values())
    assert again.report.written.inserted == 0
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
    assert stored == sum(kinds.values())
