"""A restarted prober compares each target with its STORED last look, however long nobody looked
(recorder/sources/kubeproxy/laststate.py: the prober's checkpoints): after a blind stretch longer
than the three heartbeats the events are read for, its first looks are still `resume` or
`change` reaching back to the stored look, never `first` (the lab's `sigkill-all` showed the
gap the log did not show). Fake kube-proxies on loopback (the real HTTP health port), a real
store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from gapwatch.recorder.sources.base import SourceContext
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber, build
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_source import _rows, _run, _view


def _prober(
    engine: Engine, view: ClusterView, fakes: FakeKubeProxies, ahead: timedelta
) -> KubeProxyProber:
    context = SourceContext(
        cluster="c1",
        engine=engine,
        clock=lambda: datetime.now(UTC) + ahead,
        rng=random.Random(7),
        registry=CollectorRegistry(),
        view=view,
        derive=write_facts,
    )
    # a 2 s timeout, as test_source's: at CI's load a 0.2 s answer timed out, and the restarted
    # prober's first look at a healthy node read as a change to `timeout`
    settings = {"interval_s": 0.2, "timeout_s": 2.0, "healthz_port": fakes.healthz_port,
                "heartbeat_s": 60.0}  # fmt: skip
    return build(context, settings)


def test_a_prober_back_after_hours_resumes_from_the_stored_look(engine: Engine) -> None:
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        view = _view(fakes)
        first = _prober(engine, view, fakes, timedelta(0))
        asyncio.run(_run(first, engine, lambda: len(_rows(engine)) >= 2))
        # the newest stored look of each node: its first, or the last look its stop stored
        rows = _rows(engine)
        stored = {r.node: r.observed_at for r in rows}
        assert {r.payload["look"] for r in rows} <= {"first", "last"}

        # two hours later (3 heartbeats are 180 s): node-2 stopped serving meanwhile
        fakes.set_mode("node-2", "unhealthy")
        back = _prober(engine, view, fakes, timedelta(hours=2))

        def looked() -> list[Any]:
            return [r for r in _rows(engine)[len(rows) :] if r.payload["look"] != "last"]

        asyncio.run(_run(back, engine, lambda: len(looked()) >= 2))
        after = {r.node: r for r in looked()}
        assert {n: r.payload["look"] for n, r in after.items()} == {
            "node-1": "resume",
            "node-2": "change",
        }
        assert {n: r.previous_observed_at for n, r in after.items()} == stored
