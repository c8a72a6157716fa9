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


def test_idle_connections_at_the_cap_make_room_oldest_first() -> None:
    """Three kept-alive connections (each answered once, so the server has counted it, then
    idle) fill a cap of 3: a fourth is answered and the oldest held one closed for it (session
    33 closed the fourth, before a byte was read: which let slowloris clients keep the kubelet's
    probes out, session 35); the stop line counts it. The default is a named constant for the
    probes and scrapers."""
    assert 8 <= MAX_CONNECTIONS <= 256
    structlog.reset_defaults()  # whatever an earlier test of this worker configured

    async def main() -> tuple[list[bytes], bytes, bytes, bytes]:
        app = health_app(metrics=RecorderMetrics(), live=lambda: None, ready=lambda: None)
        runner, port = await serve(app, "127.0.0.1:0", max_connections=3)
        try:
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
            first = [await _answer(r, w) for r, w in held]
            over = await _answer(*await asyncio.open_connection("127.0.0.1", port))
            oldest = await held[0][0].read()  # b"": closed by the server
            newest = await _answer(*held[2])  # still open, answered again
            return first, over, oldest, newest
        finally:
            await runner.cleanup()

    try:
        with structlog.testing.capture_logs() as said:
            first, over, oldest, newest = asyncio.run(main())
    finally:
        structlog.reset_defaults()
    assert all(a.startswith(b"HTTP/1.1 200") for a in first), first
    assert over.startswith(b"HTTP/1.1 200"), over
    assert oldest == b""
    assert newest.startswith(b"HTTP/1.1 200"), newest
    refused = [e for e in said if e["event"] == "connections refused"]
    assert [(e["cap"], e["refused"], e["replaced"]) for e in refused] == [(3, 0, 1)], said


def test_the_probes_are_answered_while_slowloris_clients_fill_the_cap() -> None:
    """Slowloris at the health port: clients that send a header line and no more, a new one
    in place of each the server closes, always as many as the cap (3 here; 64 by default).
    Session 35 found main closing every other connection while they held: 10 of 70 /livez
    answered over 70 s with 64 of them, so the kubelet's liveness probe (3 failures in a row)
    restarts the recorder. Now every probe is answered, the oldest slow client closed for it."""
    structlog.reset_defaults()

    async def main() -> tuple[list[bytes], list[bytes]]:
        app = health_app(metrics=RecorderMetrics(), live=lambda: None, ready=lambda: None)
        runner, port = await serve(app, "127.0.0.1:0", max_connections=3)

        async def slowloris() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /livez HTTP/1.1\r\nHost: r\r\nX-Slow: ")
            await writer.drain()
            await asyncio.sleep(0.1)  # accepted before the next one
            return reader, writer

        try:
            slow = [await slowloris() for _ in range(3)]
            probes, cut = [], []
            for _ in range(5):
                probes.append(await _answer(*await asyncio.open_connection("127.0.0.1", port)))
                reader, writer = slow.pop(0)
                cut.append(await reader.read())
                writer.close()
                slow.append(await slowloris())
            return probes, cut
        finally:
            await runner.cleanup()

    try:
        probes, cut = asyncio.run(main())
    finally:
        structlog.reset_defaults()
    assert all(p.startswith(b"HTTP/1.1 200") for p in probes), probes
    assert cut == [b""] * 5
