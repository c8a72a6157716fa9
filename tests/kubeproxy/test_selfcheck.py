"""The NodePort self-check against real fake kube-proxies on loopback, a real store on SQLite and
PostgreSQL: a NodePort that accepts at a node whose health check counts no ready local endpoint,
its EndpointSlices listing none, is a short-circuit (one NodePortSelfCheck stored, the metric
and one warning, the cluster's NodePort looks stopped, a `selfcheck` fact for replay); a
serving-terminating endpoint listed there, or a NodePort that refuses, is not (and once either
is gone, the same node is)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select, text

from gapwatch.recorder.sources.base import SourceContext
from gapwatch.recorder.sources.kubeproxy.selfcheck import PROOFS_NEEDED
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber, build
from gapwatch.recorder.sources.kubeproxy.writesink import WriterSink
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.recorder.tables import events
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.fakeproxy import FakeKubeProxies, local_service
from tests.kubeproxy.probeproc import random_loopback_base

SETTLE_S = 0.6
PROOFS = "gapwatch_probe_nodeport_short_circuit_proofs_total"


def _slice(endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "default",
            "name": "nginx-abcde",
            "labels": {"kubernetes.io/service-name": "nginx"},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
    }


def _endpoint(node: str, *, ready: bool = True, terminating: bool = False) -> dict[str, Any]:
    return {
        "addresses": ["10.244.0.9"],
        "nodeName": node,
        "conditions": {"ready": ready, "serving": True, "terminating": terminating},
    }


def _view(fakes: FakeKubeProxies, endpoints: list[dict[str, Any]]) -> ClusterView:
    view = ClusterView()
    view.wants_slices = True  # as the prober asks once built (the view is filled before it)
    view.observe("Service", "ADDED", local_service(fakes))
    for node in fakes.nodes:
        view.observe(
            "Node",
            "ADDED",
            {
                "metadata": {"name": node.name},
                "status": {"addresses": [{"type": "InternalIP", "address": node.address}]},
            },
        )
    view.observe("EndpointSlice", "ADDED", _slice(endpoints))
    return view


def _prober(engine: Engine, view: ClusterView, registry: CollectorRegistry) -> KubeProxyProber:
    context = SourceContext(
        cluster="c1",
        engine=engine,
        clock=lambda: datetime.now(UTC),
        rng=random.Random(3),
        registry=registry,
        view=view,
        derive=write_facts,
    )
    settings = {
        "interval_s": 0.2,
        "timeout_s": 2.0,
        "nodeport": "always",
        "proxy_healthz": False,
        "nodeport_selfcheck_settle_s": SETTLE_S,
    }
    return build(context, settings)


async def _run(
    prober: KubeProxyProber, engine: Engine, until: Callable[[], bool], limit_s: float = 30
) -> None:
    stop = asyncio.Event()
    async with WriterSink(engine, derive=write_facts, flush_interval_s=0.05) as sink:
        task = asyncio.create_task(prober.run(sink, stop))
        for _ in range(int(limit_s / 0.05)):
            await asyncio.sleep(0.05)
            if until():
                break
        stop.set()
        await task


def _rows(engine: Engine, kind: str) -> list[Any]:
    with engine.connect() as conn:
        query = select(events).where(events.c.kind == kind).order_by(events.c.id)
        return list(conn.execute(query))


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def _looks(registry: CollectorRegistry, kind: str) -> float:
    return sum(
        _value(registry, "gapwatch_probe_looks_total", kind=kind, outcome=o)
        for o in ("200", "503", "connected", "refused", "timeout", "reset", "error")
    )


def _many_looks_then(
    engine: Engine, registry: CollectorRegistry, outcome: str, then: Callable[[], None]
) -> tuple[list[float], Callable[[], bool]]:
    """An `until` for `_run`: after 40 health looks (~4 s at each node), note the NodePort
    looks with `outcome`, the proofs and the gauge, check that nothing was decided, and call
    `then`; done once a verdict is stored."""
    noted: list[float] = []

    def until() -> bool:
        if not noted and _looks(registry, "ProxyHealth") >= 40:
            noted.append(_value(registry, "gapwatch_probe_looks_total",
                                kind="NodePortProbe", outcome=outcome))  # fmt: skip
            noted.append(_value(registry, PROOFS))
            noted.append(_value(registry, "gapwatch_probe_nodeport_short_circuited"))
            assert not _rows(engine, "NodePortSelfCheck")
            then()
        return bool(_rows(engine, "NodePortSelfCheck"))

    return noted, until


def test_a_nodeport_accepting_where_no_local_endpoint_is_is_a_short_circuit(
    engine: Engine,
) -> None:
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        fakes.set_mode("node-2", "unhealthy")  # 503, localEndpoints 0; its NodePort accepts
        view = _view(fakes, [_endpoint("node-1")])
        registry = CollectorRegistry()
        prober = _prober(engine, view, registry)
        after: list[float] = []

        def decided_then_a_second() -> bool:
            if not after and _rows(engine, "NodePortSelfCheck"):
                after.append(_looks(registry, "NodePortProbe"))
                after.append(prober.looks)
            return bool(after) and prober.looks >= after[1] + 10

        with structlog.testing.capture_logs() as logs:
            asyncio.run(_run(prober, engine, decided_then_a_second))

        [verdict] = _rows(engine, "NodePortSelfCheck")
        assert (verdict.source, verdict.op) == ("kube-proxy-probe", "OBSERVED")
        assert (verdict.namespace, verdict.name, verdict.node) == ("default", "nginx", "node-2")
        payload = verdict.payload
        assert payload["verdict"] == "short-circuited"
        assert payload["port"] == fakes.node_port
        assert payload["health_port"] == fakes.health_port
        assert payload["address"] == fakes.node("node-2").address
        # three decide; a late health look closes every NodePort look before it at once, so
        # under load the verdict may carry more (test_selfcheck_races.py), each its own look
        assert len(payload["proofs"]) >= PROOFS_NEEDED
        assert len({p["nodeport_started"] for p in payload["proofs"]}) == len(payload["proofs"])
        for proof in payload["proofs"]:
            times = [datetime.fromisoformat(proof[k]) for k in (
                "health_before", "nodeport_started", "nodeport_finished", "health_after_started"
            )]  # fmt: skip
            assert times == sorted(times)
        # node-1 (200, one local endpoint) gave no proof; none was stored before the third
        assert verdict.previous_observed_at < verdict.observed_at

        # the NodePort looks stopped: none after the verdict, each target's last look stored
        assert _looks(registry, "NodePortProbe") == after[0]
        later = [
            r.payload["look"]
            for r in _rows(engine, "NodePortProbe")
            if r.observed_at > verdict.observed_at
        ]
        assert set(later) <= {"last"}
        assert _value(registry, "gapwatch_probe_nodeport_short_circuited") == 1
        proofs_total = _value(registry, "gapwatch_probe_nodeport_short_circuit_proofs_total")
        assert proofs_total >= len(payload["proofs"])
        said = [e for e in logs if "cluster-wide chain" in e["event"]]
        assert len(said) == 1 and said[0]["log_level"] == "warning"
        assert said[0]["service"] == "default/nginx" and said[0]["node"] == "node-2"
        with engine.connect() as conn:
            facts = conn.execute(
                text("SELECT cluster, state, node, text1 FROM facts WHERE fact = 'selfcheck'")
            ).all()
        assert [tuple(f) for f in facts] == [("c1", "short-circuited", "node-2", "default/nginx")]


def test_a_serving_terminating_endpoint_is_no_short_circuit_until_the_slice_drops_it(
    engine: Engine,
) -> None:
    """With ProxyTerminatingEndpoints kube-proxy forwards to a serving-terminating local pod
    while its health check counts 0 (ready endpoints only): connected there is the node's own
    forwarding. Once the slices list nothing on the node, the same answers are proofs."""
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        fakes.set_mode("node-2", "unhealthy")
        terminating = _endpoint("node-2", ready=False, terminating=True)
        view = _view(fakes, [_endpoint("node-1"), terminating])
        registry = CollectorRegistry()
        prober = _prober(engine, view, registry)
        dropped: list[datetime] = []

        def drop() -> None:
            dropped.append(datetime.now(UTC))
            view.observe("EndpointSlice", "MODIFIED", _slice([_endpoint("node-1")]))

        looked, until = _many_looks_then(engine, registry, "connected", drop)
        asyncio.run(_run(prober, engine, until))
        # both nodes' NodePorts answered connected all along, and no look was a proof
        assert dropped and looked[0] >= 30 and looked[1:] == [0, 0]
        [verdict] = _rows(engine, "NodePortSelfCheck")
        assert verdict.node == "node-2"
        first_proof = datetime.fromisoformat(verdict.payload["proofs"][0]["nodeport_started"])
        assert (first_proof - dropped[0]).total_seconds() >= SETTLE_S


def test_a_nodeport_refused_where_no_local_endpoint_is_sees_what_the_lb_sees(
    engine: Engine,
) -> None:
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        fakes.set_mode("node-2", "unhealthy")
        fakes.set_node_port("node-2", False)  # the node rejects, as for the LB's traffic
        view = _view(fakes, [_endpoint("node-1")])
        registry = CollectorRegistry()
        prober = _prober(engine, view, registry)

        def accept() -> None:  # as the cluster-wide chain would
            fakes.set_node_port("node-2", True)

        seen, until = _many_looks_then(engine, registry, "refused", accept)
        asyncio.run(_run(prober, engine, until))
        assert seen[0] >= 15 and seen[1:] == [0, 0]
        [verdict] = _rows(engine, "NodePortSelfCheck")
        assert verdict.node == "node-2"
