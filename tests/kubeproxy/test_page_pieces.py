"""kube-proxy's /metrics and /configz answers read whole, and never past their limits, from a
real local server writing them in pieces (session 40).

Go's net/http sends a handler's answer through a 4 KiB buffer, one write each time it fills (a
chunk of `Transfer-Encoding: chunked`), so a /metrics page of 13 KB (elastic/beats' kube-proxy
1.29 fixture) leaves in four pieces. The client read a body with one `StreamReader.read(limit
+ 1)`, which answers what has arrived: the first 4,096 bytes, stored as a failed scrape ("not
Prometheus text"), every scrape; and a page that never ends as its first piece, a page of
nothing, stored as a scrape that kept no metric, the limit never reached. Now the body is read
to its end or one byte past the limit. No timing is asserted: the server waits between pieces
in the client's own event loop, so the client meets each piece alone.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from gapwatch.recorder.sources.kubeproxy.client import ProbeClient, RawAnswer
from gapwatch.recorder.sources.kubeproxy.configz import MAX_CONFIGZ_BYTES
from gapwatch.recorder.sources.kubeproxy.metrics import LAST_SYNC, MAX_METRICS_BYTES
from gapwatch.recorder.sources.kubeproxy.payloads import configz_payload, metrics_payload
from gapwatch.recorder.sources.kubeproxy.targets import Target
from tests.kubeproxy.fakeproxy import FIXTURES

PAGE = (FIXTURES / "elastic-beats-kubeproxy-v1.29.0-metrics-subset.prom").read_bytes()
#: Go's net/http response buffer (bufio.Writer of 4 KiB): one chunk each time it fills
PIECE = 4096
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


def _fetch(body: bytes | None, limit: int) -> tuple[RawAnswer, int]:
    """(what the client read of `body` sent in pieces, or of a body that never ends (None),
    the bytes the server had sent when the client went)."""
    sent = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(HEAD)
        try:
            if body is None:
                piece = b"# " + b"x" * (65536 - 3) + b"\n"
                while True:
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    await writer.drain()
                    sent += len(piece)
            for start in range(0, len(body), PIECE):
                piece = body[start : start + PIECE]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                sent += len(piece)
                await asyncio.sleep(0.05)  # the client meets this piece alone
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the client went
        writer.close()

    async def main() -> RawAnswer:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with ProbeClient(timeout_s=30, concurrency=1) as client:
            raw = await client.fetch(f"http://127.0.0.1:{port}/metrics", limit)
        server.close()
        return raw

    return asyncio.run(main()), sent


TARGET = cast(Target, SimpleNamespace(port=10249, address="127.0.0.1"))


def test_a_metrics_page_in_pieces_is_read_whole() -> None:
    """The 13 KB page in 4 KiB pieces: every kept metric, kube-proxy's last sync among them (on
    main 4,096 bytes were read and the scrape stored `not Prometheus text`)."""
    raw, _sent = _fetch(PAGE, MAX_METRICS_BYTES)
    assert raw.content == PAGE
    payload: dict[str, Any] = metrics_payload(TARGET, raw, MAX_METRICS_BYTES)
    assert payload["error"] is None and payload["metrics"][LAST_SYNC] > 1.6e9
    assert len(payload["metrics"]) == 8


def test_a_page_that_never_ends_is_refused_at_the_limit() -> None:
    """A /metrics page of 64 KiB comment pieces for ever: read one byte past MAX_METRICS_BYTES
    and refused (`page too large`), the connection dropped (on main its first piece was read
    and stored as a scrape of no metric, no error); the server had sent no more than the limit
    and what the sockets' buffers hold. /configz likewise at its own limit."""
    raw, sent = _fetch(None, MAX_METRICS_BYTES)
    assert len(raw.content) == MAX_METRICS_BYTES + 1
    assert sent < MAX_METRICS_BYTES + 32 * 1024 * 1024
    payload = metrics_payload(TARGET, raw, MAX_METRICS_BYTES)
    assert (payload["error"], payload["detail"], payload["metrics"]) == (
        "error",
        "page too large",
        {},
    )
    raw, _sent = _fetch(None, MAX_CONFIGZ_BYTES)
    assert len(raw.content) == MAX_CONFIGZ_BYTES + 1
    payload = configz_payload(TARGET, raw)
    assert payload["error"] == "error" and "larger than" in payload["detail"]


def test_a_health_answer_in_two_pieces_is_read_whole() -> None:
    """kube-proxy's health-check answer (`ProbeClient.get`, 4 KiB at most) whose body comes in
    two pieces: its `localEndpoints` is read (on main the body was the first 40 bytes, not
    JSON: stored as a 200 with no body, the count lost)."""
    body = (
        b'{"service":{"namespace":"kubelb","name":"web"},"localEndpoints":1,'
        b'"serviceProxyHealthy":true}'
    )

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        writer.write(head % len(body) + body[:40])
        await writer.drain()
        await asyncio.sleep(0.05)  # the client meets the first piece alone
        writer.write(body[40:])
        await writer.drain()
        writer.close()

    async def main() -> Any:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with ProbeClient(timeout_s=30, concurrency=1) as client:
            answer = await client.get(f"http://127.0.0.1:{port}/")
        server.close()
        return answer

    answer = asyncio.run(main())
    assert (answer.status, answer.error) == (200, None)
    assert answer.body["localEndpoints"] == 1 and answer.body["serviceProxyHealthy"] is True
