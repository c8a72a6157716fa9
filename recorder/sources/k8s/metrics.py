"""The Kubernetes source's Prometheus metrics, added to the recorder's shared registry."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _LastEventAge(Collector):
    """`gapwatch_recorder_last_event_age_seconds{kind}`, computed when scraped."""

    def __init__(self, last_seen: dict[str, float], monotonic: Callable[[], float]) -> None:
        self._last_seen, self._monotonic = last_seen, monotonic

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "gapwatch_recorder_last_event_age_seconds",
            "Seconds since the last event or bookmark of each watched resource.",
            labels=["kind"],
        )
        now = self._monotonic()
        for kind, at in sorted(self._last_seen.items()):
            family.add_metric([kind], now - at)
        yield family


class WatchMetrics:
    """Counters the watchers update."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        r = registry if registry is not None else CollectorRegistry()
        self.noop_dropped = Counter(
            "gapwatch_recorder_noop_updates_dropped",
            "Updates that changed only no-op fields (heartbeats), not recorded.",
            ["kind"],
            registry=r,
        )
        self.watch_restarts = Counter(
            "gapwatch_recorder_watch_restarts",
            "Watch streams reopened, by reason (timeout, error, stalled, gone, scope).",
            ["kind", "reason"],
            registry=r,
        )
        self.relists = Counter(
            "gapwatch_recorder_relists", "Full LISTs (start, 410 Gone).", ["kind"], registry=r
        )
        self._last_seen: dict[str, float] = {}
        self._monotonic = monotonic
        r.register(_LastEventAge(self._last_seen, monotonic))

    def seen(self, kind: str) -> None:
        self._last_seen[kind] = self._monotonic()
