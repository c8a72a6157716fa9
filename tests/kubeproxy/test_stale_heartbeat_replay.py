"""What replay reads from the two-replica race of test_stale_heartbeat.py: replica B's look began
at 66.0 s while the fake kube-proxy still answered 200, and its loop stalled until 73.5 s; replica
A's look saw the 503 and stored the change at 72.6 s. B's row of the 200 (a heartbeat) claims
the 200 when its look *ended*, after the change: the proxy lane must still read CLOSED from the
change until the fake answers 200 again (A's change back at 90.1 s), one gap window, in both
orders of the two commits. Real HTTP (fake kube-proxies on loopback), a real store (SQLite and
PostgreSQL), each replica with its own writer and clock; the Service, Node, EndpointSlice and LB
target are stored as the other sources would (tests/kubeproxy/test_replay_reads_probes.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import ServiceRef
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_stale_heartbeat import NODE, T0, look, replica, store

CLUSTER = "c1"
SERVICE = ServiceRef(CLUSTER, "default", "nginx")


def _k8s(kind: str, payload: dict[str, Any], rv: int, node: str | None = None) -> Observation:
    meta = payload["metadata"]
    return Observation(
        observed_at=T0 + timedelta(seconds=1), cluster=CLUSTER, source="k8s-watch", kind=kind,
        op="ADDED", payload=payload, namespace=meta.get("namespace"), name=meta["name"],
        node=node, resource_version=str(rv),
    )  # fmt: skip


def cluster_rows(fakes: FakeKubeProxies) -> list[Observation]:
    """default/nginx (Local), node-1 Ready with one ready endpoint, and its LB target healthy
    from 1 s on: the LB keeps sending to node-1 throughout."""
    address = fakes.nodes[0].address
    return [
        _k8s("Service", {
            "metadata": {"namespace": "default", "name": "nginx"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                     "healthCheckNodePort": fakes.health_port,
                     "ports": [{"port": 80, "nodePort": fakes.node_port}]},
        }, 1),
        _k8s("Node", {
            "metadata": {"name": NODE},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": address}],
                       "nodeInfo": {"kubeletVersion": "v1.30.2", "kubeProxyVersion": "v1.30.2"}},
        }, 2, NODE),
        _k8s("EndpointSlice", {
            "metadata": {"namespace": "default", "name": "nginx-abc",
                         "labels": {"kubernetes.io/service-name": "nginx"}},
            "endpoints": [{
                "addresses": ["10.0.0.1"], "nodeName": NODE,
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "name": "nginx-0", "namespace": "default"},
            }],
        }, 3),
        Observation(
            observed_at=T0 + timedelta(seconds=1), cluster=CLUSTER, source="lb-poller",
            kind="TargetHealth", op="ADDED", namespace="default", name="nginx", node=NODE,
            payload={"Target": {"Id": f"i-{NODE}", "Port": fakes.node_port},
                     "HealthCheckPort": str(fakes.health_port),
                     "TargetHealth": {"State": "healthy"},
                     "TargetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/t/1"},
        ),
    ]  # fmt: skip


def seconds(us: int) -> float:
    """A replay time in seconds from T0."""
    return (us - int(T0.timestamp() * 1e6)) / 1e6


def lane_starts(
    engine: Engine, service: ServiceRef, node: str, lane: str
) -> list[tuple[str, float]]:
    """One lane of `node` as replay reads it: (state, start in seconds from T0, to 0.1 s)."""
    return [
        (s.state, round(seconds(s.start_us), 1))
        for s in api.timeline(engine, service, nodes=[node])
        if s.lane == lane
    ]


def settled(lane: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The lane's sampled values without the `UNKNOWN` stretches a probe or poll lane draws
    between the look that last saw the old value and the one that saw the new (each value
    starting where a look first saw it)."""
    return [(state, at) for state, at in lane if state != "UNKNOWN"]


def turned(lane: list[tuple[str, float]], was: str) -> float:
    """Where the lane first stops saying `was`: the last look that saw it, where an `UNKNOWN`
    stretch follows."""
    return next(at for state, at in lane if state != was)


@pytest.mark.parametrize("stale_first", [False, True], ids=["change-first", "stale-first"])
def test_a_stalled_replicas_heartbeat_does_not_reopen_the_proxy_lane(
    engine: Engine, stale_first: bool
) -> None:
    with FakeKubeProxies(1, base=random_loopback_base()) as fakes:
        EventWriter(engine, derive=write_facts).write(cluster_rows(fakes))
        a, a_clock = replica(engine, fakes)
        b, b_clock = replica(engine, fakes)

        async def race() -> None:
            await store(a, engine, await look(a, a_clock, 10.0, 10.1))  # first: 200
            await store(b, engine, await look(b, b_clock, 10.5, 10.6))  # first: dropped
            await store(b, engine, await look(b, b_clock, 12.0, 12.1))  # re-read: nothing
            await store(b, engine, await look(b, b_clock, 65.0, 65.1))  # heartbeat
            await store(a, engine, await look(a, a_clock, 65.5, 65.6))  # heartbeat
            await store(a, engine, await look(a, a_clock, 69.5, 69.6))  # 200 again: nothing
            # B's look begins at 66.0 and gets the 200; its loop stalls until 73.5 ...
            stalled = await look(b, b_clock, 66.0, 73.5)
            # ... while the fake turns 503 (at 70 s) and A stores the change at 72.6
            fakes.set_mode(NODE, "unhealthy")
            change = await look(a, a_clock, 70.5, 72.6)
            if stale_first:
                await store(b, engine, stalled)
                await store(a, engine, change)
            else:
                await store(a, engine, change)
                await store(b, engine, stalled)
            for start in (74.0, 75.0, 80.0, 86.0):  # both keep looking: 503
                await store(a, engine, await look(a, a_clock, start, start + 0.1))
                await store(b, engine, await look(b, b_clock, start + 0.2, start + 0.3))
            fakes.set_mode(NODE, "healthy")  # at 90 s
            await store(a, engine, await look(a, a_clock, 90.0, 90.1))
            await store(b, engine, await look(b, b_clock, 90.4, 90.5))

        asyncio.run(race())

    lane = lane_starts(engine, SERVICE, NODE, "proxy")
    known = settled(lane)
    assert [state for state, _ in known] == ["OPEN", "CLOSED", "OPEN"], lane
    # the fake turned 503 at 70 s: between the last look that saw 200 and the first that saw 503
    assert turned(lane, "OPEN") <= 70.0 <= known[1][1] <= 75.1, lane
    assert known[-1][1] == pytest.approx(90.1, abs=0.6), lane
    windows = api.windows(engine, service=SERVICE)
    assert [(w.node, w.certain) for w in windows] == [(NODE, True)]
    (window,) = windows
    start = seconds(window.start_earliest_us), seconds(window.start_latest_us)
    end = seconds(window.end_earliest_us), seconds(window.end_latest_us)
    assert start[0] <= 70.0 <= start[1], (start, end)  # the fake turned 503 at 70 s
    assert end[0] <= 90.0 <= end[1], (start, end)  # and 200 again at 90 s
