"""The SourceContext the prober tests build: cluster `c1`, the wall clock, a seeded random
phase, a registry of its own, the view given and replay's facts as the derive hook."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from gapwatch.recorder.sources.base import SourceContext
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.replay.facts import write_facts


def source_context(engine: Engine, view: ClusterView, seed: int = 7) -> SourceContext:
    return SourceContext(
        cluster="c1",
        engine=engine,
        clock=lambda: datetime.now(UTC),
        rng=random.Random(seed),
        registry=CollectorRegistry(),
        view=view,
        derive=write_facts,
    )
