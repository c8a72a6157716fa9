"""The bounded spool between the watchers and the store, and the loop that writes it.

Watchers `put` items; when the spool is full they wait (backpressure: the watch stream is read
more slowly and the API server buffers, or closes us and we resume from the checkpoint). The
writer takes a batch when it has `batch_size` items or `flush_interval_s` after the first one,
writes its observations and its checkpoints (per stream, the last resourceVersion in the batch) in
one transaction, and retries the same batch with backoff while the store is down: nothing is lost,
and a retry of a batch that did commit is a no-op thanks to the dedupe key.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.k8s.backoff import BackoffSettings, delay
from gapwatch.recorder.k8s.metrics import RecorderMetrics
from gapwatch.recorder.k8s.resources import SOURCE
from gapwatch.recorder.k8s.watcher import Item
from gapwatch.recorder.writer import Checkpoint, EventWriter

log = structlog.get_logger("gapwatch.recorder")

_CLOSE = object()


@dataclass(frozen=True, slots=True)
class SpoolSettings:
    max_items: int = 5_000
    batch_size: int = 1_000
    flush_interval_s: float = 0.1
    backoff: BackoffSettings = field(default_factory=lambda: BackoffSettings(max_s=10.0))


class Spool:
    """See the module docstring."""

    def __init__(
        self,
        *,
        writer: EventWriter,
        cluster: str,
        clock: Callable[[], datetime],
        settings: SpoolSettings | None = None,
        metrics: RecorderMetrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.writer, self.cluster, self.clock = writer, cluster, clock
        self.settings = settings or SpoolSettings()
        self.metrics = metrics or RecorderMetrics()
        self.rng = rng or random.Random()
        self._queue: asyncio.Queue[object] = asyncio.Queue(self.settings.max_items)
        self._enqueued = 0
        self._committed = 0
        self._progress = asyncio.Condition()
        self.healthy = True
        self.last_commit: datetime | None = None

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def put(self, item: Item) -> None:
        await self._queue.put((asyncio.get_running_loop().time(), item))
        self._enqueued += 1
        self.metrics.spool_depth.set(self._queue.qsize())

    async def flush(self) -> None:
        """Wait until everything put so far is committed."""
        target = self._enqueued
        async with self._progress:
            await self._progress.wait_for(lambda: self._committed >= target)

    async def close(self) -> None:
        """Let the writer drain what is queued, then stop it."""
        await self._queue.put(_CLOSE)

    async def _take(self) -> tuple[list[Item], bool]:
        """The next batch: up to batch_size items, or what came within flush_interval_s of the
        first one's arrival (not of the writer's return: a slow write must not add a wait)."""
        first = await self._queue.get()
        if first is _CLOSE:
            return [], True
        assert isinstance(first, tuple)
        enqueued: float = first[0]
        batch: list[Item] = [first[1]]
        loop = asyncio.get_running_loop()
        deadline = enqueued + self.settings.flush_interval_s
        while len(batch) < self.settings.batch_size:
            try:
                if self._queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    nxt = await asyncio.wait_for(self._queue.get(), remaining)
                else:
                    nxt = self._queue.get_nowait()
            except TimeoutError:
                break
            if nxt is _CLOSE:
                return batch, True
            batch.append(nxt[1])  # type: ignore[index]
        return batch, False

    async def run(self) -> None:
        """The writer loop; returns after `close()` once the spool is drained."""
        closing = False
        while not closing:
            batch, closing = await self._take()
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[Item]) -> None:
        observations = [i.observation for i in batch if i.observation is not None]
        latest: dict[str, str] = {}
        for item in batch:
            if item.rv:
                latest[item.stream] = item.rv
        checkpoints = [
            Checkpoint(self.cluster, SOURCE, stream, {"resourceVersion": rv})
            for stream, rv in latest.items()
        ]
        failures = 0
        while True:
            try:
                result = await asyncio.to_thread(self.writer.write, observations, checkpoints)
                break
            except StoreError as exc:
                failures += 1
                self.healthy = False
                self.metrics.write_errors.inc()
                wait = delay(failures, self.settings.backoff, self.rng)
                log.warning("store write failed; retrying", error=str(exc), retry_in_s=wait)
                await asyncio.sleep(wait)
        self.healthy = True
        now = self.clock()
        self.last_commit = now
        self.metrics.events_recorded.labels(source=SOURCE).inc(result.inserted)
        self.metrics.events_duplicate.inc(result.duplicates)
        self.metrics.quarantined.inc(result.quarantined)
        for obs in observations:
            self.metrics.write_lag.observe(max((now - obs.observed_at).total_seconds(), 0.0))
        async with self._progress:
            self._committed += len(batch)
            self._progress.notify_all()
        self.metrics.spool_depth.set(self._queue.qsize())
