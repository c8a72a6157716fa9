"""The prober as a recorder Source, driven directly (the recorder's run loop is not needed):
fake kube-proxies on loopback, a real store on SQLite and PostgreSQL through the EventWriter
(WriterSink). It follows the ClusterView, stores only first looks and changes, and a restart
resumes from the stored state instead of inventing transitions."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select

from gapwatch.recorder.errors import SourceError
from gapwatch.recorder.sources import REGISTRY
from gapwatch.recorder.sources.base import Emitted, Source, SourceContext
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber, build
from gapwatch.recorder.sources.kubeproxy.writesink import WriterSink
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.recorder.tables import events
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.contexts import source_context
from tests.kubeproxy.fakeproxy import FakeKubeProxies, local_service
from tests.kubeproxy.probeproc import random_loopback_base


def _view(fakes: FakeKubeProxies, nodes: int | None = None) -> ClusterView:
    view = ClusterView()
    view.observe("Service", "ADDED", local_service(fakes))
    view.observe(  # a Cluster-policy Service is not probed
        "Service",
        "ADDED",
        {
            "metadata": {"namespace": "default", "name": "other"},
            "spec": {"externalTrafficPolicy": "Cluster", "ports": [{"nodePort": 30001}]},
        },
    )
    for node in fakes.nodes[:nodes]:
        view.observe("Node", "ADDED", _node(node.name, node.address))
    return view


def _node(name: str, address: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": name},
                {"type": "InternalIP", "address": address},
            ]
        },
    }


def _prober(
    engine: Engine, view: ClusterView, fakes: FakeKubeProxies, **extra: Any
) -> KubeProxyProber:
    settings = {
        "interval_s": 0.2,
        # 2 s, not 0.2 s: no test here makes a port hang, and at load 4-5 a 0.2 s answer timed out,
        # stored as two real changes (timeout, then connected) the row counts below do not expect
        "timeout_s": 2.0,
        "healthz_port": fakes.healthz_port,
        "metrics_port": fakes.healthz_port,  # the fake serves /metrics there too
        **extra,
    }
    return build(source_context(engine, view), settings)


async def _run(prober: KubeProxyProber, engine: Engine, until: Callable[[], bool]) -> None:
    stop = asyncio.Event()
    async with WriterSink(engine, derive=write_facts, flush_interval_s=0.05) as sink:
        task = asyncio.create_task(prober.run(sink, stop))
        for _ in range(600):
            await asyncio.sleep(0.05)
            if until():
                break
        stop.set()
        await task


def _rows(engine: Engine, kind: str = "ProxyHealth") -> list[Any]:
    with engine.connect() as conn:
        query = select(events).where(events.c.kind == kind).order_by(events.c.id)
        return list(conn.execute(query))


def test_registry_names_the_prober_and_the_agent_env_picks_the_node() -> None:
    assert REGISTRY["kube-proxy"] == "gapwatch.recorder.sources.kubeproxy.source:build"
    context = SourceContext(
        cluster="c1",
        engine=None,  # type: ignore[arg-type]  # build does not touch the store
        clock=lambda: datetime.now(UTC),
        rng=random.Random(1),
        registry=CollectorRegistry(),
        view=ClusterView(),
        derive=write_facts,
    )
    prober = build(context, {"address_override": "127.0.0.1"}, env={"GAPWATCH_PROBE_NODE": "n2"})
    assert prober.settings.only_node == "n2"
    source: Source = prober  # mypy checks the protocol
    assert source.name == "kube-proxy"


def test_probes_what_the_view_holds_and_resumes_without_inventing(engine: Engine) -> None:
    with FakeKubeProxies(3, base=random_loopback_base()) as fakes:
        view = _view(fakes, nodes=2)
        prober = _prober(engine, view, fakes, metrics_interval_s=0.2, nodeport="always")
        assert prober.ready() is not None

        def third_node_after_first_looks() -> bool:
            if prober.looks >= 8 and len(view.nodes()) == 2:
                node = fakes.nodes[2]
                view.observe("Node", "ADDED", _node(node.name, node.address))
            return len({r.node for r in _rows(engine)}) == 3 and prober.looks >= 40

        asyncio.run(_run(prober, engine, third_node_after_first_looks))
        assert prober.ready() is None
        stored = _rows(engine)
        first = [r for r in stored if r.payload["look"] == "first"]
        assert sorted(r.node for r in first) == ["node-1", "node-2", "node-3"]
        # a graceful stop stores each target's last look (none was stored since the first)
        assert [r.payload["look"] for r in stored] == ["first"] * 3 + ["last"] * 3
        stopped = {r.node: r for r in stored[3:]}
        assert sorted(stopped) == ["node-1", "node-2", "node-3"]
        for r in first:
            last = stopped[r.node]
            assert last.payload["status"] == r.payload["status"]
            assert last.previous_observed_at < last.observed_at
            assert r.observed_at < last.observed_at
        assert {r.name for r in first} == {"nginx"}  # not the Cluster-policy Service
        assert len([r for r in _rows(engine, "NodePortProbe") if r.payload["look"] == "first"]) == 3
        health = _rows(engine, "ProxyNodeHealth")  # /healthz and /livez per node
        assert len([r for r in health if r.payload["look"] == "first"]) == 6
        metrics = _rows(engine, "ProxyMetrics")
        assert (
            metrics
            and metrics[0].payload["metrics"]["kubeproxy_sync_proxy_rules_last_timestamp_seconds"]
            == 1.704894799332805e09
        )

        # a restart that sees the same states stores no transition, only where it resumed,
        # bounded by the stopped prober's last look
        again = _prober(engine, view, fakes)
        asyncio.run(_run(again, engine, lambda: again.looks >= 30))
        resumed = [r for r in _rows(engine)[6:] if r.payload["look"] != "last"]
        said = [(r.node, r.payload.get("look"), r.payload.get("status"), r.payload.get("error"))
                for r in resumed]  # fmt: skip
        # a clean-clone CI run once stored node-3 twice here (cause not found): say what
        assert sorted(r.node for r in resumed) == ["node-1", "node-2", "node-3"], said
        assert {r.payload["look"] for r in resumed} == {"resume"}
        assert {r.node: r.previous_observed_at for r in resumed} == {
            node: r.observed_at for node, r in stopped.items()
        }

        # a restart that sees a change stores it, bounded by the last stored look
        fakes.set_mode("node-2", "unhealthy")
        stored_before = max(r.observed_at for r in _rows(engine) if r.node == "node-2")
        third = _prober(engine, view, fakes)
        changed = lambda: any(r.payload["look"] == "change" for r in _rows(engine))  # noqa: E731
        asyncio.run(_run(third, engine, changed))
        change = next(r for r in _rows(engine) if r.payload["look"] == "change")
        assert change.node == "node-2"
        assert change.payload["status"] == 503
        assert change.previous_observed_at == stored_before


def test_a_node_leaving_the_view_is_no_longer_probed(engine: Engine) -> None:
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        view = _view(fakes)
        prober = _prober(engine, view, fakes, proxy_healthz=False)

        def drop_node_2() -> bool:
            if prober.looks >= 6 and len(view.nodes()) == 2:
                view.observe("Node", "DELETED", _node("node-2", fakes.nodes[1].address))
                fakes.set_mode("node-2", "refuse")
                prober.looks = 0
            return len(view.nodes()) == 1 and prober.looks >= 20

        asyncio.run(_run(prober, engine, drop_node_2))
    # no refused look after it left; its last look before (unstored) kept (test_last_look.py)
    rows = [r for r in _rows(engine) if r.node == "node-2"]
    assert [(r.payload["look"], r.payload.get("error")) for r in rows] == [
        ("first", None),
        ("last", None),
    ]


class _BrokenSink:
    async def put(self, item: Emitted) -> None:
        raise RuntimeError("spool broke")

    async def flush(self) -> None:
        pass


def test_a_failing_look_stops_the_source_with_a_source_error(engine: Engine) -> None:
    """A bug (here: the sink raising) is not swallowed by a probe task: run() raises
    SourceError, so the recorder restarts the source."""
    with FakeKubeProxies(1, base=random_loopback_base()) as fakes:
        prober = _prober(engine, _view(fakes), fakes, proxy_healthz=False)

        async def main() -> None:
            await asyncio.wait_for(prober.run(_BrokenSink(), asyncio.Event()), timeout=30)

        with pytest.raises(SourceError, match="spool broke"):
            asyncio.run(main())
