"""The long-running recorder: Kubernetes watchers -> spool -> event store, plus health and metrics.

`Recorder.run(stop)` loads each stream's checkpoint and last recorded state from the store, starts
the Service watcher (always with a LIST, so the default scope knows every Local Service) and, once
it is synced, every other watcher; serves /livez, /readyz (ready once every stream has listed or
has an open watch) and /metrics; and when `stop` is set
(SIGTERM) stops the watchers, lets the writer commit everything already read, and returns. A
watcher or writer that fails unexpectedly ends `run` with its exception (the pod restarts).

High availability: run two replicas; both record, and the store's dedupe key makes the same change
(same object, resourceVersion and deletedness) one row whoever wrote it (docs/recorder.md).
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog
from sqlalchemy import Engine

from gapwatch.recorder.k8s.client import ApiEndpoint
from gapwatch.recorder.k8s.config import RecorderConfig
from gapwatch.recorder.k8s.health import health_app, serve
from gapwatch.recorder.k8s.metrics import RecorderMetrics
from gapwatch.recorder.k8s.resources import RESOURCES
from gapwatch.recorder.k8s.scope import LocalServiceScope
from gapwatch.recorder.k8s.spool import Spool
from gapwatch.recorder.k8s.state import Key, LastRow
from gapwatch.recorder.k8s.storeio import load_last, load_start
from gapwatch.recorder.k8s.watcher import ResourceWatcher
from gapwatch.recorder.writer import EventWriter

log = structlog.get_logger("gapwatch.recorder")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Recorder:
    """See the module docstring."""

    def __init__(
        self,
        *,
        config: RecorderConfig,
        engine: Engine,
        api: ApiEndpoint,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.config, self.engine, self.api, self.clock = config, engine, api, clock
        self.rng = rng or random.Random()
        self.metrics = RecorderMetrics()
        self.spool = Spool(
            writer=EventWriter(engine),
            cluster=config.cluster,
            clock=clock,
            settings=config.spool,
            metrics=self.metrics,
            rng=self.rng,
        )
        self.scope = LocalServiceScope() if config.scope == "local-services" else None
        self._watching: list[ResourceWatcher] = []
        #: Every stream, False until its first LIST is done (streams exist before their watchers).
        self.synced: dict[str, bool] = {
            f"{kind}/{ns}" if ns else kind: False for kind, ns in self._streams(list(config.kinds))
        }
        self.port: int | None = None
        self._writer_task: asyncio.Task[None] | None = None

    # --- health ----------------------------------------------------------------------------
    def live(self) -> str | None:
        task = self._writer_task
        if task is not None and task.done():
            return "the writer stopped"
        return None

    def ready(self) -> str | None:
        open_streams = {w.stream for w in self._watching if w.watching}
        waiting = sorted(s for s, ok in self.synced.items() if not ok and s not in open_streams)
        if waiting:
            return "not synced: " + ", ".join(waiting)
        if not self.spool.healthy:
            return "the store is not writable"
        return None

    # --- wiring ----------------------------------------------------------------------------
    async def _lookup(
        self, kind: str, namespace: str | None, keys: list[Key]
    ) -> dict[Key, LastRow]:
        await self.spool.flush()  # our own rows first, so the diff sees them
        return await asyncio.to_thread(
            load_last,
            self.engine,
            cluster=self.config.cluster,
            kind=kind,
            namespace=namespace,
            keys=keys,
        )

    def _scope_generation(self) -> int:
        return self.scope.generation if self.scope is not None else 0

    def _on_service(self, op: str, obj: Mapping[str, Any]) -> None:
        if self.scope is not None:
            self.scope.observe(op, obj)

    def _streams(self, kinds: list[str]) -> list[tuple[str, str | None]]:
        """(kind, namespace or None) of every watch for `kinds`."""
        streams: list[tuple[str, str | None]] = []
        for kind in kinds:
            namespaced = RESOURCES[kind].namespaced and self.config.namespaces
            streams += [(kind, ns) for ns in (self.config.namespaces if namespaced else [None])]
        return streams

    async def _watchers(
        self, session: aiohttp.ClientSession, kinds: list[str]
    ) -> list[ResourceWatcher]:
        streams = self._streams(kinds)
        resume, known = await asyncio.to_thread(
            load_start, self.engine, cluster=self.config.cluster, streams=streams
        )
        watchers = []
        for kind, namespace in streams:
            watcher = ResourceWatcher(
                session=session,
                api=self.api,
                resource=RESOURCES[kind],
                cluster=self.config.cluster,
                clock=self.clock,
                lookup_last=self._lookup,
                known=known[(kind, namespace)],
                namespace=namespace,
                label_selector=self.config.label_selectors.get(kind),
                relevant=self.scope.relevant if self.scope is not None else None,
                on_object=self._on_service if kind == "Service" else None,
                scope_generation=(
                    self._scope_generation if self.scope is not None and kind != "Service" else None
                ),
                projection=self.config.projection,
                redact=self.config.redact_paths,
                settings=self.config.watch,
                metrics=self.metrics,
                rng=self.rng,
            )
            # The Service stream always relists: the scope must know every Service.
            if kind != "Service" or self.scope is None:
                watcher.rv = resume.get(watcher.stream)
            watchers.append(watcher)
        self._watching += watchers
        return watchers

    async def _pump(self, watcher: ResourceWatcher) -> None:
        async for item in watcher:
            if item.synced and not self.synced.get(item.stream):
                self.synced[item.stream] = True
                log.info("synced", stream=item.stream, resource_version=item.rv)
                if all(self.synced.values()):
                    # The known state of every object is long-lived: keep the cyclic GC from
                    # walking it on every full collection (pauses of 100s of ms at 65,000 objects).
                    gc.collect()
                    gc.freeze()
            await self.spool.put(item)

    async def run(self, stop: asyncio.Event) -> None:
        """Record until `stop` is set; then flush and return."""
        runner = None
        if self.config.listen:
            app = health_app(metrics=self.metrics, live=self.live, ready=self.ready)
            runner, self.port = await serve(app, self.config.listen)
        self._writer_task = asyncio.create_task(self.spool.run(), name="writer")
        pumps: list[asyncio.Task[None]] = []
        stopper = asyncio.create_task(stop.wait())
        try:
            async with aiohttp.ClientSession() as session:
                kinds = list(self.config.kinds)
                first = ["Service"] if self.scope is not None and "Service" in kinds else []
                for group in (first, [k for k in kinds if k not in first]):
                    if not group or stop.is_set():
                        continue
                    watchers = await self._watchers(session, group)
                    pumps += [asyncio.create_task(self._pump(w), name=w.stream) for w in watchers]
                    while group is first and not all(self.synced[w.stream] for w in watchers):
                        await self._wait_any([stopper, self._writer_task, *pumps], 0.05)
                        if stop.is_set():
                            break
                if not stop.is_set():
                    await self._wait_any([stopper, self._writer_task, *pumps], None)
                for task in pumps:
                    task.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
            await self.spool.close()
            await asyncio.wait_for(self._writer_task, self.config.shutdown_timeout_s)
            log.info("stopped", spool_depth=self.spool.depth)
        finally:
            stopper.cancel()
            for task in [*pumps, self._writer_task]:
                task.cancel()
            if runner is not None:
                await runner.cleanup()

    @staticmethod
    async def _wait_any(tasks: list[asyncio.Task[Any]], timeout: float | None) -> None:
        """Wait for the first task to end; a watcher or the writer ending is an error."""
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is tasks[0] or task.cancelled():
                continue
            error = task.exception()
            if error is not None:
                raise error
            raise RuntimeError(f"{task.get_name()} ended unexpectedly")
