"""Layer 3: one HTTP request to the API, raw JSON in, K8sError out.

`list_page` fetches one page of a paginated LIST. `watch_stream` opens one WATCH and yields its
events as raw dicts (`{"type": ..., "object": {...}}`, BOOKMARK objects included) until the
server ends the stream (its `timeoutSeconds`). No read may take longer than `read_timeout`: a
half-open connection raises StreamStalled instead of hanging. An `ERROR` event with code 410, or
an HTTP 410, raises Gone. Every aiohttp and asyncio exception becomes a K8sError here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiohttp
import orjson

from gapwatch.recorder.sources.k8s.client import ApiEndpoint
from gapwatch.recorder.sources.k8s.errors import Gone, K8sError, StreamStalled
from gapwatch.recorder.sources.k8s.lines import Lines, LineTooLong

MAX_LINE = 64 * 1024 * 1024
#: The longest answer of a LIST page, counted after aiohttp undoes its Content-Encoding (the
#: API server gzips answers over 128 KB): the default of WatchSettings.max_list_bytes. A page
#: holds at most `page_size` (500) objects, and 500 Nodes or Pods of a real cluster are some
#: tens of MB; the recorder's container has 384 MiB. Before session 34 a page was read whole: a
#: gzip answer of 1 MB on the wire took 3 GB.
MAX_LIST_BODY = 64 * 1024 * 1024
#: What is read of an answer that is not 200: its `message` is all that is used.
MAX_ERROR_BODY = 64 * 1024


@asynccontextmanager
async def _translated(what: str) -> AsyncIterator[None]:
    try:
        yield
    except K8sError:
        raise
    # Not chained: aiohttp's frames hold the request headers (the bearer token), and the
    # recorder's logged tracebacks show frame locals (structlog's dict_tracebacks).
    except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise StreamStalled(f"{what}: no data within the read timeout ({exc!r})") from None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise K8sError(f"{what}: {type(exc).__name__}: {exc}") from None


#: What an operator does about the answers that retrying never fixes.
STATUS_HINTS = {
    401: "the API server refused the credentials: a token expired, revoked or for another cluster",
    403: "RBAC: the service account needs list and watch on this resource (deploy/: the "
    "ClusterRole in clusterrole.yaml, or the node agent's in rbac.yaml)",
}


async def _capped_body(response: aiohttp.ClientResponse, what: str, limit: int) -> bytes:
    """The answer's decoded body, refused once it passes `limit` bytes (before it is held)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise K8sError(
                f"{what}: an answer longer than {limit} bytes (the recorder's `watch:` "
                "`max_list_bytes`; a smaller `page_size` makes pages shorter)"
            )
        parts.append(chunk)
    return b"".join(parts)


def _status_error(what: str, status: int, body: bytes) -> K8sError:
    message = body[:300].decode("utf-8", "replace")
    with suppress(orjson.JSONDecodeError, AttributeError):
        message = str(orjson.loads(body).get("message", message))
    if status == 410:
        return Gone(f"{what}: 410 {message}")
    hint = f" ({STATUS_HINTS[status]})" if status in STATUS_HINTS else ""
    return K8sError(f"{what}: HTTP {status}: {message}{hint}", status=status)


async def list_page(
    session: aiohttp.ClientSession,
    api: ApiEndpoint,
    path: str,
    params: Mapping[str, str],
    *,
    timeout: float,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """One page of a LIST: the decoded `...List` object.

    `max_bytes` bounds the answer (default MAX_LIST_BODY); 0: unbounded (the one-page LIST
    after an expired continue token, which holds the whole collection)."""
    what = f"LIST {path}"
    async with (
        _translated(what),
        session.get(
            api.host + path,
            params=dict(params),
            headers=api.headers(),
            ssl=api.ssl_context if api.ssl_context is not None else True,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response,
    ):
        if response.status != 200:
            body = await response.content.read(MAX_ERROR_BODY)
            raise _status_error(what, response.status, body)
        limit = MAX_LIST_BODY if max_bytes is None else max_bytes
        body = await _capped_body(response, what, limit) if limit else await response.read()
        decoded = orjson.loads(body)
    if not isinstance(decoded, dict) or not isinstance(decoded.get("items"), list):
        raise K8sError(f"{what}: the answer is not a list")
    return decoded


def _event(what: str, line: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise K8sError(f"{what}: bad JSON line: {exc}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
        raise K8sError(f"{what}: not a watch event: {line[:200]!r}")
    if event.get("type") == "ERROR":
        status = event["object"]
        if status.get("code") == 410:
            raise Gone(f"{what}: {status.get('message', 'resource version too old')}")
        raise K8sError(f"{what}: ERROR event: {status.get('message')}", status=status.get("code"))
    return event


async def watch_stream(
    session: aiohttp.ClientSession,
    api: ApiEndpoint,
    path: str,
    params: Mapping[str, str],
    *,
    connect_timeout: float,
    read_timeout: float,
    on_open: Callable[[], None] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """The events of one WATCH, in order, until the server ends the stream.

    `on_open` is called once the server has accepted the watch (HTTP 200).
    """
    what = f"WATCH {path}"
    timeout = aiohttp.ClientTimeout(
        total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
    )
    async with (
        _translated(what),
        session.get(
            api.host + path,
            params={**params, "watch": "1"},
            headers=api.headers(),
            ssl=api.ssl_context if api.ssl_context is not None else True,
            timeout=timeout,
        ) as response,
    ):
        if response.status != 200:
            body = await response.content.read(MAX_ERROR_BODY)
            raise _status_error(what, response.status, body)
        if on_open is not None:
            on_open()
        lines = Lines(MAX_LINE)
        async for chunk in response.content.iter_any():
            try:
                ended = lines.feed(chunk)
            except LineTooLong as exc:
                raise K8sError(f"{what}: {exc}") from None
            for line in ended:
                if line.strip():
                    yield _event(what, line)
        last = lines.rest()
        if last.strip():
            yield _event(what, last)
