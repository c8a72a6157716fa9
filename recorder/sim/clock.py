"""Simulated microseconds to wall-clock times and their RFC 3339 text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Turns simulated microseconds into wall-clock times from the scenario's start.

    Formatting is on the hot path (every observation, every object timestamp): the text of each
    whole second is cached, microseconds are appended.
    """

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC)
        self._seconds: dict[int, str] = {}

    def dt(self, t_us: int) -> datetime:
        return self.start + timedelta(microseconds=t_us)

    def _second(self, sec: int) -> str:
        text = self._seconds.get(sec)
        if text is None:
            if len(self._seconds) > 65536:
                self._seconds.clear()
            text = (self.start + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S")
            self._seconds[sec] = text
        return text

    def k8s(self, t_us: int) -> str:
        """Whole seconds, as the API server writes timestamps."""
        return self._second(t_us // 1_000_000) + "Z"

    def micro(self, t_us: int) -> str:
        """RFC 3339 UTC with microseconds (the truth file's form)."""
        sec, frac = divmod(t_us + self.start.microsecond, 1_000_000)
        if self.start.microsecond:
            return (self.start + timedelta(microseconds=t_us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"{self._second(sec)}.{frac:06d}Z"
