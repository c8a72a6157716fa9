"""Writers racing each other: one EventWriter per thread, each writing its own batches in turn,
while the test looks at the store (a reader tailing by id, a projector following the log)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Engine

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import Derive, EventWriter

Batches = Iterable[list[Observation]]


def write_in_parallel(
    engine: Engine,
    derive: Derive,
    batches: Sequence[Batches],
    meanwhile: Callable[[], object] = lambda: None,
) -> int:
    """Start one writer thread per entry of `batches`; call `meanwhile()` again and again until
    every writer is done; join them. Returns how often `meanwhile` ran; re-raises the first
    error a writer met (a thread's exception would otherwise only be printed)."""
    errors: list[BaseException] = []

    def work(mine: Batches) -> None:
        try:
            writer = EventWriter(engine, derive=derive)
            for batch in mine:
                writer.write(batch)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in batches]
    for t in threads:
        t.start()
    runs = 0
    try:
        while any(t.is_alive() for t in threads):
            meanwhile()
            runs += 1
    finally:
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return runs
