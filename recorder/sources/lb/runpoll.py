"""What `gapwatch poll` and `gapwatch receive` run (imported only when one of them is called)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from gapwatch.recorder.cliutil import open_store, stderr
from gapwatch.recorder.errors import SourceError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.plainlog import configure_plain_logging
from gapwatch.recorder.record import configure_logging
from gapwatch.recorder.sources.lb.build import PLANS, Plan
from gapwatch.recorder.sources.lb.laststate import store_resume
from gapwatch.recorder.sources.lb.metrics import PollerMetrics
from gapwatch.recorder.sources.lb.nodemap import StoreNodes
from gapwatch.recorder.sources.lb.poller import PollerSource
from gapwatch.recorder.sources.lb.sink import WriterSink
from gapwatch.recorder.timefmt import format_time
from gapwatch.recorder.writer import Derive, EventWriter


@dataclass(frozen=True, slots=True)
class PollJob:
    """The options every `gapwatch poll CLOUD` shares."""

    db: str
    cluster: str
    service: str | None
    interval: float
    duration: float | None
    heartbeat: float
    endpoint: str | None
    #: the writer's derive hook (replay's facts), from the app's Wiring
    derive: Derive


def _clock() -> datetime:
    return datetime.now(UTC)


def _print(batch: Sequence[Observation]) -> None:
    for obs in batch:
        target = obs.payload.get("Target") or {}
        health = obs.payload.get("TargetHealth") or {}
        what = f"{target.get('Id')}:{target.get('Port', '')}" if target else obs.kind
        sys.stdout.write(
            f"{format_time(obs.observed_at)} {obs.op:<8} {what} {health.get('State', '')} "
            f"node={obs.node or '-'}\n"
        )
    sys.stdout.flush()


async def _poll(job: PollJob, name: str, plan: Plan) -> None:
    engine = open_store(job.db)
    nodes = StoreNodes(engine, job.cluster)
    known = len(nodes())
    stderr.print(f"{name}: mapping targets to {known} node(s) of cluster {job.cluster!r}")
    if known == 0:
        # the targets are then stored with no node, which replay places on no lane: `gaps`
        # after such a poll found nothing, and nothing said why
        stderr.print(
            f"{name}: warning: the store holds no Node of cluster {job.cluster!r}: targets are "
            "stored with no node, and replay can place none of them until the cluster's Nodes "
            "are recorded (gapwatch record) or imported (gapwatch import k8s-watch); --cluster "
            "names the cluster whose Nodes map them (docs/lb.md, Node mapping)",
            markup=False,
        )
    sink = WriterSink(EventWriter(engine, derive=job.derive), on_write=_print)
    metrics = PollerMetrics(CollectorRegistry(), name, _clock)
    source = PollerSource(
        name=name,
        cluster=job.cluster,
        adapter=plan.adapter,
        clock=_clock,
        metrics=metrics,
        nodes=nodes,
        service_of=plan.service_of,
        settings=plan.settings,
        # from the store's last states, as the recorder's pollers: without it every run stored
        # each target ADDED again, with no previous look, however recently the last run ended
        resume=store_resume(engine, job.cluster, plan.settings.heartbeat_s),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if job.duration is not None:
        loop.call_later(job.duration, stop.set)
    try:
        await source.run(sink, stop)
    finally:
        await sink.flush()
        engine.dispose()
    stderr.print(
        f"{name}: {source.looks} look(s), {sink.result.inserted} observation(s) stored, "
        f"{metrics.per_minute(_clock())} API call(s) in the last minute"
    )
    if source.looks == 0 and source.ready():
        raise SourceError(f"{name}: no successful look: {source.ready()}")


def run_poll(job: PollJob, key: str, options: dict[str, Any]) -> None:
    """Poll with the same settings a recorder's `sources.KEY` section takes (build.PLANS)."""
    raw = {k: v for k, v in options.items() if v not in (None, [], False)}
    raw.update(interval_s=job.interval, heartbeat_s=job.heartbeat)
    for name, value in (("endpoint", job.endpoint), ("service", job.service)):
        if value is not None:
            raw[name] = value
    plan = PLANS[key](raw)
    configure_plain_logging(key)  # its own stderr lines are plain text: the log's too
    asyncio.run(_poll(job, key, plan))


def run_receive(
    listen: str,
    token_file: Path | None,
    db: str,
    max_body_bytes: int,
    max_lines: int,
    derive: Derive,
    read_timeout_s: float,
    max_connections: int,
) -> None:
    from gapwatch.recorder.sources.lb.push import (
        Limits,
        load_token,
        log,
        make_app,
        parse_listen,
        serve,
    )
    from gapwatch.recorder.sources.lb.pushhealth import PushMetrics, StoreCheck, add_health

    parse_listen(listen)
    token = load_token(token_file)
    engine = open_store(db)
    configure_logging()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        limits = Limits(max_body_bytes, max_lines, read_timeout_s, max_connections)
        metrics = PushMetrics()
        app, handler = make_app(engine, token, limits, derive=derive, metrics=metrics)
        add_health(app, metrics, StoreCheck(engine))
        await serve(app, listen, stop, limits=limits, counted=handler.count)
        # what the process did, as the recorder's `stopped` line: a restart's log says so
        log.info(
            "stopped",
            requests=sum(handler.answered.values()),
            answered={str(code): n for code, n in sorted(handler.answered.items())},
            stored=handler.stored,
            duplicates=handler.duplicates,
        )

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
