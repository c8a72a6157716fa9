"""The projector as a task of the recorder: caught up after every writer commit, woken by NOTIFY.

On PostgreSQL the writer sends one `NOTIFY gapwatch_events` per committed batch (ids only, see
recorder/writer.py); `follow` LISTENs on its own autocommit connection and catches the projector
up each time one arrives, and at least every `poll_s` seconds in case a notification was lost (a
reconnect, a writer started with notify=False). On SQLite, which has no notifications, it polls.
The writer in the same process already projects what it commits; this task picks up what other
processes wrote (the `gapwatch lb receive` endpoint, a `no_derive` tool) and what a failed
projection left behind.

After an upgrade that changed what is derived, the events other code derived
(recorder/derivedby.py) are derived again here, `Projector.rederive_step` after each catch-up
while any are left: each step waits as long as it took before the next (half the time at
most, so recording keeps the rest), and is resumed by the next start where the last committed
step left the range. A derive that raises on one of them stops it for this process (logged):
`gapwatch replay --rebuild --rederive` is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import psycopg
import structlog

from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.projector import Projector
from gapwatch.recorder.store import redact

log = structlog.get_logger("gapwatch.recorder.follow")

#: Longest wait between catch-ups without a notification. The fact lag target is under 1 s at
#: p99 (issue 15); the writer's own inline projection and NOTIFY carry that, this is the floor.
POLL_S = 1.0
#: The writer's channel (recorder.writer.NOTIFY_CHANNEL; not imported: the writer imports us).
CHANNEL = "gapwatch_events"


async def _listener(projector: Projector, channel: str) -> psycopg.AsyncConnection[object] | None:
    url = projector.engine.url
    if url.get_backend_name() != "postgresql":
        return None
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        await conn.execute(f'LISTEN "{channel}"')
    except psycopg.Error as exc:  # polling still works
        log.warning("cannot listen; polling", store=redact(str(url)), error=str(exc))
        return None
    return conn


async def _notified(conn: psycopg.AsyncConnection[object] | None, timeout: float) -> bool:
    """Wait for one notification (True) or `timeout` seconds (False)."""
    if conn is None:
        await asyncio.sleep(timeout)
        return False
    async for _ in conn.notifies(timeout=timeout, stop_after=1):
        return True
    return False


class _Rederiving:
    """The background re-derivation's state in one `follow`: its steps, logged at its start and
    end, stopped for good by a derive that raises."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self.started = False
        self.stopped = False
        self.done = 0

    def step(self) -> float | None:
        """One step; how long to wait before the next (None: nothing left, or stopped)."""
        if self.stopped:
            return None
        began = time.monotonic()
        try:
            done, left = self.projector.rederive_step()
        except StoreError:
            raise
        except Exception as exc:  # the data, or a bug of derive: leave it to the command
            self.stopped = True
            log.warning("re-deriving stopped", projector=self.projector.name, error=str(exc),
                        hint="run `gapwatch replay --rebuild --rederive`")  # fmt: skip
            return None
        took = time.monotonic() - began
        if done and not self.started:
            self.started = True
            log.info("re-deriving what other code derived", projector=self.projector.name,
                     left=done + left)  # fmt: skip
        self.done += done
        if not left:
            if self.started:
                log.info("re-derived what other code derived", projector=self.projector.name,
                         events=self.done)  # fmt: skip
                self.started, self.done = False, 0
            return None
        return max(took, 0.01)


async def follow(
    projector: Projector,
    stop: asyncio.Event,
    *,
    poll_s: float = POLL_S,
    channel: str = CHANNEL,
    started: asyncio.Event | None = None,
) -> None:
    """Catch `projector` up until `stop` is set: at start, on each NOTIFY, every `poll_s`.

    A store error is logged (once while it stays the same, then `projector caught up`) and
    retried on the next wake-up (the events are safe; facts wait); a LISTEN lost with the store
    is tried again once it is back, not left to polling for the rest of the process.
    `started` is set once it listens and has caught up the first time."""
    conn = await _listener(projector, channel)
    behind: str | None = None  # the error last logged; the same one is not logged every poll
    failures = 0
    rederiving = _Rederiving(projector)
    try:
        while not stop.is_set():
            wait = poll_s
            try:
                await asyncio.to_thread(projector.catch_up)
                pause = await asyncio.to_thread(rederiving.step)
                if pause is not None:
                    wait = min(poll_s, pause)
                if behind is not None:
                    log.info("projector caught up", projector=projector.name, failures=failures)
                    behind, failures = None, 0
                    if conn is None:  # it could not listen while the store was away: again
                        conn = await _listener(projector, channel)
            except StoreError as exc:
                failures += 1
                if str(exc) != behind:
                    log.warning("projector behind", projector=projector.name, error=str(exc))
                    behind = str(exc)
            if started is not None:
                started.set()
            waiter = asyncio.create_task(_notified(conn, wait))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                    await task
            failed = waiter.done() and not waiter.cancelled() and waiter.exception() is not None
            if conn is not None and (failed or conn.closed):  # listen again on a new connection
                await conn.close()
                conn = await _listener(projector, channel)
        try:  # what was committed up to `stop` (the recorder sets it after the writer's last)
            await asyncio.to_thread(projector.catch_up)
        except StoreError as exc:
            log.warning("projector behind at stop", projector=projector.name, error=str(exc))
    finally:
        if conn is not None:
            await conn.close()
