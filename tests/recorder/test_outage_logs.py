"""A store outage in the recorder's log: each failure of the writer is a warning with its retry,
and the outage's end is said too (`store writable again`: how many failures, how long); the
facts projector, which retries on every poll (each second), says `projector behind` once per
error, not once a second for the whole outage, and `projector caught up` when it is over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from structlog.testing import capture_logs

from gapwatch.recorder import follow as follow_module
from gapwatch.recorder.backoff import BackoffSettings
from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.follow import follow
from gapwatch.recorder.projector import Progress, Projector
from gapwatch.recorder.spool import Spool, SpoolSettings
from gapwatch.recorder.writer import EventWriter, WriteResult
from gapwatch.replay.facts import write_facts
from tests.recorder.test_spool import pod_item

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def down_writer(engine: Engine, down: int, monkeypatch: pytest.MonkeyPatch) -> EventWriter:
    """The real writer behind a store that refuses the first `down` writes."""
    writer = EventWriter(engine, derive=write_facts)
    real, refusals = writer.write, [down]

    def write(*args: Any, **kwargs: Any) -> WriteResult:
        if refusals[0]:
            refusals[0] -= 1
            raise StoreError("sqlite:///x: connection refused")
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "write", write)
    return writer


def test_the_writer_says_when_the_store_is_writable_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter(T0 + timedelta(seconds=10 * i) for i in range(100))
    settings = SpoolSettings(
        batch_size=10, flush_interval_s=0.01, backoff=BackoffSettings(initial_s=0.001, max_s=0.001)
    )

    async def main() -> None:
        writer = down_writer(engine, 3, monkeypatch)
        spool = Spool(writer=writer, clock=lambda: next(ticks), settings=settings)
        run = asyncio.create_task(spool.run())
        await spool.put(pod_item(1))
        await spool.flush()
        await spool.close()
        await run

    with capture_logs() as logs:
        asyncio.run(main())
    said = [e["event"] for e in logs]
    assert said == ["store write failed; retrying"] * 3 + ["store writable again"]
    (again,) = [e for e in logs if e["event"] == "store writable again"]
    # the clock is read at the first failure (tick 0) and at the success (tick 1)
    assert (again["failures"], again["down_s"]) == (3, 10.0)


class DownProjector(Projector):
    """A projector whose store refuses the first `down` catch-ups."""

    def __init__(self, engine: Engine, down: int, errors: list[str]) -> None:
        super().__init__(engine, derive=write_facts)
        self.down, self.errors, self.runs = down, errors, 0

    def catch_up(self, on_position: Callable[[int], None] | None = None) -> Progress:
        self.runs += 1
        if self.runs <= self.down:
            raise StoreError(self.errors[min(self.runs - 1, len(self.errors) - 1)])
        return super().catch_up()


def test_the_projector_says_it_is_behind_once_per_error_and_when_it_caught_up(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """... and listens again once the store is back: LISTEN failed with the store (`cannot
    listen; polling`), and without another try the follower polled for the rest of its life."""
    refused, gone = "sqlite:///x: connection refused", "sqlite:///x: server closed"
    projector = DownProjector(engine, 6, [refused, refused, refused, gone])
    listens: list[int] = []

    async def cannot_listen(follower: Projector, channel: str) -> None:
        listens.append(projector.runs)  # how many catch-ups had run when it tried
        return None

    monkeypatch.setattr(follow_module, "_listener", cannot_listen)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(follow(projector, stop, poll_s=0.001))
        while projector.runs <= 7:  # six failures, then a success or two
            await asyncio.sleep(0.001)
        stop.set()
        await asyncio.wait_for(task, 30)

    with capture_logs() as logs:
        asyncio.run(main())
    said = [(e["event"], e.get("error")) for e in logs]
    assert said == [
        ("projector behind", refused),
        ("projector behind", gone),
        ("projector caught up", None),
    ]
    assert logs[-1]["failures"] == 6
    assert listens == [0, 7]  # at start, and after the first catch-up that succeeded
