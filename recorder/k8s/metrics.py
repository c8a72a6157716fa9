"""The recorder's Prometheus metrics, in a registry of their own (one per Recorder)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class RecorderMetrics:
    """Counters the watchers and the writer update; `render()` is the /metrics body."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry()
        self._monotonic = monotonic
        r = self.registry
        self.events_recorded = Counter(
            "gapwatch_recorder_events_recorded",
            "Observations stored (new rows).",
            ["source"],
            registry=r,
        )
        self.events_duplicate = Counter(
            "gapwatch_recorder_events_duplicate",
            "Observations the store already held (dedupe key).",
            registry=r,
        )
        self.noop_dropped = Counter(
            "gapwatch_recorder_noop_updates_dropped",
            "Updates that changed only no-op fields (heartbeats), not recorded.",
            ["kind"],
            registry=r,
        )
        self.watch_restarts = Counter(
            "gapwatch_recorder_watch_restarts",
            "Watch streams reopened, by reason (timeout, error, stalled, gone).",
            ["kind", "reason"],
            registry=r,
        )
        self.relists = Counter(
            "gapwatch_recorder_relists", "Full LISTs (start, 410 Gone).", ["kind"], registry=r
        )
        self.write_errors = Counter(
            "gapwatch_recorder_write_errors", "Failed store writes (retried).", registry=r
        )
        self.quarantined = Counter(
            "gapwatch_recorder_quarantined",
            "Observations the store refused even alone, kept in the quarantine table.",
            registry=r,
        )
        self.write_lag = Histogram(
            "gapwatch_recorder_write_lag_seconds",
            "From observing a change to committing its row.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.spool_depth = Gauge(
            "gapwatch_recorder_spool_depth", "Items waiting to be written.", registry=r
        )
        self.last_event_age = Gauge(
            "gapwatch_recorder_last_event_age_seconds",
            "Seconds since the last event or bookmark of each watched resource.",
            ["kind"],
            registry=r,
        )
        self._last_seen: dict[str, float] = {}

    def seen(self, kind: str) -> None:
        self._last_seen[kind] = self._monotonic()

    def render(self) -> bytes:
        now = self._monotonic()
        for kind, at in self._last_seen.items():
            self.last_event_age.labels(kind=kind).set(now - at)
        return generate_latest(self.registry)
