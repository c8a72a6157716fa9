"""Where a simulation's observations go: NDJSON or the event store; and its one-line summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import IO

from sqlalchemy import Engine

from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim.result import Simulation, Truth
from gapwatch.recorder.writer import DEFAULT_BATCH, Derive, EventWriter, WriteResult


def to_ndjson(sim: Simulation, out: IO[str]) -> Counter[str]:
    """Write every observation as an NDJSON line (recorder.ndjson.dumps); counts per source."""
    counts: Counter[str] = Counter()
    for obs in sim:
        out.write(dumps(obs))
        out.write("\n")
        counts[obs.source] += 1
    return counts


def to_store(
    sim: Simulation,
    engine: Engine,
    *,
    derive: Derive,
    batch_size: int = DEFAULT_BATCH,
    written: WriteResult | None = None,
) -> Counter[str]:
    """Write every observation into the event store through EventWriter (with `derive`); counts
    per source. `written`, when given, gets what the store did (new rows, duplicates)."""
    counts: Counter[str] = Counter()

    def counted() -> Iterator[Observation]:
        for obs in sim:
            counts[obs.source] += 1
            yield obs

    result = EventWriter(engine, derive=derive).write_all(counted(), batch_size=batch_size)
    if written is not None:
        written.add(result)
    return counts


def summary(
    name: str, seed: int, counts: Counter[str], truth: Truth, noun: str = "observations"
) -> str:
    """`seed-3node seed 1: 147 observations (...); 4 true windows (...); ...` (`noun`: what
    `counts` counts, records for a postmortem format)."""

    def parts(counter: Counter[str]) -> str:
        return f" ({', '.join(f'{k} {v}' for k, v in sorted(counter.items()))})" if counter else ""

    classes = Counter(w.cls for w in truth.windows)
    outcomes = Counter(q.outcome for q in truth.requests)
    return (
        f"{name} seed {seed}: {sum(counts.values())} {noun}{parts(counts)}; "
        f"{len(truth.windows)} true windows{parts(classes)}; "
        f"{len(truth.requests)} failed requests{parts(outcomes)}; "
        f"{len(truth.rollouts)} rollouts"
    )
