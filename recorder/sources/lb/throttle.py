"""At most one log line per client and status every few seconds (the push API's refusals).

Every refused push is logged (push.py `_refused`), so whoever runs the receiver sees a pusher
with a wrong token. Anyone on the pod network can send refused requests, though: one connection
of an unauthenticated client got 2,068 answers of 401 in 5 s, each a 210-byte warning (87 KB/s
of log from one connection, up to the connection cap of them). So a line is written for the
first refusal of a (peer, status) and then at most one every `every_s`, saying how many were
left out since (`suppressed`); the metrics still count every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Seconds between two lines for one client and status.
EVERY_S = 10.0
#: Clients remembered at most; past it the memory starts over (a flood from many addresses
#: then logs one line per address again, never more than before this throttle).
MAX_KEYS = 10_000


class Throttle:
    """`allow(key)` -> None to leave the line out, else how many were left out before it."""

    def __init__(self, every_s: float = EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.every_s = every_s
        self._clock = clock
        self._last: dict[tuple[str | None, int], float] = {}
        self._held: dict[tuple[str | None, int], int] = {}

    def allow(self, key: tuple[str | None, int]) -> int | None:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.every_s:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        if len(self._last) >= MAX_KEYS:
            self._last.clear()
            self._held.clear()
        self._last[key] = now
        return self._held.pop(key, 0)
