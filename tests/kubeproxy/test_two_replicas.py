"""Two prober replicas on one store: a replica whose known state is older than what the other
stored meanwhile re-reads the target's stored last state before a change becomes an observation
(recorder/sources/kubeproxy/source.py `_adopt_stored`), so a change is stored once, not again
by the replica that saw it later (the lab's `sigkill-all`: both restarted replicas loaded the
state from before the kills, and the slower one stored the same change 13 s later). Fake
kube-proxies on loopback (real HTTP), a real store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.client import ProbeClient
from gapwatch.recorder.sources.kubeproxy.laststate import load_last
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_source import _prober, _rows, _run, _view


def _load(prober: KubeProxyProber, engine: Engine) -> None:
    """What `run` does at start: seed the tracker from the store."""
    last = load_last(engine, cluster="c1", now=datetime.now(UTC), heartbeat_s=60.0)
    for key, (payload, observed_at) in last.items():
        prober.tracker.seed(key, payload, observed_at)


async def _look_at(prober: KubeProxyProber, node: str) -> Observation | None:
    (target,) = [t for t in prober._wanted() if t.key.kind == "ProxyHealth" and t.key.node == node]
    async with ProbeClient(timeout_s=1.0, concurrency=1) as client:
        return await prober.look(client, target)


def test_a_change_the_other_replica_stored_is_not_stored_again(engine: Engine) -> None:
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        view = _view(fakes)
        first = _prober(engine, view, fakes)
        asyncio.run(_run(first, engine, lambda: len(_rows(engine)) >= 2))
        slow = _prober(engine, view, fakes)
        _load(slow, engine)  # it loaded the store before the change ...
        fakes.set_mode("node-2", "unhealthy")
        quick = _prober(engine, view, fakes)
        # until the change is stored (a row count no longer says it: the writer's guard drops
        # the quick replica's repeated first looks, and the count was then waited out for 30 s)
        asyncio.run(
            _run(quick, engine, lambda: any(r.payload["look"] == "change" for r in _rows(engine)))
        )
        changes = [r for r in _rows(engine) if r.payload["look"] == "change"]
        assert [(r.node, r.payload["status"]) for r in changes] == [("node-2", 503)]
        # ... and looks after the other stored it: its first look since it loaded is a resume
        # from the other's change, not the change again; the next one stores nothing
        resumed = asyncio.run(_look_at(slow, "node-2"))
        assert resumed is not None and resumed.payload["look"] == "resume"
        # from the newest stored look: the change, or the 503 the quick replica's stop stored
        # after it (a graceful stop stores a look it had left unstored)
        newest = [r for r in _rows(engine) if r.node == "node-2"][-1]
        assert newest.payload["status"] == 503 and newest.id >= changes[0].id
        assert resumed.previous_observed_at == newest.observed_at
        assert asyncio.run(_look_at(slow, "node-2")) is None
