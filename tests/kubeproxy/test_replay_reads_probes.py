"""What the prober records is what the replay reads: a store with Kubernetes objects, LB target
health and the probes of a real `gapwatch probe` run gets a *measured* proxy lane, and the
scripted 200 -> 503 -> 200 on one node becomes a measured gap window inside the probe's bounds.
Without the probes the same store's proxy lane is only inferred."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.timefmt import parse_time
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import GAPWATCH, ProbeProcess, db_upgrade, random_loopback_base

CLUSTER = "probe-test"


def _k8s(
    at: datetime, kind: str, payload: dict[str, Any], rv: int, node: str | None = None
) -> Observation:
    meta = payload["metadata"]
    return Observation(
        observed_at=at, cluster=CLUSTER, source="k8s-watch", kind=kind, op="ADDED",
        payload=payload, namespace=meta.get("namespace"), name=meta["name"], node=node,
        resource_version=str(rv),
    )  # fmt: skip


def _cluster(at: datetime, fakes: FakeKubeProxies) -> list[Observation]:
    """The Service, its Nodes, an EndpointSlice with a ready pod on every node, and an LB
    poller's TargetHealth (healthy) for every node: what the other sources would record."""
    out = [
        _k8s(at, "Service", {
            "metadata": {"namespace": "default", "name": "nginx"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                     "healthCheckNodePort": fakes.health_port,
                     "ports": [{"port": 80, "nodePort": fakes.node_port}]},
        }, 1)
    ]  # fmt: skip
    endpoints = []
    for i, node in enumerate(fakes.nodes):
        out.append(_k8s(at, "Node", {
            "metadata": {"name": node.name},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": node.address}],
                       "nodeInfo": {"kubeletVersion": "v1.30.2", "kubeProxyVersion": "v1.30.2"}},
        }, 10 + i, node.name))  # fmt: skip
        endpoints.append({
            "addresses": [f"10.0.0.{i + 1}"], "nodeName": node.name,
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "targetRef": {"kind": "Pod", "name": f"nginx-{i}", "namespace": "default"},
        })  # fmt: skip
    out.append(_k8s(at, "EndpointSlice", {
        "metadata": {"namespace": "default", "name": "nginx-abc",
                     "labels": {"kubernetes.io/service-name": "nginx"}},
        "endpoints": endpoints,
    }, 20))  # fmt: skip
    for node in fakes.nodes:
        out.append(Observation(
            observed_at=at, cluster=CLUSTER, source="lb-poller", kind="TargetHealth",
            op="ADDED", namespace="default", name="nginx", node=node.name,
            payload={"Target": {"Id": f"i-{node.name}", "Port": fakes.node_port},
                     "HealthCheckPort": str(fakes.health_port),
                     "TargetHealth": {"State": "healthy"},
                     "TargetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/t/1"},
        ))  # fmt: skip
    return out


def _cli(db: str, *args: str) -> Any:
    done = subprocess.run(
        [GAPWATCH, *args, "--db", db, "--cluster", CLUSTER, "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def _proxy_lane(db: str, node: str) -> list[dict[str, Any]]:
    rows = _cli(db, "timeline", "--service", "default/nginx", "--node", node)
    return [r for r in rows if r["lane"] == "proxy"]


def test_probes_make_the_proxy_lane_measured(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'replay.db'}"
    db_upgrade(db)
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        engine = make_engine(db)
        EventWriter(engine, derive=write_facts).write(
            _cluster(datetime.now(UTC) - timedelta(seconds=2), fakes)
        )
        engine.dispose()
        before = _proxy_lane(db, "node-1")
        assert before and {s["provenance"] for s in before} == {"inferred"}

        proc = ProbeProcess(
            fakes, db, "--interval", "0.3", "--timeout", "0.2", "--no-proxy-healthz"
        )
        proc.wait_for(2)
        time.sleep(1.0)
        closed = fakes.set_mode("node-1", "unhealthy")
        time.sleep(2.0)
        opened = fakes.set_mode("node-1", "healthy")
        time.sleep(1.0)
        proc.proc.send_signal(signal.SIGINT)
        code, err = proc.finish()
    assert code == 0, err

    lane = _proxy_lane(db, "node-1")
    assert {s["provenance"] for s in lane} == {"measured"}
    # (an UNKNOWN stretch lies between the look that last saw a value and the first to see the next)
    assert [s["state"] for s in lane if s["state"] != "UNKNOWN"] == ["OPEN", "CLOSED", "OPEN"]
    assert {s["provenance"] for s in _proxy_lane(db, "node-2")} == {"measured"}

    windows = _cli(db, "gaps")
    # (the class is the detector's call: kube-proxy closing while the pod stays ready is no
    # scenario of docs/semantics.md; what matters here is where, when and how it was known)
    assert [(w["node"], w["provenance"]) for w in windows] == [("node-1", "measured")]
    window = windows[0]
    start = (
        parse_time(window["start_earliest"]).timestamp(),
        parse_time(window["start_latest"]).timestamp(),
    )
    end = (
        parse_time(window["end_earliest"]).timestamp(),
        parse_time(window["end_latest"]).timestamp(),
    )
    assert start[0] <= closed[1] and closed[0] <= start[1]
    assert end[0] <= opened[1] and opened[0] <= end[1]
