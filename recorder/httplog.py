"""What gapwatch's HTTP servers say of a request aiohttp's parser refuses: one line, no bytes.

aiohttp logs a request it cannot parse (a byte HTTP forbids in a header line, a line too long)
as `Error handling request` with a traceback whose last lines quote the offending line as it
was sent. A push whose `Authorization: Bearer TOKEN` line ended in a stray CR (a token file
saved with Windows line ends, read by `$(cat token)`) put the push token in the receiver's log
that way (session 31's review), and every such request was logged, past the throttle of refused
pushes (anyone who reaches the port may send them).

`ParserLog` is the logger aiohttp's request handler is given (`AppRunner(..., logger=...)`): a
refusal of its parser becomes one JSON line, `malformed HTTP request refused`, with the status,
aiohttp's reason up to the first quoted byte, the peer and `suppressed`, at most one per peer
and status every 10 s (throttle.py); anything else aiohttp logs (a handler's own bug, with its
traceback) goes to aiohttp's logger as before.

Such a request never reaches a handler, so nothing counted it: `ParserLog(counted=...)` is told
the status of every refusal, throttled or not, at any level (aiohttp logs a first request that is
not HTTP at all, a TLS ClientHello, at debug, and answers it 400 as well). The push API counts
them in `gapwatch_push_requests_total{code}` beside its handler's answers (push.serve).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.log import server_logger

from gapwatch.recorder.sources.lb.throttle import Throttle

log = structlog.get_logger("gapwatch.recorder.http")
#: Longest reason kept: aiohttp's own words are short; what follows them is the request's bytes.
MAX_REASON = 80


def reason_of(exc: HttpProcessingError) -> str:
    """aiohttp's reason without what the client sent: its first line, up to the first quote
    (`Invalid header value char:` then `b'Authorization: Bearer ...'` on the next lines; `Bad
    status line 'GET /?token=...'`)."""
    first = (str(exc.message).strip().splitlines() or [type(exc).__name__])[0]
    for quote in ("'", '"'):
        first = first.split(quote, 1)[0]
    return first.strip().rstrip(":").strip()[:MAX_REASON] or type(exc).__name__


def answered_status(exc: HttpProcessingError) -> int:
    """The status aiohttp answers a refusal of its parser with: 400 (web_protocol's
    `_ErrInfo(status=400, ...)`), or the error's own code where it is an HTTP error status; a
    bounded set either way, fit for a metric's label."""
    code = exc.code
    return code if isinstance(code, int) and 400 <= code <= 599 else 400


class ParserLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, with its parser's refusals said in one throttled line."""

    def __init__(
        self, throttle: Throttle | None = None, *, counted: Callable[[int], None] | None = None
    ) -> None:
        super().__init__(server_logger, {})
        self._throttle = throttle if throttle is not None else Throttle()
        self._counted = counted

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if not isinstance(exc, HttpProcessingError):
            super().log(level, msg, *args, **kwargs)
            return
        if self._counted is not None:
            self._counted(answered_status(exc))
        if level < logging.WARNING:  # aiohttp's debug: a first request that is not HTTP at all
            return
        peer = str(args[0]) if args else None  # "Error handling request from %s"
        suppressed = self._throttle.allow((peer, exc.code))
        if suppressed is not None:
            log.warning(
                "malformed HTTP request refused",
                status=exc.code,
                reason=reason_of(exc),
                peer=peer,
                suppressed=suppressed,
            )
