"""The pollers' Prometheus metrics, created once per registry and labelled by source.

`gapwatch_lb_api_calls_total{source,operation}` counts every HTTP request to a cloud API (for
boto3 every attempt, retries included); `gapwatch_lb_api_calls_per_minute{source}` is the count
over the last 60 s, the figure cloud API quotas are written in.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True, slots=True)
class _Family:
    calls: Counter
    per_minute: Gauge
    throttled: Counter
    errors: Counter
    delay: Gauge
    targets: Gauge


_FAMILIES: WeakKeyDictionary[CollectorRegistry, _Family] = WeakKeyDictionary()
_LOCK = threading.Lock()


def _family(registry: CollectorRegistry) -> _Family:
    with _LOCK:
        family = _FAMILIES.get(registry)
        if family is None:
            family = _Family(
                Counter(
                    "gapwatch_lb_api_calls",
                    "LB API requests sent.",
                    ["source", "operation"],
                    registry=registry,
                ),
                Gauge(
                    "gapwatch_lb_api_calls_per_minute",
                    "LB API requests in the last 60 s.",
                    ["source"],
                    registry=registry,
                ),
                Counter(
                    "gapwatch_lb_throttled",
                    "LB API answers that asked us to slow down.",
                    ["source"],
                    registry=registry,
                ),
                Counter(
                    "gapwatch_lb_poll_errors",
                    "Failed looks (any cause).",
                    ["source"],
                    registry=registry,
                ),
                Gauge(
                    "gapwatch_lb_poll_delay_seconds",
                    "Wait before the next look (backoff).",
                    ["source"],
                    registry=registry,
                ),
                Gauge(
                    "gapwatch_lb_targets",
                    "Targets seen at the last look.",
                    ["source"],
                    registry=registry,
                ),
            )
            _FAMILIES[registry] = family
        return family


class PollerMetrics:
    """One source's view of the family; `count` is safe to call from the SDK's thread."""

    def __init__(
        self, registry: CollectorRegistry, source: str, clock: Callable[[], datetime]
    ) -> None:
        self._f = _family(registry)
        self.source = source
        self._clock = clock
        self._recent: deque[datetime] = deque()
        self._lock = threading.Lock()

    def count(self, operation: str) -> None:
        self._f.calls.labels(self.source, operation).inc()
        now = self._clock()
        with self._lock:
            self._recent.append(now)
        self.per_minute(now)

    def per_minute(self, now: datetime) -> int:
        """Requests in the minute before `now` (also set as the gauge)."""
        with self._lock:
            while self._recent and now - self._recent[0] > timedelta(seconds=60):
                self._recent.popleft()
            n = len(self._recent)
        self._f.per_minute.labels(self.source).set(n)
        return n

    def throttled(self) -> None:
        self._f.throttled.labels(self.source).inc()

    def error(self) -> None:
        self._f.errors.labels(self.source).inc()

    def delay(self, seconds: float) -> None:
        self._f.delay.labels(self.source).set(seconds)

    def targets(self, n: int) -> None:
        self._f.targets.labels(self.source).set(n)
