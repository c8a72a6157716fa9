"""The prober says when its first health-check look got an answer (`kube-proxy first look`, its
end on the prober's clock), once: the lab's ledger counts a kube-proxy state that ended before
the earliest replica's as unobservable (recorder/lab/run.py, as the LB poller's `lb first
look`). A look that timed out saw no state and is not it. Real HTTP (fake kube-proxies on
loopback), a real store."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from structlog.testing import capture_logs

from gapwatch.recorder.sources.kubeproxy.client import ProbeClient
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber
from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_stale_heartbeat import NODE, Clock, replica


async def _look(prober: KubeProxyProber, clock: Clock, start: float, end: float) -> None:
    (target,) = [t for t in prober._wanted() if t.key.kind == "ProxyHealth"]
    clock.reads(start, end)
    async with ProbeClient(timeout_s=0.3, concurrency=1) as client:
        await prober.look(client, target)


def test_the_first_answered_health_look_is_logged_once(engine: Engine) -> None:
    with FakeKubeProxies(1, base=random_loopback_base()) as fakes:
        prober, clock = replica(engine, fakes)

        async def looks() -> None:
            fakes.set_mode(NODE, "hang")
            await _look(prober, clock, 5.0, 5.3)  # timed out: no state seen
            fakes.set_mode(NODE, "unhealthy")
            await _look(prober, clock, 21.2, 21.3)
            await _look(prober, clock, 22.2, 22.3)

        with capture_logs() as logs:
            asyncio.run(looks())
    first = [e for e in logs if e["event"] == "kube-proxy first look"]
    assert [(e["observed_at"], e["node"], e["outcome"]) for e in first] == [
        ("2026-01-01T00:00:21.300000Z", NODE, "503")
    ]
