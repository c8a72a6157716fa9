"""Progress for logs: when stderr is not a terminal (CI, `kubectl logs`, `2> file`), a long
command prints a plain line at every tenth of the work, or every `every` units when the total is
unknown, instead of a bar nobody sees. Count-driven, never clock-driven: the same input prints the
same lines.
"""

from __future__ import annotations

from collections.abc import Callable

#: Without a known total, a line every this many units (bytes or items).
EVERY_BYTES = 64 * 1024 * 1024
EVERY_ITEMS = 100_000


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
