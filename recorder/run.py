"""The long-running recorder: every configured source -> one spool -> the event store.

`Recorder` builds each source named under `sources:` through `sources.REGISTRY` (importing only
those), hands them a `SourceContext` and the spool as their sink, serves /livez, /readyz and
/metrics for all of them, follows the log with the facts projector (recorder/follow.py), and runs
until `stop` is set (SIGTERM): then it stops the sources, lets the writer commit everything
already put, catches the projector up, and returns. A source or the writer that ends on its
own ends `run` with its exception (the pod restarts). Nothing here knows what a source observes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

import structlog
from sqlalchemy import Engine

from gapwatch.recorder.config import RecorderConfig
from gapwatch.recorder.errors import ConfigError, StoreError
from gapwatch.recorder.follow import follow
from gapwatch.recorder.health import health_app, serve
from gapwatch.recorder.heap import trim_heap
from gapwatch.recorder.metrics import RecorderMetrics
from gapwatch.recorder.projector import Projector
from gapwatch.recorder.sources import REGISTRY
from gapwatch.recorder.sources.base import Builder, Source, SourceContext
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.recorder.spool import Spool
from gapwatch.recorder.steadyclock import SteadyClock
from gapwatch.recorder.tasks import wait_first
from gapwatch.recorder.writer import Derive, EventWriter

log = structlog.get_logger("gapwatch.recorder")


def utc_now() -> datetime:
    return datetime.now(UTC)


def builder(key: str) -> Builder:
    """The `build` function REGISTRY names for source `key` (its module is imported now)."""
    try:
        target = REGISTRY[key]
    except KeyError:
        raise ConfigError(f"unknown source {key!r} (known: {', '.join(REGISTRY)})") from None
    module, _, name = target.partition(":")
    return cast(Builder, getattr(importlib.import_module(module), name))


class Recorder:
    """See the module docstring."""

    def __init__(
        self,
        *,
        config: RecorderConfig,
        engine: Engine,
        derive: Derive,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.config, self.engine, self.clock = config, engine, clock
        self.rng = rng or random.Random()
        self.metrics = RecorderMetrics()
        if isinstance(clock, SteadyClock):  # export how far the host's wall clock is from it
            steady = clock
            self.metrics.clock_divergence.set_function(lambda: steady.divergence_s)
        self.spool = Spool(
            writer=EventWriter(engine, derive=derive),
            clock=clock,
            settings=config.spool,
            metrics=self.metrics,
            rng=self.rng,
        )
        self.projector = Projector(engine, derive)
        self.view = ClusterView()
        context = SourceContext(
            cluster=config.cluster,
            engine=engine,
            clock=clock,
            rng=self.rng,
            registry=self.metrics.registry,
            view=self.view,
            derive=derive,
        )
        self.sources: list[Source] = []
        for key, settings in config.sources.items():
            try:
                self.sources.append(builder(key)(context, settings))
            except ConfigError as exc:
                raise ConfigError(f"{config.origin}: sources.{key}: {exc}") from exc
        self.port: int | None = None
        self._writer_task: asyncio.Task[None] | None = None

    def source(self, key: str) -> Source:
        """The running source built from `sources: {key: ...}`."""
        return next(s for s in self.sources if s.name == key)

    # --- health ----------------------------------------------------------------------------
    def live(self) -> str | None:
        task = self._writer_task
        if task is not None and task.done():
            return "the writer stopped"
        return None

    def ready(self) -> str | None:
        for source in self.sources:
            reason = source.ready()
            if reason is not None:
                return reason if len(self.sources) == 1 else f"{source.name}: {reason}"
        if not self.spool.healthy:
            return "the store is not writable"
        return None

    def _not_written(self) -> StoreError:
        """What is lost when the store does not take the spool before the shutdown deadline: the
        items this process held. Said once in the log and as the command's error, never as an
        empty `error:` (a bare TimeoutError)."""
        held = self.spool.held_items
        last = self.spool.last_commit
        log.error(
            "stopped with items not written",
            not_written=held,
            shutdown_timeout_s=self.config.shutdown_timeout_s,
            last_commit=last.isoformat() if last else None,
        )
        since = f"since {last.isoformat()}" if last else "at all"
        return StoreError(
            f"stopped with {held} observations and checkpoints not written: the store took "
            f"none {since} and shutdown_timeout_s ({self.config.shutdown_timeout_s:g} s) ran "
            "out. Only the checkpoints stored are resumed from: the Kubernetes source re-reads "
            "what changed after them at its next start; unwritten probe and LB samples are lost"
        )

    # --- running ---------------------------------------------------------------------------
    async def _maintain(self, stop: asyncio.Event) -> None:
        """Day partitions ahead and retention, hourly (recorder/maintain.py); never fails."""
        from gapwatch.recorder.maintain import run_periodically
        from gapwatch.recorder.partitions import parse_retention

        retention = self.config.retention
        await run_periodically(
            self.engine,
            retention=parse_retention(retention) if retention else None,
            ahead_days=self.config.partitions_ahead_days,
            clock=self.clock,
            stop=stop,
            days_ahead=self._set_days_ahead,
        )

    def _set_days_ahead(self, days: int | None) -> None:
        self.metrics.partition_days_ahead.set(float("nan") if days is None else days)

    async def _announce_ready(self, stop: asyncio.Event) -> None:
        """Log `ready` once, when every source is (a supervisor, the lab, reads it); then wait."""
        while not stop.is_set():
            if self.ready() is None:
                log.info("ready", sources=[s.name for s in self.sources])
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.05)
        await stop.wait()

    async def run(self, stop: asyncio.Event) -> None:
        """Record until `stop` is set; then flush and return."""
        runner = None
        if self.config.listen:
            app = health_app(metrics=self.metrics, live=self.live, ready=self.ready)
            runner, self.port = await serve(app, self.config.listen)
        self._writer_task = asyncio.create_task(self.spool.run(), name="writer")
        stopper = asyncio.create_task(stop.wait(), name="stop")
        done_following = asyncio.Event()
        projector = asyncio.create_task(follow(self.projector, done_following), name="projector")
        running = [
            asyncio.create_task(s.run(self.spool, stop), name=f"source {s.name}")
            for s in self.sources
        ]
        if self.config.maintain:  # false on the node agents: the central recorder maintains
            running.append(asyncio.create_task(self._maintain(stop), name="maintenance"))
        running.append(asyncio.create_task(self._announce_ready(stop), name="ready"))
        running.append(asyncio.create_task(trim_heap(stop), name="heap"))
        try:
            await wait_first([stopper, self._writer_task, projector, *running])
            # One deadline for the whole shutdown (sources, writer, projector): it must end
            # within the pod's grace period, not take shutdown_timeout_s three times over.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.config.shutdown_timeout_s
            if running:  # each source returns soon after `stop`; one that does not is cancelled
                await asyncio.wait(running, timeout=self.config.shutdown_timeout_s)
            await self.spool.close()
            try:
                await asyncio.wait_for(self._writer_task, max(deadline - loop.time(), 0.0))
            except TimeoutError:
                raise self._not_written() from None
            done_following.set()  # its last catch-up runs after the writer's last commit
            try:
                await asyncio.wait_for(projector, max(deadline - loop.time(), 0.0))
            except TimeoutError:  # facts are derived from the log: the next start catches up
                log.warning("stopped before the facts caught up; the next start derives them")
            log.info("stopped", spool_depth=self.spool.depth)
        finally:
            stopper.cancel()
            for task in [*running, self._writer_task, projector]:
                task.cancel()
            if runner is not None:
                await runner.cleanup()
