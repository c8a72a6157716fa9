"""Realistic observations for benchmarks: the mix a recorder writes, at realistic sizes.

Per 100 observations: 30 kube-proxy probe results, 10 NodePort probes, 20 LB target-health rows,
20 EndpointSlices, 15 Pods and 5 Nodes. Objects are shaped like the API's (labels, annotations,
managedFields are left out as a recorder projection would) and vary per observation, so neither
compression nor the dedupe index gets an easy ride.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gapwatch.recorder.observation import Observation

START = datetime(2026, 1, 1, tzinfo=UTC)
NS, SVC = "istio-system", "istio-ingressgateway"


def _node_name(i: int) -> str:
    return f"ip-10-0-{i // 250}-{i % 250}.eu-west-1.compute.internal"


def _endpoint_slice(rv: int, rng: random.Random, nodes: int) -> dict[str, Any]:
    endpoints = []
    for j in range(6):
        node = rng.randrange(nodes)
        ready = rng.random() > 0.2
        endpoints.append(
            {
                "addresses": [f"10.1.{node % 250}.{j + 10}"],
                "conditions": {"ready": ready, "serving": ready, "terminating": not ready},
                "nodeName": _node_name(node),
                "targetRef": {
                    "kind": "Pod",
                    "name": f"{SVC}-7d9f8c6b5-{rng.getrandbits(24):06x}",
                    "namespace": NS,
                    "uid": f"{rng.getrandbits(64):016x}-0000-4000-8000-{rng.getrandbits(48):012x}",
                },
                "zone": f"eu-west-1{'abc'[node % 3]}",
            }
        )
    return {
        "addressType": "IPv4",
        "apiVersion": "discovery.k8s.io/v1",
        "endpoints": endpoints,
        "kind": "EndpointSlice",
        "metadata": {
            "annotations": {
                "endpoints.kubernetes.io/last-change-trigger-time": "2026-01-01T00:00:00Z"
            },
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "generateName": f"{SVC}-",
            "generation": rv,
            "labels": {
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                "kubernetes.io/service-name": SVC,
            },
            "name": f"{SVC}-abcde",
            "namespace": NS,
            "resourceVersion": str(rv),
            "uid": "5b0c3a52-8d7e-4d0c-9b6a-1f2e3d4c5b6a",
        },
        "ports": [
            {"name": "http2", "port": 8080, "protocol": "TCP"},
            {"name": "https", "port": 8443, "protocol": "TCP"},
        ],
    }


def _pod(rv: int, rng: random.Random, nodes: int) -> dict[str, Any]:
    node = _node_name(rng.randrange(nodes))
    name = f"{SVC}-7d9f8c6b5-{rng.getrandbits(24):06x}"
    ready = "True" if rng.random() > 0.3 else "False"
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "resourceVersion": str(rv),
            "uid": f"{rng.getrandbits(64):016x}",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": SVC, "istio": "ingressgateway", "pod-template-hash": "7d9f8c6b5"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{SVC}-7d9f8c6b5",
                    "uid": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 30,
            "containers": [
                {
                    "name": "istio-proxy",
                    "image": "docker.io/istio/proxyv2:1.24.2",
                    "ports": [
                        {"containerPort": 8080, "protocol": "TCP"},
                        {"containerPort": 8443, "protocol": "TCP"},
                        {"containerPort": 15021, "name": "status-port", "protocol": "TCP"},
                    ],
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
                        "periodSeconds": 2,
                        "failureThreshold": 30,
                    },
                    "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                    "resources": {
                        "limits": {"cpu": "2", "memory": "1Gi"},
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                    },
                }
            ],
        },
        "status": {
            "phase": "Running",
            "hostIP": "10.0.1.12",
            "podIP": f"10.1.{rng.randrange(250)}.{rng.randrange(250)}",
            "startTime": "2026-01-01T00:00:00Z",
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": ready},
                {"type": "ContainersReady", "status": ready},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [
                {
                    "name": "istio-proxy",
                    "ready": ready == "True",
                    "restartCount": 0,
                    "image": "docker.io/istio/proxyv2:1.24.2",
                    "containerID": f"containerd://{rng.getrandbits(128):032x}",
                    "started": True,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}},
                }
            ],
        },
    }


def _node(rv: int, rng: random.Random, index: int) -> dict[str, Any]:
    name = _node_name(index)
    conditions = [
        {
            "type": kind,
            "status": "False",
            "reason": f"KubeletHas{kind}",
            "message": f"kubelet reports {kind}",
            "lastHeartbeatTime": "2026-01-01T00:00:00Z",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": "True" if rng.random() > 0.05 else "False",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": "2026-01-01T00:00:00Z",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
    )
    return {
        "metadata": {
            "name": name,
            "resourceVersion": str(rv),
            "uid": f"{rng.getrandbits(64):016x}",
            "labels": {
                "kubernetes.io/hostname": name,
                "node.kubernetes.io/instance-type": "m6i.xlarge",
                "topology.kubernetes.io/region": "eu-west-1",
                "topology.kubernetes.io/zone": "eu-west-1a",
            },
        },
        "spec": {"providerID": f"aws:///eu-west-1a/i-{rng.getrandbits(60):015x}"},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "10.0.1.12"},
                {"type": "Hostname", "address": name},
            ],
            "capacity": {"cpu": "4", "memory": "16005120Ki", "pods": "58"},
            "allocatable": {"cpu": "3920m", "memory": "15217664Ki", "pods": "58"},
            "conditions": conditions,
            "nodeInfo": {
                "architecture": "amd64",
                "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.1.134-152.225.amzn2023.x86_64",
                "kubeProxyVersion": "",
                "kubeletVersion": "v1.32.3-eks-473151a",
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2023.7.20250512",
            },
        },
    }


def generate(
    n: int, *, seed: int = 1, nodes: int = 200, cluster: str = "bench"
) -> Iterator[Observation]:
    """n observations in time order, lazily (constant memory)."""
    rng = random.Random(seed)
    tg = (
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/k8s-istio/73e2d6bc24d8a067"
    )
    for i in range(n):
        at = START + timedelta(microseconds=i * 5_000)
        slot = i % 100
        node_index = rng.randrange(nodes)
        node = _node_name(node_index)
        rv = 1_000_000 + i
        if slot < 30:
            ready = rng.random() > 0.1
            yield Observation(
                observed_at=at, cluster=cluster, source="kube-proxy-probe", kind="ProxyHealth",
                op="OBSERVED", namespace=NS, name=SVC, node=node,
                previous_observed_at=at - timedelta(seconds=1),
                payload={
                    "status": 200 if ready else 503, "error": None, "port": 31805,
                    "body": {"service": {"namespace": NS, "name": SVC},
                             "localEndpoints": int(ready), "serviceProxyHealthy": True},
                },
            )  # fmt: skip
        elif slot < 40:
            yield Observation(
                observed_at=at, cluster=cluster, source="kube-proxy-probe", kind="NodePortProbe",
                op="OBSERVED", namespace=NS, name=SVC, node=node,
                previous_observed_at=at - timedelta(seconds=1),
                payload={"port": 32999, "result": rng.choice(["connected", "timeout"]),
                         "latency_ms": round(rng.random() * 3, 3)},
            )  # fmt: skip
        elif slot < 60:
            yield Observation(
                observed_at=at, cluster=cluster, source="lb-poller", kind="TargetHealth",
                op="MODIFIED", namespace=NS, name=SVC, node=node,
                previous_observed_at=at - timedelta(seconds=5),
                payload={
                    "TargetGroupArn": tg, "HealthCheckPort": "31805",
                    "Target": {"Id": f"i-{node_index:017x}", "Port": 32999},
                    "TargetHealth": {"State": rng.choice(["healthy", "unhealthy", "draining"]),
                                     "Reason": "Target.FailedHealthChecks",
                                     "Description": "Health checks failed"},
                },
            )  # fmt: skip
        elif slot < 80:
            yield Observation(
                observed_at=at, cluster=cluster, source="k8s-watch", kind="EndpointSlice",
                op="MODIFIED", namespace=NS, name=f"{SVC}-abcde", resource_version=str(rv),
                payload=_endpoint_slice(rv, rng, nodes),
            )  # fmt: skip
        elif slot < 95:
            pod = _pod(rv, rng, nodes)
            yield Observation(
                observed_at=at, cluster=cluster, source="k8s-watch", kind="Pod", op="MODIFIED",
                namespace=NS, name=pod["metadata"]["name"], node=pod["spec"]["nodeName"],
                resource_version=str(rv), payload=pod,
            )  # fmt: skip
        else:
            yield Observation(
                observed_at=at, cluster=cluster, source="k8s-watch", kind="Node", op="MODIFIED",
                name=node, node=node, resource_version=str(rv),
                payload=_node(rv, rng, node_index),
            )  # fmt: skip


def from_pool(n: int, *, pool_size: int = 20_000, seed: int = 1) -> Iterator[Observation]:
    """n observations cycled from a pool built once: each gets a fresh time (and, for objects, a
    fresh resourceVersion), so all are distinct rows, for almost no generation cost."""
    pool = list(generate(pool_size, seed=seed))
    step = timedelta(microseconds=5_000)
    for i in range(n):
        obs = pool[i % pool_size]
        rv = str(1_000_000 + i) if obs.resource_version is not None else None
        yield replace(obs, observed_at=START + step * i, resource_version=rv)
