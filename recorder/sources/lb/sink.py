"""A Sink that writes straight through an EventWriter: for `gapwatch poll` (no recorder spool)
and for tests that drive a source directly. `flush` commits what was put, in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.base import Emitted
from gapwatch.recorder.writer import Checkpoint, EventWriter, Guarded, WriteResult


class WriterSink:
    """Collects what a source puts; `flush` writes it. Not shared between event loops."""

    def __init__(
        self,
        writer: EventWriter,
        *,
        on_write: Callable[[Sequence[Observation]], None] = lambda _batch: None,
    ) -> None:
        self._writer = writer
        self._pending: list[Observation] = []
        self._checkpoints: list[Checkpoint] = []
        self._guarded: list[Guarded] = []
        self._on_write = on_write
        self.result = WriteResult()

    async def put(self, item: Emitted) -> None:
        if item.checkpoint is not None and item.guard is not None:
            self._guarded.append(Guarded(item.observation, item.checkpoint, item.guard))
            return
        if item.observation is not None:
            self._pending.append(item.observation)
        if item.checkpoint is not None:
            self._checkpoints.append(item.checkpoint)

    async def flush(self) -> None:
        batch, checkpoints, guarded = self._pending, self._checkpoints, self._guarded
        self._pending, self._checkpoints, self._guarded = [], [], []
        if batch or checkpoints or guarded:
            result = await asyncio.to_thread(self._writer.write, batch, checkpoints, guarded)
            self.result.add(result)
            self._on_write(batch + [g.observation for g in guarded if g.observation is not None])
