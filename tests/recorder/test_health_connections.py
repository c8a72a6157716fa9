"""The recorder's /livez, /readyz, /metrics server caps its open connections, as the push API
does: real HTTP over loopback to `health.serve`, no fake.

Session 33: the server accepted every connection and kept each for its 30 s idle timeout, so a
client on the pod network could hold as many of the recorder's file descriptors as it liked
(230 idle connections under `ulimit -n 256` left the process 17), and with them starve the
watches and store connections that need descriptors too."""

from __future__ import annotations

import asyncio

import structlog
import structlog.testing

from gapwatch.recorder.health import MAX_CONNECTIONS, health_app, serve
from gapwatch.recorder.metrics import RecorderMetrics

LIVEZ = b"GET /livez HTTP/1.1\r\nHost: r\r\n\r\n"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """What GET /livez on this connection gets back (b'' when it was closed unanswered)."""
    try:
        writer.write(LIVEZ)
        await writer.drain()
        return await reader.readuntil(b"ok")
    except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
        return exc.partial if isinstance(exc, asyncio.IncompleteReadError) else b""


def test_connections_past_the_cap_are_closed_unanswered() -> None:
    """Three kept-alive connections (each answered once, so the server has counted it) fill a
    cap of 3: a fourth is closed before a byte is read, and one more is answered once a held
    connection has gone. The default is a named constant for the probes and scrapers."""
    assert 8 <= MAX_CONNECTIONS <= 256
    structlog.reset_defaults()  # whatever an earlier test of this worker configured

    async def main() -> tuple[list[bytes], bytes, bytes]:
        app = health_app(metrics=RecorderMetrics(), live=lambda: None, ready=lambda: None)
        runner, port = await serve(app, "127.0.0.1:0", max_connections=3)
        try:
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
            first = [await _answer(r, w) for r, w in held]
            over = await _answer(*await asyncio.open_connection("127.0.0.1", port))
            held[0][1].close()
            await held[0][1].wait_closed()
            again = b""
            while not again:  # the server sees the close a moment later: until it is answered
                again = await _answer(*await asyncio.open_connection("127.0.0.1", port))
            return first, over, again
        finally:
            await runner.cleanup()

    try:
        with structlog.testing.capture_logs() as said:
            first, over, again = asyncio.run(main())
    finally:
        structlog.reset_defaults()
    assert all(a.startswith(b"HTTP/1.1 200") for a in first), first
    assert over == b""
    assert again.startswith(b"HTTP/1.1 200")
    refused = [e for e in said if e["event"] == "connections refused"]
    assert [(e["cap"], e["refused"] >= 1) for e in refused] == [(3, True)], said
