"""Requests aiohttp's parser refuses keep the token out of the receiver's log (session 31 review).

A client whose token file ends in a Windows line end sends `Authorization: Bearer TOKEN\\r`:
aiohttp answered 400 and logged `Error handling request` with a 15-line traceback whose last
lines quote the raw header line, the real token in it; so did any other byte HTTP forbids in
that line. And a token of bytes that are not UTF-8 was a 500 with an 18-line traceback. Every
such request also bypassed the one-line-per-10-s throttle of refusals (anyone who reaches the
port may send them). Real `gapwatch receive` processes, real sockets (the bytes no HTTP client
library would send).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import structlog

from gapwatch.recorder.health import health_app, serve
from gapwatch.recorder.metrics import RecorderMetrics
from gapwatch.recorder.sources.lb.push import load_token
from tests.lb.test_push import TOKEN, Receiver, _samples, receiver
from tests.rawhttp import status

__all__ = ["receiver"]  # the fixture, imported for the tests below

#: Requests of each kind: unthrottled, with tracebacks, their lines still fit the stderr pipe.
N = 10


def _send(receiver: Receiver, authorization: bytes, *extra: bytes) -> int:
    """POST an empty observation body with this Authorization value; the answer's status."""
    where = urlsplit(receiver.url)
    assert where.hostname is not None and where.port is not None
    head = [
        b"POST /v1/observations HTTP/1.1",
        b"Host: gapwatch",
        b"Authorization: Bearer " + authorization,
        *extra,
        b"Content-Length: 2",
    ]
    return status(where.hostname, where.port, b"\r\n".join(head) + b"\r\n\r\n{}")


def _log(receiver: Receiver) -> str:
    receiver.proc.send_signal(signal.SIGTERM)
    assert receiver.proc.stderr is not None
    return receiver.proc.stderr.read()


def test_a_malformed_authorization_line_never_puts_the_token_in_the_log(
    receiver: Receiver,
) -> None:
    token = TOKEN.encode()
    for _ in range(N):
        assert _send(receiver, token + b"\r") == 400  # a token file saved with CRLF
        assert _send(receiver, token + b"\x01") == 400
        assert _send(receiver, token, b"X-Trace: a\x7fb") == 400
    said = _log(receiver)
    assert TOKEN not in said
    assert "Traceback" not in said
    events = [json.loads(x) for x in said.splitlines()]  # every line the JSON log's
    refused = [e for e in events if e["event"] == "malformed HTTP request refused"]
    # one line for the client and status, and one more only if the requests outlasted 10 s
    assert 1 <= len(refused) <= 2, refused
    assert refused[0]["status"] == 400 and refused[0]["peer"] == "127.0.0.1"
    assert refused[0]["reason"]  # what was wrong, in aiohttp's words, without the bytes


def test_a_token_that_is_not_utf8_is_refused_with_401(receiver: Receiver) -> None:
    for _ in range(N):
        assert _send(receiver, b"\xff\xfe" + TOKEN.encode()[2:]) == 401
    status, text = receiver.get("/metrics")
    assert status == 200
    assert _samples(text)[("gapwatch_push_requests_total", (("code", "401"),))] == N
    said = _log(receiver)
    assert "Traceback" not in said
    events = [json.loads(x) for x in said.splitlines()]
    assert 1 <= len([e for e in events if e["event"] == "push refused"]) <= 2


@pytest.fixture
def default_structlog() -> Iterator[None]:
    """structlog's own defaults (lines on the stdout capsys reads) for the in-process tests: a
    CLI test run before them in the same worker leaves its configuration behind (`gapwatch`'s
    commands send structlog to stderr, `record` binds the stderr of its day), and these tests
    then read nothing, whichever order xdist gives them."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.mark.usefixtures("default_structlog")
def test_the_recorders_health_server_keeps_a_scrapers_token_out_of_the_log(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prometheus may scrape with a bearer token of its own; a stray CR after it was logged by
    aiohttp as for the push API. In process: aiohttp's logger (caplog) and structlog's (stdout)."""
    secret = b"scrape-token-0123456789abcdef"

    async def main() -> int:
        app = health_app(metrics=RecorderMetrics(), live=lambda: None, ready=lambda: None)
        runner, port = await serve(app, "127.0.0.1:0")
        try:
            request = b"GET /metrics HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer " + secret
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request + b"\r\r\n\r\n")
            status = int((await reader.readline()).split(b" ", 2)[1])
            writer.close()
            return status
        finally:
            await runner.cleanup()

    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(main()) == 400
    said = caplog.text + capsys.readouterr().out
    assert secret.decode() not in said
    assert "Traceback" not in said
    assert "malformed HTTP request refused" in said


@pytest.mark.usefixtures("default_structlog")
def test_a_token_file_every_user_may_read_is_warned_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token file of the process's own user that every user of the machine may read (0644,
    what `echo TOKEN > token` makes under the usual umask) was read without a word: on a shared
    machine anyone could push. Now a warning names the file and its mode, never the token;
    0600 says nothing. (A Secret the kubelet mounts is root's, read by a non-root user: no
    warning there.)"""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    assert load_token(token_file, env={}) == TOKEN
    said = capsys.readouterr().out
    assert "push token file readable by every user" in said and "0644" in said, said
    assert str(token_file) in said and TOKEN not in said
    token_file.chmod(0o600)
    assert load_token(token_file, env={}) == TOKEN
    assert "readable" not in capsys.readouterr().out


def test_requests_the_parser_refuses_are_counted_with_the_answers(receiver: Receiver) -> None:
    """aiohttp's parser answers 400 before the handler runs: `gapwatch_push_requests_total`
    missed every such request (session 31 review), so a client with a broken token file was
    seen in the log alone, once per 10 s. Counted now under code="400", throttled or not, and in
    the `stopped` line's `answered`; a first request that is not HTTP at all (bytes of a TLS
    ClientHello: aiohttp logs it at debug only) is answered 400 too, and counted."""
    token = TOKEN.encode()
    for _ in range(N):
        assert _send(receiver, token + b"\r") == 400
        assert _send(receiver, token, b"X-Trace: a\x7fb") == 400
    where = urlsplit(receiver.url)
    assert where.hostname is not None and where.port is not None
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32 + b"\r\n\r\n")
        assert sock.recv(4096).split(b" ", 2)[1] == b"400"  # "Received HTTPS traffic ..."
    assert receiver.post(b"", token=None)[0] == 401  # the handler's answers are counted as before
    status, text = receiver.get("/metrics")
    assert status == 200
    samples = _samples(text)
    assert samples[("gapwatch_push_requests_total", (("code", "400"),))] == 2 * N + 1
    assert samples[("gapwatch_push_requests_total", (("code", "401"),))] == 1
    events = [json.loads(x) for x in _log(receiver).splitlines()]
    stopped = [e for e in events if e["event"] == "stopped"]
    assert stopped and stopped[0]["answered"] == {"400": 2 * N + 1, "401": 1}
