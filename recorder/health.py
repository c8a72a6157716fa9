"""The recorder's HTTP endpoints: /livez, /readyz, /metrics (Prometheus text format).

prometheus_client's own server answers every path with metrics, so this is a small aiohttp app.
- /livez: 200 while the writer loop runs and has not been stuck with a full spool for
  `stuck_after_s`; a 503 makes Kubernetes restart the pod.
- /readyz: 200 once every watch has finished its first LIST (or resumed its watch) and the last
  store write succeeded; 503 otherwise, with the reason in the body.

Every answer is counted in `gapwatch_recorder_http_requests_total{code}`: the handlers' (and
404 for any other path) by a middleware, and a request aiohttp's parser refuses before any
handler runs (400: a CR after a scrape's bearer token, TLS on the plain port) by the server's
logger (`ParserLog(counted=...)`, which also says it in one throttled line, never its bytes),
as the push API counts its own (session 32).

At most `MAX_CONNECTIONS` connections are open at once (recorder/sources/lb/listener.py, as the
push API's): at it a new one takes the place of the oldest one not in a request. Without a
cap, idle connections held the recorder's file descriptors, which its watches and store
connections need (session 33: 230 idle connections under `ulimit -n 256` left the process 17
descriptors); with a cap and nothing replaced, 64 slowloris clients kept the kubelet's probes
out (session 35: 10 of 70 answered).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from gapwatch.recorder.httplog import ParserLog
from gapwatch.recorder.metrics import RecorderMetrics
from gapwatch.recorder.sources.lb.listener import Listener

log = structlog.get_logger("gapwatch.recorder")

CONTENT_TYPE = "text/plain; version=0.0.4"
#: A connection that has not sent a whole request this long after it opened (or after its last
#: answer) is closed: without it one that sent part of its headers stayed open for ever.
IDLE_TIMEOUT_S = 30.0
#: Connections open at once. Who connects: the kubelet's liveness and readiness probes (a
#: connection per probe, closed after it) and Prometheus (one kept-alive connection per server
#: scraping, two in an HA pair); 64 leaves room for those, a second monitoring stack and a
#: person's curl, while an idle client past it holds no descriptor of the recorder's.
MAX_CONNECTIONS = 64
#: What `serve` tells of each request the parser refuses (the app's own counter).
COUNTED: web.AppKey[Callable[[int], None]] = web.AppKey("counted")


def health_app(
    *,
    metrics: RecorderMetrics,
    live: Callable[[], str | None],
    ready: Callable[[], str | None],
) -> web.Application:
    """`live`/`ready` return None when fine, else the reason to report with a 503."""

    async def livez(_: web.Request) -> web.Response:
        reason = live()
        return web.Response(text=reason or "ok", status=503 if reason else 200)

    async def readyz(_: web.Request) -> web.Response:
        reason = ready()
        return web.Response(text=reason or "ok", status=503 if reason else 200)

    async def metrics_handler(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    @web.middleware
    async def counted(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # the router's 404 and 405
            metrics.count_http(exc.status)
            raise
        except Exception:
            metrics.count_http(500)  # what aiohttp answers a handler's bug with
            raise
        metrics.count_http(response.status)
        return response

    app = web.Application(middlewares=[counted])
    app[COUNTED] = metrics.count_http
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    return app


async def serve(
    app: web.Application,
    listen: str,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
    *,
    max_connections: int = MAX_CONNECTIONS,
) -> tuple[web.AppRunner, int]:
    """Start `app` on HOST:PORT (port 0 picks one); returns the runner and the bound port.
    At most `max_connections` are open at once; `runner.cleanup()` stops listening."""
    host, _, port = listen.rpartition(":")
    listener = Listener(max_connections)
    listener.watch(app)

    async def stop_listening(_: web.Application) -> None:
        await listener.stop(log)

    app.on_shutdown.append(stop_listening)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        keepalive_timeout=idle_timeout_s,
        # a malformed scrape: counted, one line, never its Authorization header
        logger=ParserLog(counted=app.get(COUNTED)),
    )
    await runner.setup()
    assert runner.server is not None  # set by setup()
    bound = await listener.start(runner.server, host or "0.0.0.0", int(port))
    return runner, int(bound[0].rsplit(":", 1)[1])
