"""botocore's answers read within a size and a time: what an endpoint sends cannot hold a poller.

botocore reads an answer whole (`AWSResponse.content`) before it parses it, bounded only by its
per-read `read_timeout`: session 35 found an ELBv2 endpoint's 260 MB `DescribeTargetHealth`
answer (1.6 million targets) taking 3.1 GB and 60 s, and an answer that sends a byte every 5 s
holding the poll (and so the poller) for ever. `bound_answers` registers a `before-send`
handler that sends through the client's own HTTP session (its proxies, TLS settings and pool),
leaves the body unread there, and reads it here a socket read at a time: past `max_bytes`, or
still coming `seconds` after the headers, the connection is dropped and `AnswerRefused` raised
(botocore's retries do not retry it: it is not one of its connection errors).

What this does not bound: the time to the answer's headers, which http.client reads a line at a
time under botocore's per-read timeout (at most 100 lines of 64 KiB each).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

#: The largest answer read, in bytes. ELBv2's largest are a DescribeTargetHealth of a full
#: target group (1,000 targets a group, AWS "Quotas for your Application Load Balancers"; NLB's
#: are lower) and a DescribeTargetGroups page (at most 400 groups, its `PageSize`): each some
#: hundreds of bytes an entry, about 1 MB. 16 MiB leaves room for AWS's answers to grow.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: Seconds an answer's body may take once its headers came: three of botocore's 10 s read
#: timeouts (elbv2.py's client), where a real answer of 1 MB takes milliseconds.
ANSWER_SECONDS = 30.0
#: Bytes asked of the socket at a time (a read returns what has come, up to this).
READ_SIZE = 64 * 1024


class AnswerRefused(Exception):
    """An answer past `max_bytes`, or slower than `seconds`: its connection was dropped."""


class RawBody(Protocol):
    """The part of urllib3's `HTTPResponse` read here."""

    def read1(self, amt: int | None = None, decode_content: bool | None = None) -> bytes: ...

    def close(self) -> None: ...


def read_bounded(
    raw: RawBody,
    *,
    max_bytes: int,
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The whole body of `raw`, or `AnswerRefused` once it is past `max_bytes` or `seconds`.

    Each read returns what the socket has (or waits one read timeout), so a body that trickles
    is refused within one read timeout of `seconds`. The body is read as sent (gzip stays gzip:
    botocore asks for none and decodes none)."""
    deadline = clock() + seconds
    parts: list[bytes] = []
    size = 0
    try:
        while chunk := raw.read1(READ_SIZE, decode_content=False):
            size += len(chunk)
            if size > max_bytes:
                raise AnswerRefused(f"an answer past {max_bytes} bytes: not read further")
            if clock() > deadline:
                raise AnswerRefused(
                    f"an answer still coming after {seconds:g} s ({size} bytes): not read further"
                )
            parts.append(chunk)
    except AnswerRefused:
        raw.close()  # the rest is never read: the connection cannot be used again
        raise
    return b"".join(parts)


class _Read:
    """A body already read, as botocore's `AWSResponse` reads its `raw`."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_args: Any, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


def bound_answers(client: Any, *, event_service: str, max_bytes: int, seconds: float) -> None:
    """Read every answer of the boto3 `client` with `read_bounded`.

    `event_service` is the service's id in botocore's event names (`elastic-load-balancing-v2`).
    """
    from botocore.awsrequest import AWSResponse

    session = client._endpoint.http_session  # the session botocore would send with itself

    def send(request: Any, **_kwargs: Any) -> Any:
        request.stream_output = True  # the session leaves the body unread
        answer = session.send(request)
        body = read_bounded(answer.raw, max_bytes=max_bytes, seconds=seconds)
        return AWSResponse(answer.url, answer.status_code, answer.headers, _Read(body))

    client.meta.events.register(f"before-send.{event_service}", send)
