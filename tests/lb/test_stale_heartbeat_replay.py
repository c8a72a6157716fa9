"""What replay reads from the LB pollers' two-replica race of test_stale_heartbeat.py: replica B's
look was asked at 66.0 s while the target was healthy and its answer read at 73.5 s; replica A's
look saw the target unhealthy (the LB's health check failed at 70 s) and stored the change at
72.6 s. B's heartbeat (`OBSERVED`) of the healthy target claims it when the answer was read,
after the change: the LB lane must still read the target out of service from the change on, in
both orders of the two commits. kube-proxy stopped forwarding at 60 s (its prober's rows, as
tests/kubeproxy/test_replay_reads_probes.py stores the other sources' rows): one gap window,
60-70 s, the LB sending to a node that drops. Tencent CLB's official SDK against
tests/lb/fakecloud.FakeCloud, a real store on SQLite and PostgreSQL, each replica with its own
writer and its own clock."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.lb.poller import PollerSource
from gapwatch.recorder.sources.lb.sink import WriterSink
from gapwatch.recorder.sources.lb.tracker import ServiceKey
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import ServiceRef
from tests.kubeproxy.test_stale_heartbeat import T0, Clock
from tests.kubeproxy.test_stale_heartbeat_replay import lane_starts, seconds, settled, turned
from tests.lb.fakecloud import FakeCloud
from tests.lb.harness import CLUSTER, node, stored
from tests.lb.test_first_look_race import replica as race_replica
from tests.lb.test_stale_heartbeat import first_looks, keep_looking, look

NODE, OTHER = "tke-1", "tke-2"
SERVICE = ServiceRef(CLUSTER, "default", "nginx")
LISTENER, TARGET, PORT = "lbl-4ue2rpl2", "ins-19425y2y", 666
#: the other node's target, healthy throughout (one target alone unhealthy is failed open)
OTHER_TARGET = "ins-2"
#: (node, instance, address, resourceVersion)
NODES = ((NODE, TARGET, "172.16.0.12", 2), (OTHER, OTHER_TARGET, "172.16.0.13", 3))
MEMBERS = {
    "Response": {
        "Listeners": [{
            "ListenerId": LISTENER, "Protocol": "TCP", "Port": 888, "Rules": None, "EndPort": 0,
            "Targets": [{
                "Type": "cvm", "PrivateIpAddresses": [ip], "EniId": "",
                "PublicIpAddresses": None, "InstanceName": ident, "Port": PORT,
                "Weight": 40, "InstanceId": ident, "RegisteredTime": "2019-07-12 16:22:54",
            } for ident, ip in ((TARGET, "172.16.0.12"), (OTHER_TARGET, "172.16.0.13"))],
        }],
        "RequestId": "a5cbe92d-c7f2-41d4-8343-3cb42c3fd1dd",
    }
}  # fmt: skip


def health(alive: bool) -> dict[str, Any]:
    """DescribeTargetHealth (the published sample's shape) for the one member."""
    return {
        "Response": {
            "LoadBalancers": [{
                "LoadBalancerId": "lb-qc2iq5yc", "LoadBalancerName": "lb-test123",
                "Listeners": [{
                    "ListenerId": LISTENER, "ListenerName": "tcp_test", "Protocol": "TCP",
                    "Port": 888,
                    "Rules": [{
                        "LocationId": "loc-ewygg6i0", "Domain": None, "Url": None,
                        "Targets": [{
                            "IP": "172.16.0.12", "TargetId": TARGET, "Port": PORT,
                            "HealthStatus": alive,
                            "HealthStatusDetail": "Alive" if alive else "Dead",
                        }, {
                            "IP": "172.16.0.13", "TargetId": OTHER_TARGET, "Port": PORT,
                            "HealthStatus": True, "HealthStatusDetail": "Alive",
                        }],
                    }],
                }],
            }],
            "RequestId": "9d45e1ec-720c-4ce1-860e-e338e273e77e",
        }
    }  # fmt: skip


def at(seconds: float) -> Any:
    return T0 + timedelta(seconds=seconds)


def _k8s(kind: str, payload: dict[str, Any], rv: int, node: str | None = None) -> Observation:
    meta = payload["metadata"]
    return Observation(
        observed_at=at(1), cluster=CLUSTER, source="k8s-watch", kind=kind, op="ADDED",
        payload=payload, namespace=meta.get("namespace"), name=meta["name"], node=node,
        resource_version=str(rv),
    )  # fmt: skip


def _probe(seconds: float, status: int, look_: str, previous: float | None) -> Observation:
    body = {"localEndpoints": 1 if status == 200 else 0, "serviceProxyHealthy": True}
    return Observation(
        observed_at=at(seconds), cluster=CLUSTER, source="kube-proxy-probe", kind="ProxyHealth",
        op="OBSERVED", namespace="default", name="nginx", node=NODE,
        payload={"status": status, "body": body, "error": None, "weight": None, "port": 31805,
                 "address": "172.16.0.12", "latency_ms": 1.0, "look": look_},
        previous_observed_at=None if previous is None else at(previous),
    )  # fmt: skip


def cluster_rows() -> list[Observation]:
    """default/nginx (Local) on tke-1 and tke-2, an endpoint ready on each throughout, and
    kube-proxy's health check on tke-1 200 until it answered 503 from 60 s on (a prober's
    rows; tke-2's proxy lane is inferred from its endpoint: forwarding)."""
    return [
        _k8s("Service", {
            "metadata": {"namespace": "default", "name": "nginx"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                     "healthCheckNodePort": 31805, "ports": [{"port": 80, "nodePort": PORT}]},
        }, 1),
        *(_k8s("Node", {
            "metadata": {"name": name},
            "spec": {"providerID": f"qcloud:///800002/{ident}"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": ip}],
                       "nodeInfo": {"kubeletVersion": "v1.30.2", "kubeProxyVersion": "v1.30.2"}},
        }, rv, name) for name, ident, ip, rv in NODES),
        _k8s("EndpointSlice", {
            "metadata": {"namespace": "default", "name": "nginx-abc",
                         "labels": {"kubernetes.io/service-name": "nginx"}},
            "endpoints": [{
                "addresses": [f"10.0.0.{i}"], "nodeName": name,
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "name": f"nginx-{i}", "namespace": "default"},
            } for i, (name, *_) in enumerate(NODES)],
        }, 5),
        _probe(5.0, 200, "first", None),
        _probe(60.0, 503, "change", 59.0),
        _probe(75.0, 503, "heartbeat", 74.0),
        _probe(90.0, 503, "heartbeat", 89.0),
    ]  # fmt: skip


def replica(fake: FakeCloud, engine: Engine) -> tuple[PollerSource, Clock]:
    clock = Clock()
    nodes = tuple(node(name, f"qcloud:///800002/{ident}", ip) for name, ident, ip, _ in NODES)
    source = race_replica(
        fake, engine, clock=clock, heartbeat_s=5.0, service=ServiceKey("default", "nginx"),
        nodes=nodes,
    )  # fmt: skip
    return source, clock


@pytest.mark.parametrize("stale_first", [False, True], ids=["change-first", "stale-first"])
def test_a_stalled_replicas_heartbeat_does_not_put_the_target_back_in_service(
    store: Engine, stale_first: bool
) -> None:
    EventWriter(store, derive=write_facts).write(cluster_rows())
    with FakeCloud() as fake:
        fake.answer("DescribeTargets", copy.deepcopy(MEMBERS))
        fake.answer("DescribeTargetHealth", health(True))
        (a, a_clock), (b, b_clock) = replica(fake, store), replica(fake, store)

        async def race() -> None:
            sink_a = WriterSink(EventWriter(store, derive=write_facts))
            sink_b = WriterSink(EventWriter(store, derive=write_facts))
            await first_looks((a, a_clock, sink_a), (b, b_clock, sink_b))
            await look(b, b_clock, sink_b, 65.0, 65.1)  # heartbeat
            await sink_b.flush()
            await look(a, a_clock, sink_a, 65.5, 65.6)  # heartbeat
            await sink_a.flush()
            await look(a, a_clock, sink_a, 69.5, 69.6)  # healthy still: nothing
            # B's look is asked at 66.0 and gets the healthy target; its answer is read at 73.5
            assert await look(b, b_clock, sink_b, 66.0, 73.5) == 2  # heartbeats (5 s passed)
            # ... while the LB's health check fails (at 70 s) and A stores the change at 72.6
            fake.answer("DescribeTargetHealth", health(False))
            assert await look(a, a_clock, sink_a, 70.5, 72.6) >= 1
            first, second = (sink_b, sink_a) if stale_first else (sink_a, sink_b)
            await first.flush()
            await second.flush()
            # both keep looking: unhealthy
            await keep_looking((a, a_clock, sink_a), (b, b_clock, sink_b), (74.0, 75.0, 80.0, 86.0))

        asyncio.run(race())

    lane = lane_starts(store, SERVICE, NODE, "lb")
    known = settled(lane)
    assert [state for state, _ in known] == ["HEALTHY", "UNHEALTHY"], lane
    # the LB stopped sending at 70 s: between the last poll that saw healthy and the first not
    assert turned(lane, "HEALTHY") <= 70.0 <= known[1][1] <= 74.1, lane
    changes = [(o.op, o.payload["TargetHealth"]["State"]) for o in stored(store)
               if o.payload["Target"]["Id"] == TARGET and o.op != "OBSERVED"]  # fmt: skip
    assert changes == [("ADDED", "healthy"), ("MODIFIED", "unhealthy")]  # each stored once
    windows = api.windows(store, service=SERVICE)
    assert [(w.node, w.certain) for w in windows] == [(NODE, True)], windows
    end = seconds(windows[0].end_earliest_us), seconds(windows[0].end_latest_us)
    assert end[0] <= 70.0 <= end[1], end  # the LB stopped sending at 70 s
