"""The push API's metrics and `gapwatch receive`'s /readyz and /metrics, as the recorder has them.

- `PushMetrics`: requests answered by status, observations stored and duplicate, failed writes
  (Prometheus counters in the registry given: the recorder's when the push API is its `push`
  source, a registry of its own under `gapwatch receive`).
- `/readyz`: 200 while the store answers (`SELECT 1`, one at a time however many probes wait),
  503 with the reason otherwise. The receiver has nothing else to wait for, and it must turn
  ready again by itself: no push reaches a pod its Service took out, so "the last write failed"
  would keep it out for good.
- `/metrics`: the registry in the Prometheus text format.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from sqlalchemy import Engine, text

from gapwatch.recorder.health import CONTENT_TYPE


class PushMetrics:
    """What the push handler counts; `render()` is the /metrics body."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "gapwatch_push_requests",
            "Push requests answered, by HTTP status (401, 413, 400: nothing stored, 400 also "
            "for a request aiohttp's parser refused before the handler; 503: the store "
            "failed).",
            ["code"],
            registry=r,
        )
        self.stored = Counter(
            "gapwatch_push_observations_stored",
            "Pushed observations stored (new rows).",
            registry=r,
        )
        self.duplicates = Counter(
            "gapwatch_push_observations_duplicate",
            "Pushed observations the store already held (a client's retry).",
            registry=r,
        )
        self.write_errors = Counter(
            "gapwatch_push_write_errors", "Push requests the store failed to write.", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StoreCheck:
    """`await check()` -> None while the store answers, else why; concurrent calls share one
    query (a store that hangs holds one thread, not one per probe)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._running: asyncio.Future[str | None] | None = None

    def _query(self) -> str | None:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means not ready: its kind is the reason
            return f"the event store does not answer: {type(exc).__name__}"
        return None

    async def __call__(self) -> str | None:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(asyncio.to_thread(self._query))
        return await asyncio.shield(self._running)


def add_health(app: web.Application, metrics: PushMetrics, check: StoreCheck) -> None:
    """Mount /readyz and /metrics (the push app already answers /livez)."""

    async def readyz(_: web.Request) -> web.Response:
        reason = await check()
        return web.Response(text=reason or "ok", status=503 if reason else 200)

    async def metrics_handler(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
