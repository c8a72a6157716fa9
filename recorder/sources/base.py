"""The protocol every source implements, and what the recorder hands each one.

A source is a small class built by a `build(context, settings)` function from its own settings
section of the configuration (a mapping it validates itself, raising ConfigError). The recorder
calls `run(sink, stop)` once; the source puts what it observes into the sink (a bounded spool
shared by every source: `put` waits while the spool is full) and returns soon after `stop` is
set. It raises only for a failure the recorder should restart on.

- `Emitted`: one observation, or none, with the checkpoint that follows it. A checkpoint is
  committed in the same transaction as the observations put before it, so a source that resumes
  from its checkpoint after a crash loses nothing and (thanks to the dedupe key) duplicates
  nothing. A `guard` makes the checkpoint a compare-and-set (recorder/writer.py, `Guard`): the
  observation is dropped when the stored checkpoint is not the base it was made from.
- `SourceContext`: the recorder's cluster name, the store (for a source that loads its last
  state at start), the injected clock (read once per cycle), a random generator (jitter), the
  Prometheus registry to add metrics to, and the `ClusterView` that the Kubernetes source keeps
  up to date for the sources that need to know the Services and Nodes (the kube-proxy prober, the
  LB pollers' node mapping).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.recorder.writer import Checkpoint, Derive, Guard


@dataclass(frozen=True, slots=True)
class Emitted:
    """What a source puts into the spool: an observation and/or a checkpoint that follows it."""

    observation: Observation | None
    checkpoint: Checkpoint | None = None
    #: with a checkpoint: written under this guard, in order with the source's other guarded
    #: items (None: an ordinary checkpoint)
    guard: Guard | None = None


class Sink(Protocol):
    """The spool as a source sees it."""

    async def put(self, item: Emitted) -> None:
        """Queue one item; waits while the spool is full (backpressure)."""

    async def flush(self) -> None:
        """Wait until everything put so far is committed."""


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What the recorder gives every source it builds."""

    cluster: str
    engine: Engine
    clock: Callable[[], datetime]
    rng: random.Random
    registry: CollectorRegistry
    view: ClusterView
    #: The writer's derive hook (replay's facts), for a source that writes through its own
    #: EventWriter instead of the shared spool (the push API).
    derive: Derive


class Source(Protocol):
    """One running source."""

    #: The configuration key it was built from (also its label in logs and metrics).
    name: str

    def ready(self) -> str | None:
        """None when the source is doing its job, else why not (reported by /readyz)."""

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        """Observe and put into `sink` until `stop` is set."""


#: `build(context, settings)`: what REGISTRY names for each source.
Builder = Callable[[SourceContext, Mapping[str, Any]], Source]
