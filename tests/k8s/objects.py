"""Kubernetes objects for the tests: the real samples of tests/fixtures/k8s, and variations.

Variations keep a sample's shape and change only names, labels, conditions and node names, so
the fake serves objects shaped as a real cluster's are.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


def nodes() -> list[dict[str, Any]]:
    """The two real kops AWS nodes plus the minikube node."""
    items = _load("aws-kops-nodelist-2nodes.json")["items"]
    return [*items, _load("k9s-node-minikube.json")]


def node(index: int) -> dict[str, Any]:
    """A copy of a real node named node-INDEX."""
    obj = copy.deepcopy(nodes()[index % 3])
    obj["metadata"]["name"] = f"node-{index}"
    obj["metadata"].pop("resourceVersion", None)
    return obj


def services() -> list[dict[str, Any]]:
    """Six real type=LoadBalancer, externalTrafficPolicy=Local Services (namespace kubelb)."""
    return list(_load("kubelb-kind-services-lb-local-healthchecknodeport.json"))


def endpoint_slice(namespace: str, name: str, service: str, node: str) -> dict[str, Any]:
    """The real k9s EndpointSlice, renamed, labelled for `service`, endpoints on `node`."""
    obj: dict[str, Any] = copy.deepcopy(_load("k9s-endpointslice-v1.json"))
    obj["metadata"].update(
        name=name, namespace=namespace, labels={"kubernetes.io/service-name": service}
    )
    for endpoint in obj["endpoints"]:
        endpoint["nodeName"] = node
    return obj


def event(namespace: str, name: str, component: str, reason: str) -> dict[str, Any]:
    """The real k9s Event, renamed, from `component` with `reason`."""
    obj: dict[str, Any] = copy.deepcopy(_load("k9s-event-kubelet-pulled.json"))
    obj["metadata"].update(name=name, namespace=namespace)
    obj["metadata"].pop("resourceVersion", None)
    obj["source"] = {"component": component}
    obj["reason"] = reason
    return obj


def pod(namespace: str, name: str, node: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Pod as the API returns it (no pod sample in /work/shared/samples: built by hand)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "creationTimestamp": "2026-11-25T10:00:00Z",
            "uid": f"uid-{namespace}-{name}",
        },
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 30,
            "containers": [{"name": "app", "image": "envoyproxy/envoy:v1.31"}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
