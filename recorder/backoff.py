"""Reconnect delays as client-go's reflector computes them (pure).

0.8 s doubling up to 30 s, each delay stretched by a random jitter of up to +100%, and reset once
the connection has worked for `reset_after_s`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffSettings:
    initial_s: float = 0.8
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 1.0
    reset_after_s: float = 120.0


def delay(failures: int, settings: BackoffSettings, rng: random.Random) -> float:
    """The wait before attempt number `failures` + 1 (failures >= 1)."""
    base = min(settings.initial_s * settings.factor ** max(failures - 1, 0), settings.max_s)
    return base * (1.0 + settings.jitter * rng.random())
