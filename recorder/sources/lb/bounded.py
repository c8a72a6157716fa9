"""botocore's answers read within a size and a time: what an endpoint sends cannot hold a poller.

botocore reads an answer whole (`AWSResponse.content`) before it parses it, bounded only by its
per-read `read_timeout`: session 35 found an ELBv2 endpoint's 260 MB `DescribeTargetHealth`
answer (1.6 million targets) taking 3.1 GB and 60 s, and an answer that sends a byte every 5 s
holding the poll (and so the poller) for ever. `bound_answers` registers a `before-send`
handler that sends through the client's own HTTP session (its proxies, TLS settings and pool),
leaves the body unread there, and reads it here a socket read at a time: past `max_bytes`, or
still coming `seconds` after the request was sent, the connection is dropped and
`AnswerRefused` raised (botocore's retries do not retry it: it is not one of its connection
errors).

The headers too: http.client reads them a line at a time under botocore's per-read timeout (up
to 100 lines of 64 KiB), so an endpoint sending a header byte every few seconds held the look
for as long as it liked (session 36). Now they are waited for with lb/intime.py's
`call_in_time`: the look gives up on them `seconds` after the request was sent. Until session 39
the thread left reading them ran on while the endpoint sent (a header byte a second kept it 6.4
million seconds: 100 lines of 64 KiB), at most `max_held` a client, past which every look was
refused before it sent. Now the session's pools make connections that say which thread sends on
them (lb/heldreads.py `sending`, as lb/sizecap.py's pools do for the other clouds' SDKs), and a
call given up on has its connection's socket shut: the endpoint sees the client go, the thread
ends, and the next look is sent.

Private API: botocore gives no public way to send through a client's HTTP session (`Config` has
no such setting, `before-send` hands over the request only), so `client._endpoint.http_session`
is read, and its pool class table, `_pool_classes_by_scheme` (the very dict its PoolManagers
make their pools from), is given the connection classes above; tests/lb/test_library_contracts.py
fails loudly if an upgrade moves either, or stops honouring `stream_output` or a `before-send`
handler's answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from gapwatch.recorder.sources.lb.heldreads import end_reads, sent_pools
from gapwatch.recorder.sources.lb.intime import (
    ANSWER_SECONDS,
    MAX_HELD,
    AnswerRefused,
    Held,
    call_in_time,
)

__all__ = ["ANSWER_SECONDS", "MAX_ANSWER_BYTES", "MAX_HELD", "AnswerRefused", "bound_answers"]

#: The largest answer read, in bytes. ELBv2's largest are a DescribeTargetHealth of a full
#: target group (1,000 targets a group, AWS "Quotas for your Application Load Balancers"; NLB's
#: are lower) and a DescribeTargetGroups page (at most 400 groups, its `PageSize`): each some
#: hundreds of bytes an entry, about 1 MB. 16 MiB leaves room for AWS's answers to grow.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: Bytes asked of the socket at a time (a read returns what has come, up to this).
READ_SIZE = 64 * 1024


class RawBody(Protocol):
    """The part of urllib3's `HTTPResponse` read here."""

    def read1(self, amt: int | None = None, decode_content: bool | None = None) -> bytes: ...

    def close(self) -> None: ...


def read_bounded(
    raw: RawBody,
    *,
    max_bytes: int,
    seconds: float,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The whole body of `raw`, or `AnswerRefused` once it is past `max_bytes`, or past
    `deadline` (on `clock`; default `seconds` from now, which the message names).

    Each read returns what the socket has (or waits one read timeout), so a body that trickles
    is refused within one read timeout of its deadline. The body is read as sent (gzip stays
    gzip: botocore asks for none and decodes none)."""
    if deadline is None:
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


def bound_answers(
    client: Any,
    *,
    event_service: str,
    max_bytes: int,
    seconds: float,
    max_held: int = MAX_HELD,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Read every answer of the boto3 `client` with `read_bounded`, its headers and body within
    `seconds` of its sending, at most `max_held` answers given up on still being read.

    `event_service` is the service's id in botocore's event names (`elastic-load-balancing-v2`).
    """
    from botocore.awsrequest import AWSResponse

    session = client._endpoint.http_session  # the session botocore would send with itself
    send_through_sent_pools(session)
    held = Held(max_held)

    def send(request: Any, **_kwargs: Any) -> Any:
        request.stream_output = True  # the session leaves the body unread
        deadline = clock() + seconds
        answer = call_in_time(
            lambda: session.send(request),
            seconds=seconds,
            held=held,
            late=lambda late_answer: late_answer.raw.close(),  # its body is never read
            abandon=end_reads,  # its headers' socket shut: the thread ends (heldreads.py)
        )
        body = read_bounded(
            answer.raw, max_bytes=max_bytes, seconds=seconds, deadline=deadline, clock=clock
        )
        return AWSResponse(answer.url, answer.status_code, answer.headers, _Read(body))

    client.meta.events.register(f"before-send.{event_service}", send)


def send_through_sent_pools(session: Any) -> None:
    """Make botocore's `URLLib3Session` send on connections that tell lb/heldreads.py which
    thread sends on them, so that a call given up on while its headers trickle has its socket
    shut. Its PoolManager (and each proxy's, made later) shares the session's table, so the
    table is changed in place, before any pool is made (the client is new)."""
    from botocore.awsrequest import AWSHTTPConnectionPool, AWSHTTPSConnectionPool

    table = session._pool_classes_by_scheme  # AttributeError: botocore moved it (contracts test)
    table.update(sent_pools({"http": AWSHTTPConnectionPool, "https": AWSHTTPSConnectionPool}))
