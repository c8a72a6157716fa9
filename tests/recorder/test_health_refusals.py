"""The recorder's /livez, /readyz, /metrics server counts what it answers, parser refusals too.

aiohttp's parser answers a request it cannot parse (a CR after a scrape's bearer token, a DEL
in a header, a TLS ClientHello on the plain port) with 400 before any handler runs: the push
API counted those since session 31, the recorder's own server said them in one throttled log
line and counted nothing, so a Prometheus with a broken scrape config showed up only there. A
real `Recorder.run` (the toy source, SQLite or PostgreSQL), real sockets.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from structlog.testing import capture_logs

from gapwatch.recorder import sources
from gapwatch.recorder.config import RecorderConfig
from gapwatch.recorder.run import Recorder
from gapwatch.replay.facts import write_facts
from tests.rawhttp import status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECRET = b"scrape-token-0123456789abcdef"
#: requests of each malformed kind
N = 5


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sources.REGISTRY, "toy", "tests.recorder.toysource:build")


def _status(port: int, request: bytes) -> int:
    return status("127.0.0.1", port, request)


def _requests_total(port: int) -> dict[str, float]:
    """`gapwatch_recorder_http_requests_total` by code, as a scrape reads it."""
    raw = _exchange_body(port, b"GET /metrics HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n")
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(raw):
        for sample in family.samples:
            if sample.name == "gapwatch_recorder_http_requests_total":
                counts[sample.labels["code"]] = sample.value
    return counts


def _exchange_body(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
    return body.decode()


def test_parser_refusals_are_counted_and_said_once_without_the_token(engine: Engine) -> None:
    config = RecorderConfig(cluster="c", listen="127.0.0.1:0", sources={"toy": {"rounds": 1}})
    seen: dict[str, dict[str, float]] = {}

    async def main() -> None:
        recorder = Recorder(config=config, engine=engine, derive=write_facts, clock=lambda: NOW)
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(stop))
        while recorder.port is None or recorder.ready() is not None:
            await asyncio.sleep(0.01)
        port = recorder.port
        seen["before"] = await asyncio.to_thread(_requests_total, port)
        scrape = b"GET /metrics HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer " + SECRET
        for _ in range(N):
            assert await asyncio.to_thread(_status, port, scrape + b"\r\r\n\r\n") == 400
            assert await asyncio.to_thread(_status, port, scrape + b"\r\nX: a\x7fb\r\n\r\n") == 400
        hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32 + b"\r\n\r\n"
        assert await asyncio.to_thread(_status, port, hello) == 400
        nowhere = b"GET /nowhere HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n"
        assert await asyncio.to_thread(_status, port, nowhere) == 404
        livez = b"GET /livez HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n"
        assert await asyncio.to_thread(_status, port, livez) == 200
        seen["after"] = await asyncio.to_thread(_requests_total, port)
        stop.set()
        await task

    with capture_logs() as logs:
        asyncio.run(main())
    before, after = seen["before"], seen["after"]
    assert before.get("400", 0) == 0
    assert after["400"] == 2 * N + 1  # every refusal, throttled or not, the ClientHello too
    assert after["404"] == 1
    # the first scrape, then /livez; the scrape reading the counts is counted after it answers
    assert after["200"] == before.get("200", 0) + 2
    refused = [e for e in logs if e["event"] == "malformed HTTP request refused"]
    assert 1 <= len(refused) <= 2, refused  # one per peer and status every 10 s
    assert SECRET.decode() not in repr(logs)
