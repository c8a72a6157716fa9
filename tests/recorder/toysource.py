"""A source that lives only in the tests, plugged in the way every source is: one REGISTRY line.

It counts: each round it puts one observation of the Nodes the ClusterView knows (filled by the
test, as `gapwatch probe` fills it without a Kubernetes source) and a checkpoint with the round
number, resuming after the last stored round. `settings`: `rounds` (int), `ready_after` (round).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.base import Emitted, Sink, SourceContext
from gapwatch.recorder.writer import Checkpoint, load_checkpoints

SOURCE = "toy-counter"


class CounterSource:
    name = "toy"

    def __init__(self, context: SourceContext, rounds: int) -> None:
        self.context, self.rounds = context, rounds
        self.done = 0

    def ready(self) -> str | None:
        return None if self.done else "no round yet"

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        ctx = self.context
        stored = await asyncio.to_thread(load_checkpoints, ctx.engine, ctx.cluster, SOURCE)
        first = int(stored.get("round", {}).get("n", 0)) + 1
        for n in range(first, first + self.rounds):
            if stop.is_set():
                return
            nodes = [node.name for node in ctx.view.nodes()]
            obs = Observation(
                observed_at=ctx.clock(),
                cluster=ctx.cluster,
                source=SOURCE,
                kind="Counter",
                op="OBSERVED",
                payload={"round": n, "nodes": nodes},
            )
            await sink.put(Emitted(obs, Checkpoint(ctx.cluster, SOURCE, "round", {"n": n})))
            await sink.flush()
            self.done = n
        await stop.wait()


def build(context: SourceContext, settings: Mapping[str, Any]) -> CounterSource:
    rounds = settings.get("rounds", 3)
    if not isinstance(rounds, int) or rounds < 1:
        raise ConfigError(f"rounds: expected a positive integer, not {rounds!r}")
    return CounterSource(context, rounds)
