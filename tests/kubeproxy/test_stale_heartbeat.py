"""Two prober replicas on one store, one of them stalled: its look began while the fake
kube-proxy still answered 200 and ended (its clock read) after the other replica had stored the
change to 503 (traced soaks at load 5-7: a replica's loop stalled for seconds). Its heartbeat
of the 200 must not become the target's stored last state over the newer change: before, its
checkpoint replaced the change's (ordered by when each look ended), so that replica's next look
of the 503 was made from its own heartbeat, passed the writer's compare-and-set and stored the
503 a second time. Real HTTP (fake kube-proxies on loopback), a real store (SQLite and
PostgreSQL), each replica with its own writer and its own clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from gapwatch.recorder.lab.ledger import count_states, probe_rows
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.client import ProbeClient
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber
from gapwatch.recorder.sources.kubeproxy.writesink import WriterSink
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_source import _prober, _view

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NODE = "node-1"


class Clock:
    """A replica's clock: each reading is the next of the seconds it is given."""

    def __init__(self) -> None:
        self.readings: Iterator[float] = iter(())

    def reads(self, *seconds: float) -> None:
        self.readings = iter(seconds)

    def __call__(self) -> datetime:
        return T0 + timedelta(seconds=next(self.readings))


def replica(engine: Engine, fakes: FakeKubeProxies) -> tuple[KubeProxyProber, Clock]:
    clock = Clock()
    prober = _prober(engine, _view(fakes, nodes=1), fakes, heartbeat_s=5.0)
    prober.context = replace(prober.context, clock=clock)
    return prober, clock


async def look(
    prober: KubeProxyProber, clock: Clock, start: float, end: float
) -> Observation | None:
    (target,) = [t for t in prober._wanted() if t.key.kind == "ProxyHealth"]
    clock.reads(start, end)
    async with ProbeClient(timeout_s=2.0, concurrency=1) as client:
        return await prober.look(client, target)


async def store(prober: KubeProxyProber, engine: Engine, observation: Observation | None) -> None:
    """The replica's put and its writer's next flush (its own transaction)."""
    if observation is None:
        return
    (target,) = [t for t in prober._wanted() if t.key.kind == "ProxyHealth"]
    async with WriterSink(engine, derive=write_facts, flush_interval_s=60.0) as sink:
        await prober.put(sink, target.key, observation)


def test_a_stalled_replicas_heartbeat_does_not_let_it_store_the_change_again(
    engine: Engine,
) -> None:
    with FakeKubeProxies(1, base=random_loopback_base()) as fakes:
        a, a_clock = replica(engine, fakes)
        b, b_clock = replica(engine, fakes)

        async def race() -> None:
            await store(a, engine, await look(a, a_clock, 10.0, 10.1))  # first: 200
            await store(b, engine, await look(b, b_clock, 10.5, 10.6))  # first: dropped
            assert await look(b, b_clock, 12.0, 12.1) is None  # B re-reads: the same 200
            # B's look begins at 66.0 and gets the 200; its loop stalls until 73.5 ...
            stalled = await look(b, b_clock, 66.0, 73.5)
            assert stalled is not None and stalled.payload["look"] == "heartbeat"
            # ... while the fake turns 503 and A stores the change at 72.6
            fakes.set_mode(NODE, "unhealthy")
            change = await look(a, a_clock, 70.5, 72.6)
            assert change is not None and change.payload["look"] == "change"
            await store(a, engine, change)
            await store(b, engine, stalled)  # B's heartbeat, committed after A's change
            # B's next look sees the 503: the change A stored, not one to store again
            await store(b, engine, await look(b, b_clock, 74.0, 74.1))
            await store(a, engine, await look(a, a_clock, 74.2, 74.3))

        asyncio.run(race())

    rows = probe_rows(engine, "c1", T0)
    changes = [r for r in rows if r[3]]
    assert [(round(r[0], 1), r[2]) for r in changes] == [(72.6, (503, 0))]
    truth = [(0.0, NODE, (200, 1)), (70.0, NODE, (503, 0))]
    ledger = count_states(truth, rows, bound_s=2.0, slack_s=1.0, end_s=80.0, initial={})
    assert ledger.lost == [] and ledger.duplicated == []
