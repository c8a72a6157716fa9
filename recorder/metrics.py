"""The recorder's shared Prometheus metrics: the spool and the writer, whatever the source.

One `CollectorRegistry` per running recorder (so tests can run several in one process); every
source adds its own metrics to the same registry (`SourceContext.registry`) and `/metrics`
renders them all.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class RecorderMetrics:
    """What the spool and the writer update; `render()` is the /metrics body."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry if registry is not None else CollectorRegistry()
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
        self.changes_superseded = Counter(
            "gapwatch_recorder_changes_superseded",
            "Changes dropped because the stored state was not the one they were made from "
            "(the other replica stored the change first: recorder/writer.py, Guard).",
            ["source"],
            registry=r,
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
        self.spool_bytes = Gauge(
            "gapwatch_recorder_spool_bytes",
            "Estimated memory of the items waiting or being written (bytes: 4x the payload's "
            "JSON + 512 an item, recorder/spool.py).",
            registry=r,
        )
        self.spool_full = Gauge(
            "gapwatch_recorder_spool_full",
            "1 while the spool is full and sources wait (backpressure), else 0.",
            registry=r,
        )
        self.clock_divergence = Gauge(
            "gapwatch_recorder_clock_divergence_seconds",
            "The host's wall clock minus the recorder's steady clock (recorder/steadyclock.py).",
            registry=r,
        )
        self.partition_days_ahead = Gauge(
            "gapwatch_recorder_partition_days_ahead",
            "PostgreSQL: days from today (UTC) to the last day partition of events, as the "
            "recorder's hourly maintenance found them; rows after it wait in events_default "
            "(docs/retention.md). NaN before the first run and where the store has none.",
            registry=r,
        )
        self.partition_days_ahead.set(float("nan"))
        self.http_requests = Counter(
            "gapwatch_recorder_http_requests",
            "Requests the recorder's /livez, /readyz, /metrics server answered, by HTTP status "
            "(400 also for a request aiohttp's parser refused before any handler: a CR or DEL "
            "in a header line, TLS on the plain port).",
            ["code"],
            registry=r,
        )
        self.spool_full_episodes = Counter(
            "gapwatch_recorder_spool_full_episodes",
            "Times the spool became full.",
            registry=r,
        )

    def count_http(self, status: int) -> None:
        """One answer of the health server (its status, a bounded label)."""
        self.http_requests.labels(code=str(status)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
