"""When to look: a fixed period per target, a random phase each, missed ticks skipped. Pure.

Each target gets a phase in `[0, jitter * interval)` when it is first scheduled, so 500 nodes do
not all fire at once, and then looks at `origin + phase + k * interval`: the period between two
looks at one target stays exactly `interval` (that keeps the recorded bounds within one interval
plus the timeout). A look that overran skips the ticks it missed instead of bursting to catch up.
"""

from __future__ import annotations

import math
import random


def phase(rng: random.Random, interval_s: float, jitter: float) -> float:
    """A target's offset from the common origin, seconds."""
    return rng.random() * jitter * interval_s


def first_due(origin: float, offset: float) -> float:
    """The time of a target's first look."""
    return origin + offset


def next_due(previous_due: float, interval_s: float, now: float) -> float:
    """The next tick after `previous_due` that is not already past `now`."""
    due = previous_due + interval_s
    if due >= now:
        return due
    missed = math.ceil((now - due) / interval_s)
    return due + missed * interval_s


def looks_per_second(targets: int, interval_s: float) -> float:
    """The probe rate a schedule asks for (for sizing: concurrency, CPU)."""
    return targets / interval_s
