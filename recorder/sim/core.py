"""The discrete-event core: simulated time in integer microseconds, a heap of pending events.

Nothing here reads the wall clock or the global `random` module: the same seed and the same
scenario give the same sequence of events. Ties at the same instant run in scheduling order.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

US = 1_000_000


def us(seconds: float) -> int:
    """Seconds to integer microseconds (rounded)."""
    return round(seconds * US)


@dataclass(frozen=True, slots=True)
class Lag:
    """A lag distribution in seconds: log-normal through `p50` and `p90`, capped at `max`.

    `p50 == p90` gives a constant; `p50 == 0` gives no lag at all.
    """

    p50: float
    p90: float
    max: float | None = None

    def sample_us(self, rng: random.Random) -> int:
        if self.p50 <= 0:
            return 0
        if self.p90 <= self.p50:
            value = self.p50
        else:
            sigma = math.log(self.p90 / self.p50) / 1.2815515655446004
            value = self.p50 * math.exp(rng.gauss(0.0, sigma))
        if self.max is not None and value > self.max:
            value = self.max
        return us(value)

    @property
    def bound(self) -> float:
        """The largest lag this distribution gives (its cap, or a generous p99.99 estimate)."""
        if self.max is not None:
            return self.max
        if self.p90 <= self.p50:
            return self.p50
        sigma = math.log(self.p90 / self.p50) / 1.2815515655446004
        return self.p50 * math.exp(3.72 * sigma)


class Loop:
    """A heap of (time_us, seq, callback, args); `run` pops them in order until `until_us`."""

    def __init__(self, after_event: Callable[[], None] | None = None) -> None:
        self.now = 0
        self._heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self.after_event = after_event
        self.processed = 0

    def at(self, when_us: int, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback(*args)` at absolute simulated time `when_us` (never in the past)."""
        when = max(when_us, self.now)
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, callback, args))

    def after(self, delay_us: int, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback(*args)` `delay_us` microseconds from now."""
        self.at(self.now + delay_us, callback, *args)

    def run_until(self, until_us: int) -> bool:
        """Process every event at or before `until_us`; False when the heap ran dry first."""
        heap = self._heap
        after = self.after_event
        while heap and heap[0][0] <= until_us:
            when, _seq, callback, args = heapq.heappop(heap)
            self.now = when
            callback(*args)
            self.processed += 1
            if after is not None:
                after()
        if not heap:
            return False
        self.now = until_us
        return True

    @property
    def pending(self) -> int:
        return len(self._heap)
