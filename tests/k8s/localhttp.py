"""A local aiohttp server for wire-level tests: one handler on one path, on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from gapwatch.recorder.sources.k8s.client import ApiEndpoint

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(path: str, handler: Handler) -> AsyncIterator[ApiEndpoint]:
    """Serve GET `path` with `handler` on 127.0.0.1 until the block ends; yields its endpoint."""
    app = web.Application()
    app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield ApiEndpoint(host=f"http://127.0.0.1:{runner.addresses[0][1]}")
    finally:
        await runner.cleanup()
