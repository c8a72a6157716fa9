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
#: The longest answer of the one-page LIST after an expired continue token (as client-go's
#: pager, it asks for the whole collection at once): the default of
#: WatchSettings.max_full_list_bytes. Kubernetes' scalability thresholds allow 150,000 Pods a
#: cluster (kubernetes/community sig-scalability/configs-and-limits/thresholds.md); at 14 KB a
#: Pod, more than a real Pod holds with its managedFields and status, that is 2 GiB. Past it the
#: answer is no real cluster's: refused before it is held (session 34 left it unbounded; a gzip
#: answer of 1 GiB decoded took 3.1 GB). It is no bound on memory below it: a collection of that
#: size needs some 5 times as much to be parsed, which the container's limit decides. The next
#: relist starts paginated again, so only a server that expires every continue token and then
#: sends more than this is refused each time.
MAX_FULL_LIST_BODY = 2 * 1024 * 1024 * 1024
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


#: What the error of an answer past its limit says of the setting, for a page and for the whole.
_LIMIT_HINTS = {
    False: "the recorder's `watch:` `max_list_bytes`; a smaller `page_size` makes pages shorter",
    True: "the recorder's `watch:` `max_full_list_bytes`: the one-page LIST after an expired "
    "continue token holds the whole collection",
}


async def _capped_body(
    response: aiohttp.ClientResponse, what: str, limit: int, *, whole: bool
) -> bytes:
    """The answer's decoded body, refused once it passes `limit` bytes (before it is held)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise K8sError(f"{what}: an answer longer than {limit} bytes ({_LIMIT_HINTS[whole]})")
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
    whole: bool = False,
) -> dict[str, Any]:
    """One page of a LIST: the decoded `...List` object.

    `max_bytes` bounds the answer (default MAX_LIST_BODY); 0: unbounded. `whole`: the one-page
    LIST after an expired continue token (the error names `max_full_list_bytes`)."""
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
        if limit:
            body = await _capped_body(response, what, limit, whole=whole)
        else:
            body = await response.read()
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
