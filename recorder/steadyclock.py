"""The recorder's clock: monotonic time anchored to the wall clock once, at start.

Every observation's `observed_at` comes from this clock. A wall clock can step (NTP correcting a
drifted host, someone running `date -s`, a VM resumed from a snapshot); a recorder that stamped
from it would move its observations by the step, and two replicas would disagree about when they
saw the same thing. So the recorder reads the wall clock once to anchor, then advances by the
monotonic clock (`time.monotonic`, which never steps). On every read it compares the two:

- it follows the wall clock only by **slewing**, at most `MAX_SLEW_PPM` of the elapsed time
  (the rate ntpd limits itself to), so the stamps never jump and never go backwards;
- when they differ by more than `DIVERGENCE_WARN_S` it logs a warning with the size (once per
  episode, and once more when they agree again), and `divergence_s` is always the current
  difference (wall minus this clock, seconds; the recorder exports it as
  `gapwatch_recorder_clock_divergence_seconds`).

`rate` scales the monotonic clock: 1 in production; the lab's recorders run `speed` simulated
seconds per wall second (recorder/lab/clock.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

log = structlog.get_logger("gapwatch.recorder")

#: The fastest the recorder's clock moves toward the wall clock: 500 parts per million, the
#: slew limit of the NTP reference implementation (ntpd's manual page, option -x: the maximum
#: slew rate is limited to 500 PPM). A 1 s step is absorbed in about 33 minutes.
MAX_SLEW_PPM = 500.0
#: The wall clock and the recorder's differ by more than this (s): warn. One second is far above
#: NTP's normal offsets (milliseconds) and below every sampling bound replay uses.
DIVERGENCE_WARN_S = 1.0


def wall_utc() -> datetime:
    return datetime.now(UTC)


class SteadyClock:
    """A callable clock; see the module docstring. Thread-safe (sources read it from threads)."""

    def __init__(
        self,
        wall: Callable[[], datetime] = wall_utc,
        *,
        rate: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_slew_ppm: float = MAX_SLEW_PPM,
        warn_s: float = DIVERGENCE_WARN_S,
    ) -> None:
        self._wall, self._mono, self.rate = wall, monotonic, rate
        self.max_slew = max_slew_ppm / 1e6
        self.warn_s = warn_s
        self._lock = threading.Lock()
        self._last_mono = monotonic()
        self._last = wall()
        #: wall clock minus this clock, seconds, at the last read
        self.divergence_s = 0.0
        self._warned = False

    def __call__(self) -> datetime:
        with self._lock:
            mono = self._mono()
            elapsed = max(0.0, (mono - self._last_mono) * self.rate)
            reading = self._last + timedelta(seconds=elapsed)
            offset = (self._wall() - reading).total_seconds()
            limit = elapsed * self.max_slew
            step = min(limit, max(-limit, offset))
            reading += timedelta(seconds=step)
            self._last, self._last_mono = reading, mono
            self.divergence_s = offset - step
            self._report()
            return reading

    def _report(self) -> None:
        size = self.divergence_s
        if abs(size) > self.warn_s and not self._warned:
            self._warned = True
            log.warning(
                "wall clock diverges from the recorder's clock; stamping from the monotonic "
                "clock and slewing",
                divergence_s=round(size, 3),
                max_slew_ppm=self.max_slew * 1e6,
            )
        elif abs(size) <= self.warn_s and self._warned:
            self._warned = False
            log.info("wall clock agrees with the recorder's clock again", divergence_s=size)
