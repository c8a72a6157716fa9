"""The push API: `POST /v1/observations`, for every LB or CCM no poller covers.

The body is NDJSON in the documented observation format (docs/observation.md), one observation
per line, blank lines ignored. The answer:

- 401 without `Authorization: Bearer TOKEN` or with a wrong token (compared in constant time);
- 413 when the body is larger than `max_body_bytes` or has more than `max_lines` lines;
- 408 when the body has not arrived `read_timeout_s` after the headers (a connection that has
  not sent a whole request's headers, or is idle, that long is closed);
- 400 from aiohttp's parser for a request HTTP forbids (a control byte in a header line): said
  in one throttled log line without the request's bytes (recorder/httplog.py), and counted with
  the handler's answers (`serve(..., counted=handler.count)`);
- 400 when any line is not valid: nothing of the request is stored, and the answer names every
  bad line and why (`{"error": ..., "lines": [{"line": 3, "reason": "..."}]}`);
- 200 `{"received": N, "stored": S, "duplicates": D}` otherwise: the whole request is written in
  one transaction, and an observation sent again is a duplicate (the store's dedupe key), so a
  client may retry freely.

`add_routes(app, ...)` mounts the handler on any aiohttp application (the recorder's HTTP server);
`PushSource` (REGISTRY key `push`) runs them on their own listener inside `gapwatch record`;
`gapwatch receive` runs them alone. A push is written straight through its own EventWriter rather
than the shared spool: the answer has to say what was stored.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiohttp import web
from sqlalchemy import Engine

from gapwatch.recorder.errors import ConfigError, GapwatchError, ObservationError
from gapwatch.recorder.httplog import ParserLog
from gapwatch.recorder.ndjson import UTF8_BOM, check_storable
from gapwatch.recorder.observation import Observation, from_dict
from gapwatch.recorder.sources.base import SourceContext
from gapwatch.recorder.sources.lb.listener import Listener
from gapwatch.recorder.sources.lb.pushhealth import PushMetrics
from gapwatch.recorder.sources.lb.throttle import Throttle
from gapwatch.recorder.uniquekeys import check_unique_keys
from gapwatch.recorder.writer import Derive, EventWriter

PATH = "/v1/observations"
TOKEN_ENV = "GAPWATCH_PUSH_TOKEN"
#: 4 MiB: about 4,000 TargetHealth lines of ~1 KB, far above what one LB changes at once.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
#: Lines per request; a larger batch is split by the client.
DEFAULT_MAX_LINES = 10_000
#: Seconds a client has for a request's headers (from its connection or its last answer) and
#: for its body: without it a client sending a byte now and then held its connection for ever.
DEFAULT_READ_TIMEOUT_S = 30.0
#: Connections open at once; at it a new one takes the place of the oldest not in a request,
#: or is closed when accepted if every one is in a request (listener.py).
DEFAULT_MAX_CONNECTIONS = 256
#: Bad lines named in one 400 answer (the count says how many more there were).
MAX_REPORTED = 100

log = structlog.get_logger("gapwatch.recorder.push")


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_lines: int = DEFAULT_MAX_LINES
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS


def load_token(token_file: Path | None, env: Mapping[str, str] = os.environ) -> str:
    """The shared secret from a file (its content, surrounding whitespace stripped) or the
    environment; never logged. A token with whitespace inside (a file of two lines, a pasted
    `Bearer TOKEN`) is refused: no Authorization header could carry it, so every push would
    have been answered 401."""
    if token_file is not None:
        try:
            token = token_file.read_text("utf-8").strip()
            _warn_if_everyone_reads(token_file)
        except OSError as exc:
            raise ConfigError(f"{token_file}: cannot read the token file: {exc.strerror}") from exc
        where = str(token_file)
    else:
        token, where = env.get(TOKEN_ENV, "").strip(), TOKEN_ENV
        if not token:  # said 'GAPWATCH_PUSH_TOKEN: ... at least 16 characters' when unset
            raise ConfigError(
                f"no push token: set {TOKEN_ENV}, or name a file holding it (`receive "
                "--token-file`, the push source's `token_file`); 16 characters or more, which "
                "every client sends as Authorization: Bearer TOKEN"
            )
    if len(token) < 16:
        raise ConfigError(f"{where}: the push token must be at least 16 characters")
    if any(c.isspace() for c in token):
        raise ConfigError(
            f"{where}: the push token holds whitespace or more than one line; it must be one "
            "word (clients send it as Authorization: Bearer TOKEN)"
        )
    return token


def _warn_if_everyone_reads(token_file: Path) -> None:
    """Warn of a token file of this process's user that every user may read (0644 under the
    usual umask: on a shared machine anyone could push). Not of another user's file: a Secret
    the kubelet mounts is root's and read by the container's one non-root user."""
    st = token_file.stat()
    if st.st_mode & 0o004 and st.st_uid == os.getuid():
        log.warning(
            "push token file readable by every user",
            file=str(token_file),
            mode=f"{st.st_mode & 0o777:04o}",
            fix=f"chmod 600 {token_file}",
        )


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str


def parse_body(
    body: bytes, max_lines: int, *, described: int = MAX_REPORTED
) -> tuple[list[Observation], list[BadLine]]:
    """Every observation of an NDJSON body, or every bad line (pure). Raises ValueError past
    `max_lines` lines. The first `described` bad lines get the schema's reason; later ones are
    found bad as surely but not described (observation.UNDESCRIBED), since the answer names 100
    and counts the rest: 10,000 lines crafted to break the schema in many ways were 4.1 s of
    CPU, 408 us a line for jsonschema's whole error walk (session 38).
    A line the store could not keep as it is (nested past STORABLE_DEPTH, an
    integer past 64 bits, an object naming a key twice: recorder/uniquekeys.py) is bad, as
    `gapwatch import events` says: before, a payload nested 300 deep was answered 200 and
    quarantined unstored, and one nested 500 deep 500 with a traceback of about 2,000 lines in
    the receiver's log."""
    # a BOM opens what a Windows tool saved (PowerShell's Invoke-RestMethod -InFile sends it)
    body = body.removeprefix(UTF8_BOM)
    lines = [(n, raw) for n, raw in enumerate(body.split(b"\n"), start=1) if raw.strip()]
    if len(lines) > max_lines:
        raise ValueError(f"more than {max_lines} lines")
    good: list[Observation] = []
    bad: list[BadLine] = []
    for number, raw in lines:
        try:
            data = orjson.loads(raw)
            check_storable(raw)
            check_unique_keys(raw, data)
            good.append(from_dict(data, describe=len(bad) < described))
        except orjson.JSONDecodeError as exc:
            bad.append(BadLine(number, f"not JSON: {exc}"))
        except ObservationError as exc:
            bad.append(BadLine(number, str(exc)))
        except (RecursionError, MemoryError):
            bad.append(BadLine(number, "too deeply nested or too large to check"))
    return good, bad


def _answer(status: int, body: dict[str, Any], **headers: str) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


#: One log line per client and status every 10 s (throttle.py): refusals are anyone's to cause.
_REFUSALS = Throttle()


def _refused(
    request: web.Request, status: int, body: dict[str, Any], **headers: str
) -> web.Response:
    """The answer to a request that stored nothing, said in the log too: the client is told,
    and so is whoever runs the receiver (a pusher with a wrong token or a bad script was
    invisible on this side). The first bad line's reason only; never the token given. At most
    one line per client and status every 10 s, with how many were left out since."""
    suppressed = _REFUSALS.allow((request.remote, status))
    if suppressed is not None:
        lines = body.get("lines") or [{}]
        log.warning(
            "push refused",
            status=status,
            error=body["error"],
            first_line=lines[0].get("line"),
            first_reason=lines[0].get("reason"),
            peer=request.remote,
            suppressed=suppressed,
        )
    return _answer(status, body, **headers)


class PushHandler:
    """The request handler; one EventWriter, writes serialized; counts in `metrics`."""

    def __init__(
        self,
        engine: Engine,
        token: str,
        limits: Limits = Limits(),
        *,
        derive: Derive,
        metrics: PushMetrics | None = None,
    ) -> None:
        self._writer = EventWriter(engine, derive=derive)
        self._token = token.encode("utf-8")
        self.limits = limits
        self.metrics = metrics if metrics is not None else PushMetrics()
        self._lock = asyncio.Lock()
        #: what the process did, for its `stopped` line
        self.answered: dict[int, int] = {}
        self.stored = self.duplicates = 0

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        # aiohttp hands bytes that are not UTF-8 over as surrogates: kept as the bytes they were
        # (a strict encode raised, and a token of such bytes was a 500 with a traceback)
        given_bytes = given.strip().encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given_bytes, self._token)

    async def post(self, request: web.Request) -> web.Response:
        response = await self._answer(request)
        self.count(response.status)
        return response

    def count(self, status: int) -> None:
        """One request answered with `status`: by this handler, or refused by aiohttp's parser
        before it (`serve(..., counted=...)`), which once went uncounted (session 31 review)."""
        self.answered[status] = self.answered.get(status, 0) + 1
        self.metrics.requests.labels(code=str(status)).inc()

    async def _answer(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _refused(
                request,
                401,
                {"error": "missing or wrong bearer token"},
                **{"WWW-Authenticate": 'Bearer realm="gapwatch"'},
            )
        limit = self.limits.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return _refused(request, 413, {"error": f"body larger than {limit} bytes"})
        timeout = self.limits.read_timeout_s
        try:
            async with asyncio.timeout(timeout):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refused(request, 413, {"error": f"body larger than {limit} bytes"})
        except TimeoutError:
            late = _refused(request, 408, {"error": f"body not received within {timeout:g} s"})
            late.force_close()
            return late
        if len(body) > limit:
            return _refused(request, 413, {"error": f"body larger than {limit} bytes"})
        try:  # off the loop: 10,000 lines that break the schema are seconds of CPU (session 37)
            good, bad = await asyncio.to_thread(parse_body, body, self.limits.max_lines)
        except ValueError as exc:
            return _refused(request, 413, {"error": str(exc)})
        if bad:
            lines = [{"line": b.line, "reason": b.reason} for b in bad[:MAX_REPORTED]]
            return _refused(
                request,
                400,
                {
                    "error": f"{len(bad)} invalid line(s); nothing was stored",
                    "lines": lines,
                    "more": max(0, len(bad) - MAX_REPORTED),
                },
            )
        if not good:
            return _refused(request, 400, {"error": "no observations in the body"})
        async with self._lock:
            try:
                result = await asyncio.to_thread(self._writer.write, good)
            except GapwatchError as exc:
                log.error("push write failed", error=str(exc))
                self.metrics.write_errors.inc()
                return _answer(503, {"error": "the event store failed; retry"})
        log.info("push stored", received=len(good), stored=result.inserted)
        self.metrics.stored.inc(result.inserted)
        self.metrics.duplicates.inc(result.duplicates)
        self.stored += result.inserted
        self.duplicates += result.duplicates
        return _answer(
            200, {"received": len(good), "stored": result.inserted, "duplicates": result.duplicates}
        )


async def _livez(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def add_routes(
    app: web.Application,
    engine: Engine,
    token: str,
    limits: Limits = Limits(),
    *,
    derive: Derive,
    metrics: PushMetrics | None = None,
) -> PushHandler:
    """Mount `POST /v1/observations` on an existing application (e.g. the recorder's server,
    whose `client_max_size` should be at least `limits.max_body_bytes`: past it aiohttp itself
    refuses the body, which the handler still answers with 413)."""
    handler = PushHandler(engine, token, limits, derive=derive, metrics=metrics)
    app.router.add_post(PATH, handler.post)
    return handler


def make_app(
    engine: Engine,
    token: str,
    limits: Limits = Limits(),
    *,
    derive: Derive,
    metrics: PushMetrics | None = None,
) -> tuple[web.Application, PushHandler]:
    """A stand-alone aiohttp application serving the push API (and /livez), and its handler."""
    # aiohttp's own cap sits above ours so that our 413 (with a JSON reason) answers first
    app = web.Application(client_max_size=limits.max_body_bytes + 1)
    handler = add_routes(app, engine, token, limits, derive=derive, metrics=metrics)
    app.router.add_get("/livez", _livez)
    return app, handler


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"listen: expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


async def serve(
    app: web.Application,
    listen: str,
    stop: asyncio.Event,
    on_ready: Callable[[], None] = lambda: None,
    limits: Limits = Limits(),
    *,
    counted: Callable[[int], None] | None = None,
) -> None:
    """Serve `app` on HOST:PORT until `stop` is set; logs the bound address. A connection that
    has not sent a whole request's headers `limits.read_timeout_s` after it opened (or after its
    last answer) is closed, and at most `limits.max_connections` are open at once. `counted` is
    told the status of each request aiohttp's parser refuses (`PushHandler.count`)."""
    host, port = parse_listen(listen)
    listener = Listener(limits.max_connections)
    listener.watch(app)
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=limits.read_timeout_s,
        logger=ParserLog(counted=counted),
    )
    await runner.setup()
    assert runner.server is not None  # set by setup()
    try:
        bound = await listener.start(runner.server, host, port)
        log.info("push API listening", addresses=bound, path=PATH)
        on_ready()
        await stop.wait()
    finally:
        await listener.stop(log)
        await runner.cleanup()


class PushSource:
    """The push API as one of the recorder's sources (REGISTRY key `push`)."""

    name = "push"

    def __init__(
        self,
        engine: Engine,
        token: str,
        listen: str,
        limits: Limits,
        *,
        derive: Derive,
        metrics: PushMetrics | None = None,
    ) -> None:
        self.app, self.handler = make_app(engine, token, limits, derive=derive, metrics=metrics)
        self.listen = listen
        self.limits = limits
        self._started = False

    def ready(self) -> str | None:
        return None if self._started else "push API not listening yet"

    async def run(self, _sink: Any, stop: asyncio.Event) -> None:
        def started() -> None:
            self._started = True

        await serve(self.app, self.listen, stop, started, self.limits, counted=self.handler.count)


def build(context: SourceContext, raw: Mapping[str, Any]) -> PushSource:
    """`sources.push`: `listen` (HOST:PORT), `token_file` (else env GAPWATCH_PUSH_TOKEN),
    `max_body_bytes`, `max_lines`, `read_timeout_s`, `max_connections`."""
    keys = {"listen", "token_file", "max_body_bytes", "max_lines", "read_timeout_s"}
    keys.add("max_connections")
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise ConfigError(f"sources.push: unknown key(s): {', '.join(unknown)}")
    listen = raw.get("listen")
    if not isinstance(listen, str):
        raise ConfigError("sources.push.listen: required, HOST:PORT")
    parse_listen(listen)
    token_file = raw.get("token_file")
    token = load_token(Path(token_file) if isinstance(token_file, str) else None)
    limits = Limits()
    for key in ("max_body_bytes", "max_lines", "max_connections"):
        value = raw.get(key, getattr(limits, key))
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"sources.push.{key}: expected an integer > 0")
    timeout = raw.get("read_timeout_s", limits.read_timeout_s)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError("sources.push.read_timeout_s: expected a number of seconds > 0")
    limits = Limits(
        int(raw.get("max_body_bytes", limits.max_body_bytes)),
        int(raw.get("max_lines", limits.max_lines)),
        float(timeout),
        int(raw.get("max_connections", limits.max_connections)),
    )
    return PushSource(
        context.engine,
        token,
        listen,
        limits,
        derive=context.derive,
        metrics=PushMetrics(context.registry),  # in the recorder's /metrics
    )
