"""Observations built from the real published samples in tests/fixtures/store (see SOURCES.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gapwatch.recorder.observation import Observation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "store"
T0 = datetime(2026, 3, 13, 10, 0, 0, 123456, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def real_observations(cluster: str = "kind-dev") -> list[Observation]:
    """One observation per real object in the fixtures: Services, an EndpointSlice, a Node watch
    event, a kube-proxy health-check answer and ELBv2 target-health descriptions."""
    out: list[Observation] = []
    at = T0
    for i, svc in enumerate(load("kubelb-kind-services-lb-local-healthchecknodeport.json")):
        meta = svc["metadata"]
        out.append(
            Observation(
                observed_at=at + timedelta(milliseconds=i), cluster=cluster, source="k8s-watch",
                kind="Service", op="ADDED", namespace=meta["namespace"], name=meta["name"],
                resource_version=meta.get("resourceVersion"), payload=svc,
            )
        )  # fmt: skip
    eps = load("k9s-endpointslice-v1.json")
    out.append(
        Observation(
            observed_at=at + timedelta(seconds=1), cluster=cluster, source="k8s-watch",
            kind="EndpointSlice", op="MODIFIED", namespace=eps["metadata"]["namespace"],
            name=eps["metadata"]["name"], resource_version="4242", payload=eps,
        )
    )  # fmt: skip
    line = (FIXTURES / "aws-kops-node-watch-modified.jsonl").read_text().splitlines()[0]
    event = json.loads(line)
    node = event["object"]
    out.append(
        Observation(
            observed_at=at + timedelta(seconds=2), cluster=cluster, source="k8s-watch",
            kind="Node", op=event["type"], name=node["metadata"]["name"],
            node=node["metadata"]["name"], resource_version=node["metadata"]["resourceVersion"],
            payload=node,
        )
    )  # fmt: skip
    body = load("hcnp-body-aks-nginx-legacy-format.json")
    out.append(
        Observation(
            observed_at=at + timedelta(seconds=3), cluster=cluster, source="kube-proxy-probe",
            kind="ProxyHealth", op="OBSERVED", namespace="default", name="nginx",
            node="aks-default-24553791-vmss000002",
            previous_observed_at=at + timedelta(seconds=2),
            payload={"status": 200, "body": body, "error": None, "port": 31805},
        )
    )  # fmt: skip
    examples = load("botocore-elbv2-examples-1.json")["examples"]["DescribeTargetHealth"]
    for j, example in enumerate(examples):
        for k, desc in enumerate(example["output"]["TargetHealthDescriptions"]):
            payload = dict(desc, TargetGroupArn=example["input"]["TargetGroupArn"])
            out.append(
                Observation(
                    observed_at=at + timedelta(seconds=4 + j, milliseconds=k),
                    cluster=cluster, source="lb-poller", kind="TargetHealth", op="MODIFIED",
                    namespace="default", name="nginx", node=f"node-{desc['Target']['Id']}",
                    payload=payload,
                )
            )  # fmt: skip
    return out
