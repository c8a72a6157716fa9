"""Drive an LB source directly: a real store, a sink writing through EventWriter, a real clock."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from gapwatch.recorder.exporter import iter_events
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.lb.metrics import PollerMetrics
from gapwatch.recorder.sources.lb.poller import Adapter, PollerSource, PollSettings
from gapwatch.recorder.sources.lb.sink import WriterSink
from gapwatch.recorder.sources.lb.tracker import NO_SERVICE, ServiceKey
from gapwatch.recorder.sources.view import NodeInfo
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts

CLUSTER = "lbtest"


def now() -> datetime:
    return datetime.now(UTC)


def make_source(
    name: str,
    adapter: Callable[[Callable[[str], None]], Adapter],
    *,
    nodes: Iterable[NodeInfo] = (),
    service: ServiceKey = NO_SERVICE,
    service_of: Callable[[str], ServiceKey] | None = None,
    settings: PollSettings | None = None,
    registry: CollectorRegistry | None = None,
) -> PollerSource:
    known = list(nodes)
    return PollerSource(
        name=name,
        cluster=CLUSTER,
        adapter=adapter,
        clock=now,
        metrics=PollerMetrics(registry or CollectorRegistry(), name, now),
        nodes=lambda: known,
        service_of=service_of or (lambda _group: service),
        settings=settings or PollSettings(interval_s=0.01, heartbeat_s=3600),
    )


def look(source: PollerSource, engine: Engine) -> int:
    """One look, committed to the store; returns the observations written."""

    async def once() -> int:
        sink = WriterSink(EventWriter(engine, derive=write_facts))
        put = await source.look(sink)
        await sink.flush()
        return put

    return asyncio.run(once())


def stored(engine: Engine, kind: str = "TargetHealth") -> list[Observation]:
    return [obs for _id, obs in iter_events(engine, cluster=CLUSTER) if obs.kind == kind]


def node(name: str, provider_id: str | None, *ips: str) -> NodeInfo:
    return NodeInfo(
        name=name, addresses=tuple(("InternalIP", ip) for ip in ips), provider_id=provider_id
    )


def gapwatch(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the `gapwatch` command as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "gapwatch.dashboard.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
