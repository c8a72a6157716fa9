"""The bounded spool between every source and the store, and the loop that writes it.

Sources `put` `Emitted` items (an observation and/or the checkpoint that follows it). The spool is
bounded in **bytes of memory**: an item weighs an estimate of what it holds in the process,
MEMORY_PER_JSON_BYTE times its payload's JSON size (orjson, about a microsecond per KB) plus
ITEM_OVERHEAD, so 16 MiB hold ~68 of the largest (60 KB) EndpointSlices or ~3,600 1 KB objects.
(The payload as Python objects is 3-5 times its JSON: weighing the JSON alone let a 16 MiB spool
hold ~65 MB, which was most of the recorder's peak RSS on a 65,000-object cluster.) When the
next item does not fit, `put` waits (backpressure: a watch stream is read more slowly and the API
server buffers or closes it; a poller polls later); the spool logs once per episode and sets
`gapwatch_recorder_spool_full` to 1 until it drains. An item larger than the whole bound is still
taken once the spool is empty. `max_items` (optional) bounds the count too.

The writer takes a batch when it has `batch_size` items or `flush_interval_s` after the first one
arrived, and writes, per source, its observations and its checkpoints (per key, the last one in
the batch) in one transaction; it retries with backoff while the store is down: nothing is lost,
and a retry of a batch that did commit is a no-op thanks to the dedupe key. Queued bytes are freed
when their batch commits, so the bound covers the batch being written too.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import structlog

from gapwatch.recorder.backoff import BackoffSettings, delay
from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.metrics import RecorderMetrics
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.base import Emitted
from gapwatch.recorder.writer import Checkpoint, EventWriter, Guarded, WriteResult

log = structlog.get_logger("gapwatch.recorder")

#: The memory a payload holds as Python objects per byte of its JSON. Measured with tracemalloc on
#: payloads decoded by orjson (which shares dict keys): the published samples (a kops Node list,
#: a minikube Node, an EndpointSlice, LoadBalancer Services) 3.1-5.0; the benchmarks' realistic
#: mix 3.75 (EndpointSlice, Node) to 5.3 (Pod), higher only on probe answers under 300 bytes,
#: whose memory the overhead below covers.
MEMORY_PER_JSON_BYTE = 4

#: What an item holds beyond its payload: the Emitted, the Observation and its strings and
#: datetimes, a checkpoint (measured: 380-510 bytes on the realistic mix).
ITEM_OVERHEAD = 512


@dataclass(frozen=True, slots=True)
class SpoolSettings:
    max_bytes: int = 16 * 1024 * 1024
    #: An optional bound on the number of items as well (None: bytes only).
    max_items: int | None = None
    batch_size: int = 1_000
    flush_interval_s: float = 0.1
    backoff: BackoffSettings = field(default_factory=lambda: BackoffSettings(max_s=10.0))


def item_size(item: Emitted) -> int:
    """The bytes of memory an item holds in the spool, estimated: MEMORY_PER_JSON_BYTE times its
    payload's JSON size, plus ITEM_OVERHEAD."""
    if item.observation is None:
        return ITEM_OVERHEAD
    return ITEM_OVERHEAD + MEMORY_PER_JSON_BYTE * _json_size(item.observation.payload)


def _json_size(payload: Any) -> int:
    """The payload's JSON size; where orjson cannot write it (nested past its 255 levels: such
    an object stopped the recorder here, session 40; the store quarantines it), its strings'
    lengths and 8 bytes for every other value, counted without recursion."""
    try:
        return len(orjson.dumps(payload, default=str))
    except TypeError:
        pass
    size, stack = 0, [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            size += sum(len(str(k)) + 3 for k in node)
            stack += node.values()
        elif isinstance(node, list | tuple):
            stack += node
        size += len(node) if isinstance(node, str) else 8
    return size


class Spool:
    """See the module docstring. Implements `sources.base.Sink`."""

    def __init__(
        self,
        *,
        writer: EventWriter,
        clock: Callable[[], datetime],
        settings: SpoolSettings | None = None,
        metrics: RecorderMetrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.writer, self.clock = writer, clock
        self.settings = settings or SpoolSettings()
        self.metrics = metrics or RecorderMetrics()
        self.rng = rng or random.Random()
        self._queue: deque[tuple[float, int, Emitted]] = deque()
        self._held_bytes = 0  # queued and being written
        self._held_items = 0
        self._closed = False
        self._changed = asyncio.Condition()
        self._enqueued = 0
        self._committed = 0
        self._full = False
        self._waiting = 0  # puts waiting for room
        self.healthy = True
        self.last_commit: datetime | None = None

    @property
    def depth(self) -> int:
        """Items not yet taken by the writer."""
        return len(self._queue)

    @property
    def held_bytes(self) -> int:
        return self._held_bytes

    @property
    def held_items(self) -> int:
        """Items queued or being written: not yet committed."""
        return self._held_items

    def _fits(self, size: int) -> bool:
        s = self.settings
        if s.max_items is not None and self._held_items >= s.max_items:
            return False
        return self._held_bytes == 0 or self._held_bytes + size <= s.max_bytes

    def _set_full(self, full: bool) -> None:
        if full == self._full:
            return
        self._full = full
        self.metrics.spool_full.set(1 if full else 0)
        if full:
            self.metrics.spool_full_episodes.inc()
            log.warning(
                "spool full; sources wait until the store catches up",
                held_bytes=self._held_bytes,
                held_items=self._held_items,
                max_bytes=self.settings.max_bytes,
            )
        else:
            log.info("spool no longer full", held_bytes=self._held_bytes)

    async def put(self, item: Emitted) -> None:
        """Queue one item; waits while it does not fit (backpressure)."""
        size = item_size(item)
        async with self._changed:
            if not self._fits(size):
                self._set_full(True)
                self._waiting += 1
                try:
                    await self._changed.wait_for(lambda: self._fits(size))
                finally:
                    self._waiting -= 1
            self._queue.append((asyncio.get_running_loop().time(), size, item))
            self._held_bytes += size
            self._held_items += 1
            self._enqueued += 1
            self._changed.notify_all()
        self._gauges()

    def _gauges(self) -> None:
        self.metrics.spool_depth.set(len(self._queue))
        self.metrics.spool_bytes.set(self._held_bytes)

    async def flush(self) -> None:
        """Wait until everything put so far is committed."""
        target = self._enqueued
        async with self._changed:
            await self._changed.wait_for(lambda: self._committed >= target)

    async def close(self) -> None:
        """Let the writer drain what is queued, then stop it."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def _take(self) -> tuple[list[tuple[int, Emitted]], bool]:
        """The next batch: up to batch_size items, or what came within flush_interval_s of the
        first one's arrival (not of the writer's return: a slow write must not add a wait). Stops
        early when sources are waiting for room: more items cannot come before a commit."""
        loop = asyncio.get_running_loop()
        batch: list[tuple[int, Emitted]] = []
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._queue) or self._closed)
            if not self._queue:
                return batch, True
            deadline = self._queue[0][0] + self.settings.flush_interval_s
            while len(batch) < self.settings.batch_size:
                if self._queue:
                    _, size, item = self._queue.popleft()
                    batch.append((size, item))
                    continue
                remaining = deadline - loop.time()
                if self._closed or self._waiting or remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(self._queue) or self._closed),
                        remaining,
                    )
                except TimeoutError:
                    break
            closing = self._closed and not self._queue
        self._gauges()
        return batch, closing

    async def run(self) -> None:
        """The writer loop; returns after `close()` once the spool is drained."""
        closing = False
        while not closing:
            batch, closing = await self._take()
            if batch:
                await self._write([item for _, item in batch])
                async with self._changed:
                    self._held_bytes -= sum(size for size, _ in batch)
                    self._held_items -= len(batch)
                    self._committed += len(batch)
                    # Full until nobody waits and half the room is free: one log line per
                    # episode of sustained pressure, not one per batch.
                    if not self._waiting and self._held_bytes <= self.settings.max_bytes // 2:
                        self._set_full(False)
                    self._changed.notify_all()
                self._gauges()

    async def _write(self, batch: list[Emitted]) -> None:
        for source, (observations, checkpoints, guarded) in _by_source(batch).items():
            result = await self._write_retrying(observations, checkpoints, guarded)
            now = self.clock()
            self.last_commit = now
            self.metrics.events_recorded.labels(source=source).inc(result.inserted)
            self.metrics.events_duplicate.inc(result.duplicates)
            self.metrics.quarantined.inc(result.quarantined)
            if result.superseded:
                self.metrics.changes_superseded.labels(source=source).inc(result.superseded)
            for obs in observations:
                self.metrics.write_lag.observe(max((now - obs.observed_at).total_seconds(), 0.0))

    async def _write_retrying(
        self,
        observations: list[Observation],
        checkpoints: list[Checkpoint],
        guarded: list[Guarded],
    ) -> WriteResult:
        failures = 0
        failed_at: datetime | None = None
        while True:
            try:
                result = await asyncio.to_thread(
                    self.writer.write, observations, checkpoints, guarded
                )
                break
            except StoreError as exc:
                failures += 1
                failed_at = failed_at or self.clock()
                self.healthy = False
                self.metrics.write_errors.inc()
                wait = delay(failures, self.settings.backoff, self.rng)
                log.warning("store write failed; retrying", error=str(exc), retry_in_s=wait)
                await asyncio.sleep(wait)
        if failed_at is not None:  # the end of the warnings above, said as plainly
            log.info(
                "store writable again",
                failures=failures,
                down_s=round((self.clock() - failed_at).total_seconds(), 1),
            )
        self.healthy = True
        return result


def _by_source(
    batch: list[Emitted],
) -> dict[str, tuple[list[Observation], list[Checkpoint], list[Guarded]]]:
    """Per source, in order of first appearance: its observations, its last checkpoint per
    (cluster, key), and its guarded items in order (writer.Guard: a guarded observation goes
    with them, not with the others). Each source's checkpoints cover only its own observations,
    so each source commits in a transaction of its own (and its rows are counted under its
    name)."""
    Group = tuple[list[Observation], dict[tuple[str, str], Checkpoint], list[Guarded]]
    groups: dict[str, Group] = {}
    for item in batch:
        cp = item.checkpoint
        if cp is not None and item.guard is not None:
            group = groups.setdefault(cp.source, ([], {}, []))
            group[2].append(Guarded(item.observation, cp, item.guard))
            continue
        if item.observation is not None:
            groups.setdefault(item.observation.source, ([], {}, []))[0].append(item.observation)
        if cp is not None:
            groups.setdefault(cp.source, ([], {}, []))[1][(cp.cluster, cp.key)] = cp
    return {
        source: (obs, list(cps.values()), guarded) for source, (obs, cps, guarded) in groups.items()
    }
