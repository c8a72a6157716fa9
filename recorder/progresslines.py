"""Progress for logs: when stderr is not a terminal (CI, `kubectl logs`, `2> file`), a long
command prints a plain line at every tenth of the work, or every `every` units when the total is
unknown, instead of a bar nobody sees. Count-driven, never clock-driven: the same input prints the
same lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

#: Without a known total, a line every this many units (bytes or items).
EVERY_BYTES = 64 * 1024 * 1024
EVERY_ITEMS = 100_000

#: How work reports progress without knowing who shows it: `track(description, total)` is a
#: context giving `advance(increment)` (recorder.cliutil.progress is the CLI's).
Track = Callable[[str, float | None], AbstractContextManager[Callable[[float], None]]]
#: Items per advance() when counting rows as they stream by: the count costs nothing per row.
COUNT_EVERY = 10_000


def counted(rows: Iterable[Any], advance: Callable[[float], None]) -> Iterator[Any]:
    """`rows` unchanged, calling `advance` every COUNT_EVERY rows and once at the end."""
    n = 0
    for n, row in enumerate(rows, 1):
        if not n % COUNT_EVERY:
            advance(COUNT_EVERY)
        yield row
    advance(n % COUNT_EVERY)


def _amount(value: float, unit_bytes: bool) -> str:
    if not unit_bytes:
        return f"{int(value):,}"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{int(value)} B"


def line_progress(
    description: str,
    total: float | None,
    write: Callable[[str], None],
    *,
    unit_bytes: bool = False,
) -> Callable[[float], None]:
    """An `advance(n)` that writes `description: 30% (3.1 MB of 10.2 MB)` at each tenth."""
    done = 0.0
    step = 0
    every = EVERY_BYTES if unit_bytes else EVERY_ITEMS

    def advance(n: float) -> None:
        nonlocal done, step
        done += n
        if total:
            reached = min(10, int(done * 10 // total))
            if reached > step:
                step = reached
                write(
                    f"{description}: {reached * 10}% ({_amount(done, unit_bytes)} of "
                    f"{_amount(total, unit_bytes)})"
                )
        elif int(done // every) > step:
            step = int(done // every)
            write(f"{description}: {_amount(done, unit_bytes)} so far")

    return advance


def advance_to(advance: Callable[[float], None]) -> Callable[[float], None]:
    """For a progress bar's `advance(increment)`: a callback that takes the position reached
    (a simulation's `on_progress` reports simulated seconds, a projector the id it reached)."""
    done = 0.0

    def to(position: float) -> None:
        nonlocal done
        advance(position - done)
        done = position

    return to
