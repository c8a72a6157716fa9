"""A look's end is read from the prober's own clock (recorder/sources/kubeproxy/source.py), not
the start plus the measured latency: with a clock that runs 10x (the lab's), a look that hung
until the fake kube-proxy answered again is stamped at or after that answer. Before, it was
stamped 1x its wall latency after its start, seconds (simulated) before the answer it recorded:
the lab's `probe-timeout` lost those returns. A fake kube-proxy on loopback (real HTTP), a real
store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from gapwatch.recorder.sources.base import SourceContext
from gapwatch.recorder.sources.kubeproxy.source import build
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_source import _rows, _run, _view

SPEED = 10.0


def test_a_look_that_hung_is_stamped_when_its_answer_came(engine: Engine) -> None:
    origin, wall0 = datetime(2026, 1, 1, tzinfo=UTC), time.time()

    def clock() -> datetime:
        return origin + timedelta(seconds=(time.time() - wall0) * SPEED)

    with FakeKubeProxies(1, base=random_loopback_base()) as fakes:
        fakes.set_mode("node-1", "hang")
        context = SourceContext(
            cluster="c1",
            engine=engine,
            clock=clock,
            rng=random.Random(7),
            registry=CollectorRegistry(),
            view=_view(fakes),
            derive=write_facts,
        )
        prober = build(context, {"interval_s": 0.2, "timeout_s": 5.0,
                                 "healthz_port": fakes.healthz_port})  # fmt: skip
        answered: list[datetime] = []

        def answer_after_a_while() -> bool:
            if not answered and time.time() - wall0 > 1.0:
                answered.append(clock())
                fakes.set_mode("node-1", "healthy")
            return bool(answered) and len(_rows(engine)) >= 1

        asyncio.run(_run(prober, engine, answer_after_a_while))
    first = _rows(engine)[0]
    assert first.payload["status"] == 200  # the look that hung got the answer
    assert first.observed_at >= answered[0]
