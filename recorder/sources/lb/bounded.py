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
for as long as it liked (session 36). Nothing public reaches the socket while http.client waits
on it, so each answer is waited for in a thread of its own: the look gives up on it `seconds`
after it was sent, and the thread, left reading, ends when the endpoint stops sending (one read
timeout after its last byte) or finishes. At most `max_held` such threads per client at once
(each a socket and at most 6.4 MB of headers): past it a look is refused before it sends, so a
hostile endpoint holds a few threads, never one a look.

Private API: botocore gives no public way to send through a client's HTTP session (`Config` has
no such setting, `before-send` hands over the request only), so `client._endpoint.http_session`
is read; tests/lb/test_library_contracts.py fails loudly if an upgrade moves it, or stops
honouring `stream_output` or a `before-send` handler's answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

#: The largest answer read, in bytes. ELBv2's largest are a DescribeTargetHealth of a full
#: target group (1,000 targets a group, AWS "Quotas for your Application Load Balancers"; NLB's
#: are lower) and a DescribeTargetGroups page (at most 400 groups, its `PageSize`): each some
#: hundreds of bytes an entry, about 1 MB. 16 MiB leaves room for AWS's answers to grow.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: Seconds an answer may take from its request's sending to its last byte, headers included:
#: three of botocore's 10 s read timeouts (elbv2.py's client), where a real answer of 1 MB takes
#: milliseconds.
ANSWER_SECONDS = 30.0
#: Threads a client leaves reading answers that took longer than `ANSWER_SECONDS` (each holds a
#: socket and at most 100 header lines of 64 KiB) before it refuses to send: a poller's looks are
#: one at a time, so a few late answers (a congested link) never refuse a look, while an
#: endpoint trickling every answer's headers holds 4 threads, not one a look.
MAX_HELD = 4
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


class _Held:
    """The threads of one client still reading answers the looks gave up on."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.lock = threading.Lock()


def _answer_in_time(
    send: Callable[[], Any], read: Callable[[Any], Any], *, seconds: float, held: _Held
) -> Any:
    """`read(send())`, in a thread of its own. Its headers (`send`) are waited for `seconds`:
    past them `AnswerRefused`, the thread left to end by itself (counted in `held` until it
    does). Its body (`read`) is waited for to the end: `read_bounded` ends it within one read
    timeout of the same deadline."""
    with held.lock:
        if held.count >= held.limit:
            raise AnswerRefused(
                f"{held.count} answer{'s' if held.count > 1 else ''} still held by the endpoint "
                "past its time: not sending another"
            )
    outcome: list[tuple[bool, Any]] = []
    abandoned = False
    headed, done = threading.Event(), threading.Event()

    def run() -> None:
        try:
            answer = send()
            headed.set()
            outcome.append((True, read(answer)))
        except BaseException as exc:  # handed to the waiting look, raised there
            outcome.append((False, exc))
        with held.lock:
            done.set()
            if abandoned:
                held.count -= 1

    threading.Thread(target=run, name="gapwatch-answer", daemon=True).start()
    done.wait(seconds)
    with held.lock:
        if not done.is_set() and not headed.is_set():
            abandoned = True
            held.count += 1
            raise AnswerRefused(f"no answer's headers within {seconds:g} s: not waited for further")
    done.wait()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


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
    held = _Held(max_held)

    def send(request: Any, **_kwargs: Any) -> Any:
        request.stream_output = True  # the session leaves the body unread
        deadline = clock() + seconds

        def read(answer: Any) -> Any:
            body = read_bounded(
                answer.raw, max_bytes=max_bytes, seconds=seconds, deadline=deadline, clock=clock
            )
            return AWSResponse(answer.url, answer.status_code, answer.headers, _Read(body))

        return _answer_in_time(lambda: session.send(request), read, seconds=seconds, held=held)

    client.meta.events.register(f"before-send.{event_service}", send)
