"""Two prober replicas racing on one store (recorder/writer.py `Guard`): each looks before the
other's look is committed, so re-reading the store shows neither its first look nor its change;
the writer's compare-and-set stores the first to commit and drops the other's, and the replica
whose look was dropped compares its next look with what is stored. Fake kube-proxies on
loopback (real HTTP), a real store on SQLite and PostgreSQL. The order of the commits is set
by the test (no timing)."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.client import ProbeClient
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber
from gapwatch.recorder.sources.kubeproxy.writesink import WriterSink
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_source import _prober, _rows, _view


async def _look(prober: KubeProxyProber, sink: WriterSink) -> Observation | None:
    """One look at node-2's health check, put into `sink` (not yet committed)."""
    (target,) = [
        t for t in prober._wanted() if t.key.kind == "ProxyHealth" and t.key.node == "node-2"
    ]
    async with ProbeClient(timeout_s=1.0, concurrency=1) as client:
        observation = await prober.look(client, target)
    if observation is not None:
        await prober.put(sink, target.key, observation)
    return observation


def _looks(engine: Engine) -> list[tuple[str, int]]:
    return [(r.payload["look"], r.payload["status"]) for r in _rows(engine) if r.node == "node-2"]


def test_racing_first_looks_and_changes_are_each_stored_once(engine: Engine) -> None:
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        view = _view(fakes)
        a, b = _prober(engine, view, fakes), _prober(engine, view, fakes)

        async def race() -> None:
            sink_a = WriterSink(engine, derive=write_facts)
            sink_b = WriterSink(engine, derive=write_facts)
            # both look at a target nobody stored, then commit one after the other
            first_a, first_b = await _look(a, sink_a), await _look(b, sink_b)
            assert first_a is not None and first_b is not None
            assert first_a.payload["look"] == first_b.payload["look"] == "first"
            await sink_a.flush()
            await sink_b.flush()
            assert _looks(engine) == [("first", 200)]
            # both see the change; each re-reads the store before it becomes an observation,
            # and neither sees the other's, not yet committed
            fakes.set_mode("node-2", "unhealthy")
            change_a, change_b = await _look(a, sink_a), await _look(b, sink_b)
            assert change_a is not None and change_a.payload["look"] == "change"
            assert change_b is not None and change_b.payload["status"] == 503
            await sink_a.flush()
            await sink_b.flush()
            assert _looks(engine) == [("first", 200), ("change", 503)]
            # b's next look is compared with what a stored: nothing new
            assert await _look(b, sink_b) is None
            await sink_b.flush()

        asyncio.run(race())
        assert _looks(engine) == [("first", 200), ("change", 503)]
