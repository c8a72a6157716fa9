"""One shared HTTP client for every look, and how a failed look is named.

A look that got no HTTP answer is data, not an exception. The names (the `error` of ProxyHealth
and ProxyNodeHealth, the `result` of NodePortProbe):

    refused   the node answered the connect with RST: nothing listens (kube-proxy down or
              restarting, or no rule for the NodePort)
    timeout   no answer within the timeout (a DROP rule, a hung process, an unreachable node)
    reset     the connection was accepted, then closed or reset before an answer
    error     anything else (no route, a bad answer); `detail` says what

aiohttp and OS exceptions are translated here (`classify`) and nowhere else. A look that ends
in `reset` or `error` is tried once more on a new connection within the same timeout (aiohttp
itself retries a GET once when the server closed a kept-alive connection): what is stored is
what a new connection, like an LB's next health check, gets.

A body is read to its end or one byte past the caller's limit (`read_up_to`), whichever comes
first, within the look's timeout: aiohttp's `StreamReader.read(n)` answers what has arrived, at
most n, so one read took the first piece of a page sent in several (kube-proxy's /metrics
through Go's 4 KiB response buffer: 4,096 bytes of a 13 KB page, stored as "not Prometheus
text"; a page that never ends as 98 KB of it, parsed as a page of nothing; session 40).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from gapwatch.recorder.sources.kubeproxy.settings import MAX_BODY_BYTES, WEIGHT_HEADER

_REFUSED = {errno.ECONNREFUSED}
_RESET = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}
_TIMEOUT = {errno.ETIMEDOUT}


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What one HTTP look saw. `status` is None exactly when `error` is set."""

    status: int | None
    body: dict[str, Any] | None
    #: the body when it was not a JSON object (truncated), else None
    body_text: str | None
    #: X-Load-Balancing-Endpoint-Weight as sent (kube-proxy 1.28+), else None
    weight: str | None
    error: str | None
    detail: str | None
    latency_ms: float


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """An HTTP answer before its body is interpreted."""

    status: int | None
    content: bytes
    weight: str | None
    error: str | None
    detail: str | None
    latency_ms: float


@dataclass(frozen=True, slots=True)
class ConnectAnswer:
    """What one TCP connect saw: `connected` or an error name."""

    result: str
    detail: str | None
    latency_ms: float


def classify(exc: BaseException) -> tuple[str, str | None]:
    """(error name, short detail) of an exception raised by a look; see the module docstring."""
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout", None
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "reset", type(exc).__name__
    os_error: OSError | None = None
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
    elif isinstance(exc, OSError):
        os_error = exc
    elif isinstance(exc, aiohttp.ClientOSError) and isinstance(exc.__cause__, OSError):
        os_error = exc.__cause__
    code = getattr(os_error, "errno", None) if os_error is not None else None
    if isinstance(os_error, ConnectionRefusedError) or code in _REFUSED:
        return "refused", None
    if isinstance(os_error, ConnectionResetError | BrokenPipeError) or code in _RESET:
        return "reset", None
    if code in _TIMEOUT:
        return "timeout", None
    if isinstance(exc, aiohttp.ClientOSError) and exc.errno in _RESET:
        return "reset", None
    name = errno.errorcode.get(code, "") if isinstance(code, int) else ""
    return "error", (name or type(exc).__name__)[:80]


def _body(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    if len(raw) > MAX_BODY_BYTES:
        return None, raw[:MAX_BODY_BYTES].decode("utf-8", "replace")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, raw.decode("utf-8", "replace") or None
    if isinstance(parsed, dict):
        return parsed, None
    return None, raw.decode("utf-8", "replace")


class ProbeClient:
    """Two aiohttp sessions shared by every look: kept-alive connections, and fresh ones for
    the one retry. Use as `async with ProbeClient(...) as client`."""

    def __init__(self, *, timeout_s: float, concurrency: int) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self._pooled: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ProbeClient:
        def session(force_close: bool) -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(
                limit=self.concurrency, force_close=force_close, ttl_dns_cache=300
            )
            # no cookies, no proxies from the environment, no automatic decompression surprises
            return aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                skip_auto_headers=("User-Agent",),
                headers={"User-Agent": "gapwatch-probe"},
            )

        self._pooled, self._fresh = session(False), session(True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for s in (self._pooled, self._fresh):
            if s is not None:
                await s.close()

    async def get(self, url: str) -> HttpAnswer:
        """GET `url` (a small JSON answer); never raises for a network failure."""
        raw = await self.fetch(url, MAX_BODY_BYTES)
        if raw.error is not None:
            return HttpAnswer(None, None, None, None, raw.error, raw.detail, raw.latency_ms)
        body, text = _body(raw.content)
        return HttpAnswer(raw.status, body, text, raw.weight, None, None, raw.latency_ms)

    async def fetch(self, url: str, limit: int) -> RawAnswer:
        """GET `url`, reading at most `limit` + 1 bytes; retried once after a reset or error.
        The timeout covers both tries, and `latency_ms` is the whole look."""
        assert self._pooled is not None and self._fresh is not None, "use async with"
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await self._get(self._pooled, url, limit)
                if answer.error in ("reset", "error"):
                    answer = await self._get(self._fresh, url, limit)
        except TimeoutError:
            answer = RawAnswer(None, b"", None, "timeout", None, 0.0)
        return dataclasses.replace(answer, latency_ms=_ms(start))

    async def _get(self, session: aiohttp.ClientSession, url: str, limit: int) -> RawAnswer:
        start = time.perf_counter()
        try:
            async with session.get(url, allow_redirects=False) as resp:
                content = await read_up_to(resp.content, limit + 1)
                weight = resp.headers.get(WEIGHT_HEADER)
                return RawAnswer(resp.status, content, weight, None, None, _ms(start))
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error, detail = classify(exc)
            return RawAnswer(None, b"", None, error, detail, _ms(start))

    async def connect(self, host: str, port: int) -> ConnectAnswer:
        """A TCP connect to host:port (a NodePort), closed at once."""
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                _reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            error, detail = classify(exc)
            return ConnectAnswer(error, detail, _ms(start))
        latency = _ms(start)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return ConnectAnswer("connected", None, latency)


async def read_up_to(stream: aiohttp.StreamReader, count: int) -> bytes:
    """The body's first `count` bytes, or all of it where it is shorter (module docstring)."""
    parts: list[bytes] = []
    left = count
    while left > 0:
        part = await stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
