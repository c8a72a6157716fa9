"""The kube-proxy prober's shape of tests/lb/test_dropped_first_look.py: two prober replicas, and
a first look the writer dropped that its replica has not heard of yet. B's first look gets 200
and is stored; the fake turns 503; A's first look gets the 503 and waits in A's sink, so the
writer drops it when A's batch is written (B's first was stored first). Before A hears of it, A
looks again `heartbeat_s` later: a heartbeat of a 503 no change stored. B's next look sees the
503: the change's one transition. Three orders of A's commit: before B's look, after B's commit,
or between them. In every order the 503 must be stored once as a change and no heartbeat may
claim a state the store did not hold. Real HTTP (fake kube-proxies on loopback), a real store
(SQLite and PostgreSQL), each replica with its own writer and its own clock."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.lab.ledger import probe_rows
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber
from gapwatch.recorder.sources.kubeproxy.writesink import WriterSink
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_stale_heartbeat import NODE, T0, Clock, look, replica, store

ORDERS = ["heartbeat-before-the-look", "change-first", "heartbeat-between"]


async def put(prober: KubeProxyProber, sink: WriterSink, clock: Clock, start: float) -> str:
    """One look of A's, put into its sink (not written yet); returns why it is stored."""
    observation = await look(prober, clock, start, start + 0.1)
    assert observation is not None
    (target,) = [t for t in prober._wanted() if t.key.kind == "ProxyHealth"]
    await prober.put(sink, target.key, observation)
    return str(observation.payload["look"])


@pytest.mark.parametrize("order", ORDERS)
def test_a_heartbeat_made_from_a_dropped_first_look_is_not_stored(
    engine: Engine, order: str
) -> None:
    with FakeKubeProxies(1, base=random_loopback_base()) as fakes:
        a, a_clock = replica(engine, fakes)
        b, b_clock = replica(engine, fakes)

        async def race() -> None:
            await store(b, engine, await look(b, b_clock, 10.0, 10.1))  # first: 200
            fakes.set_mode(NODE, "unhealthy")  # 503 from 10.15 s
            async with WriterSink(engine, derive=write_facts, flush_interval_s=60.0) as sink_a:
                assert await put(a, sink_a, a_clock, 10.2) == "first"  # 503: will be dropped
                assert await put(a, sink_a, a_clock, 15.5) == "heartbeat"  # not heard yet
                if order == ORDERS[0]:
                    await sink_a.flush()
                change = await look(b, b_clock, 16.0, 16.1)
                if order == ORDERS[2]:
                    await sink_a.flush()
                await store(b, engine, change)
            for start in (17.0, 22.0, 27.0):  # both keep looking: 503
                await store(a, engine, await look(a, a_clock, start, start + 0.1))
                await store(b, engine, await look(b, b_clock, start + 0.2, start + 0.3))

        asyncio.run(race())

    rows = probe_rows(engine, "c1", T0)
    assert [(round(r[0], 1), r[2]) for r in rows if r[3]] == [(16.1, (503, 0))], rows
    assert all(r[2] == (200, 1) for r in rows if r[0] < 16.1), rows
