"""A Sink that writes straight to the event store: for `gapwatch probe` and tests, where the
recorder's shared spool does not run. Observations are written in batches (every
`flush_interval_s`, or at `batch_size`) through the EventWriter, in a worker thread so the
event loop keeps probing; `flush` writes whatever is pending."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.base import Emitted
from gapwatch.recorder.writer import Checkpoint, Derive, EventWriter, Guarded


class WriterSink:
    """See the module docstring. Use `async with WriterSink(engine)`: leaving it flushes."""

    def __init__(
        self,
        engine: Engine,
        *,
        derive: Derive,
        batch_size: int = 1000,
        flush_interval_s: float = 0.5,
    ) -> None:
        self.writer = EventWriter(engine, derive=derive, notify=False)
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._pending: list[Observation] = []
        self._checkpoints: list[Checkpoint] = []
        self._guarded: list[Guarded] = []
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self.stored = 0

    async def __aenter__(self) -> WriterSink:
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.flush()

    async def put(self, item: Emitted) -> None:
        if item.checkpoint is not None and item.guard is not None:
            self._guarded.append(Guarded(item.observation, item.checkpoint, item.guard))
            if len(self._guarded) >= self.batch_size:
                await self.flush()
            return
        if item.observation is not None:
            self._pending.append(item.observation)
        if item.checkpoint is not None:
            self._checkpoints.append(item.checkpoint)
        if len(self._pending) >= self.batch_size:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending, []
            checkpoints, self._checkpoints = self._checkpoints, []
            guarded, self._guarded = self._guarded, []
            if batch or checkpoints or guarded:
                result = await asyncio.to_thread(self.writer.write, batch, checkpoints, guarded)
                self.stored += result.inserted

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()
