"""The poller re-reads the store's last states before its first look and before a look that
shows a change becomes observations (recorder/sources/lb/poller.py): a replica whose look was
slow or failed continues from what the other replica stored meanwhile. A scripted adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from gapwatch.recorder.sources.base import Emitted
from gapwatch.recorder.sources.lb.metrics import PollerMetrics
from gapwatch.recorder.sources.lb.poller import PollerSource, PollSettings
from gapwatch.recorder.sources.lb.shape import GroupLook, Target, Throttled
from gapwatch.recorder.sources.lb.tracker import NO_SERVICE, Tracker


class Script:
    """Answers each look from a list: a GroupLook, or an exception to raise."""

    def __init__(self, answers: list[GroupLook | Exception]) -> None:
        self.answers = answers

    def poll(self) -> list[GroupLook]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return [answer]


class ListSink:
    def __init__(self) -> None:
        self.items: list[Emitted] = []

    async def put(self, item: Emitted) -> None:
        self.items.append(item)

    async def flush(self) -> None:
        return None


def now() -> datetime:
    return datetime.now(UTC)


def test_resume_runs_before_the_first_look_and_before_a_look_that_shows_a_change() -> None:
    def group(state: str) -> GroupLook:
        return GroupLook(group="tg", targets=(Target(id="i-a", port=1, state=state),))

    script = Script(
        [
            group("healthy"),
            group("healthy"),
            Throttled("Throttling"),
            group("draining"),
            group("draining"),
        ]
    )
    resumed: list[int] = []

    def resume(_tracker: Tracker, _at: datetime) -> dict[str, Any]:
        resumed.append(source.looks)
        return {}

    def adapter(_count: Callable[[str], None]) -> Script:
        return script

    source = PollerSource(
        name="elbv2",
        cluster="c",
        adapter=adapter,
        clock=now,
        metrics=PollerMetrics(CollectorRegistry(), "elbv2", now),
        nodes=list,
        service_of=lambda _g: NO_SERVICE,
        settings=PollSettings(interval_s=0.01, heartbeat_s=3600),
        resume=resume,
    )
    sink = ListSink()

    async def looks() -> list[int]:
        return [await source.look(sink) for _ in range(5)]

    assert asyncio.run(looks()) == [1, 0, 0, 1, 0]
    # before look 1 (nothing known yet); after look 1 answered (i-a is new); after the 3rd good
    # look answered (i-a drains); never for an unchanged look or a throttled one
    assert resumed == [0, 1, 3]
