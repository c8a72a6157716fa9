"""Hostile clients against a real `gapwatch receive` process: slow, stalled and compressed.

A client that sends part of its headers, or its headers and no body, is cut off at
`--read-timeout` (before, the connection stayed open for as long as the client liked, each one a
file descriptor of the process that may also be the recorder). A gzip or deflate body that
inflates past `--max-body-bytes` is refused with 413 while the receiver's memory stays flat:
aiohttp inflates it in bounded pieces since 3.14.1 (3.12.15 grew by 261 MiB for this 256 MiB
bomb), and closes a connection that sends no whole request since 3.14.4 (3.14.1 kept it open):
pyproject's floor.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from gapwatch.recorder.health import serve
from gapwatch.recorder.store import make_engine, upgrade
from tests.lb.test_push import TOKEN, _wait_listening

READ_TIMEOUT_S = 1.0
#: how long a test waits for the receiver to act on a stalled client before calling it stuck
PATIENCE_S = 10.0


@dataclass
class Receiver:
    host: str
    port: int
    proc: subprocess.Popen[str]

    def connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=PATIENCE_S)
        return sock

    def peak_rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")


@contextmanager
def running(tmp_path: Path, *options: str) -> Iterator[Receiver]:
    """`gapwatch receive` on a fresh SQLite store with `options`, stopped afterwards."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    env = {k: v for k, v in os.environ.items() if k != "GAPWATCH_PUSH_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gapwatch.dashboard.cli", "receive", "--listen", "127.0.0.1:0",
         "--token-file", str(token_file), "--db", url, "--max-body-bytes", "20000",
         *options],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        host, _, port = _wait_listening(proc).rpartition(":")
        yield Receiver(host, int(port), proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    with running(tmp_path, "--read-timeout", str(READ_TIMEOUT_S)) as started:
        yield started


def _closed_after(sock: socket.socket) -> tuple[float, bytes]:
    """Seconds until the server answers or closes `sock`, and what it sent."""
    started = time.monotonic()
    try:
        said = sock.recv(4096)
    except TimeoutError:
        raise AssertionError(f"the connection was still open after {PATIENCE_S} s") from None
    return time.monotonic() - started, said


def test_a_client_that_never_finishes_its_headers_is_cut_off(receiver: Receiver) -> None:
    with receiver.connect() as sock:
        sock.sendall(b"POST /v1/observations HTTP/1.1\r\nHost: x\r\n")
        waited, said = _closed_after(sock)
    assert said == b"" and waited < READ_TIMEOUT_S + 3


def test_a_client_trickling_its_headers_is_cut_off(receiver: Receiver) -> None:
    """One header byte every 0.2 s: each byte is news, yet the headers never end."""
    started = time.monotonic()
    with receiver.connect() as sock:
        sock.sendall(b"POST /v1/observations HTTP/1.1\r\n")
        with pytest.raises(OSError):  # BrokenPipe / ConnectionReset once the server closed
            while time.monotonic() - started < PATIENCE_S:
                sock.sendall(b"X")
                time.sleep(0.2)
    assert time.monotonic() - started < READ_TIMEOUT_S + 3


def test_an_authenticated_client_that_never_sends_its_body_gets_408(receiver: Receiver) -> None:
    with receiver.connect() as sock:
        sock.sendall(
            b"POST /v1/observations HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n\r\n".encode()
            + b'{"observed_at": '
        )
        waited, said = _closed_after(sock)
    assert said.startswith(b"HTTP/1.1 408"), said
    assert waited < READ_TIMEOUT_S + 3


def _bomb(mib: int, wbits: int) -> bytes:
    """`mib` MiB of zeros, compressed (about 1,000 to 1)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1 << 20)
    return b"".join(squeeze.compress(zeros) for _ in range(mib)) + squeeze.flush()


@pytest.mark.parametrize(("encoding", "wbits"), [("gzip", 31), ("deflate", 15)])
def test_a_compressed_bomb_is_refused_in_flat_memory(
    receiver: Receiver, encoding: str, wbits: int
) -> None:
    body = _bomb(256, wbits)  # 256 MiB inflated, about 250 KB sent
    before = receiver.peak_rss()
    for token in (None, TOKEN):
        conn = http.client.HTTPConnection(receiver.host, receiver.port, timeout=60)
        headers = {"Content-Encoding": encoding, "Content-Type": "application/x-ndjson"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("POST", "/v1/observations", body=body, headers=headers)
        assert conn.getresponse().status == (413 if token else 401)
        conn.close()
    grown = receiver.peak_rss() - before
    assert grown < 64 * 2**20, f"the receiver's peak grew by {grown / 2**20:.0f} MiB"


def test_the_recorders_health_server_cuts_off_a_stalled_client() -> None:
    async def main() -> float:
        async def livez(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/livez", livez)
        runner, port = await serve(app, "127.0.0.1:0", idle_timeout_s=READ_TIMEOUT_S)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            said = await asyncio.wait_for(reader.read(), PATIENCE_S)
            writer.close()
            assert said == b""
            return time.monotonic() - started
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) < READ_TIMEOUT_S + 3


def _livez(receiver: Receiver) -> bytes:
    """What GET /livez on a new connection gets back (b'' when the connection is closed)."""
    with receiver.connect() as sock:
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try:
            return sock.recv(4096)
        except ConnectionResetError:
            return b""


def _held_in_a_request(receiver: Receiver) -> socket.socket:
    """A connection whose request is being handled: token and headers sent, its body not."""
    sock = receiver.connect()
    sock.sendall(
        b"POST /v1/observations HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n\r\n".encode()
        + b'{"observed_at": '
    )
    return sock


def _slowloris(receiver: Receiver) -> socket.socket:
    """A connection that sent a header line and no more (accepted before the next one)."""
    sock = receiver.connect()
    sock.sendall(b"POST /v1/observations HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.2)
    return sock


def test_connections_past_the_cap_are_closed_at_once_when_every_one_is_in_a_request(
    tmp_path: Path,
) -> None:
    """Three clients each in a request (headers sent, body not) fill a cap of 3: nothing may be
    closed to make room, so a fourth is closed unanswered; once they are gone (408 at the read
    timeout, or closed) one is answered again; the stop line counts the refused."""
    with running(tmp_path, "--max-connections", "3", "--read-timeout", "30") as receiver:
        held = []
        for _ in range(3):
            held.append(_held_in_a_request(receiver))
            time.sleep(0.2)  # the server has read its headers: its handler is running
        assert _livez(receiver) == b""
        for sock in held:
            sock.close()
        deadline = time.monotonic() + PATIENCE_S
        while not (answer := _livez(receiver)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answer.startswith(b"HTTP/1.1 200"), answer
    assert receiver.proc.stderr is not None
    said = receiver.proc.stderr.read()
    assert '"event": "connections refused"' in said and '"cap": 3' in said, said


def test_slowloris_clients_at_the_cap_make_room_for_real_ones(tmp_path: Path) -> None:
    """Three clients send a header line and no more (slowloris: a byte every few seconds, never
    a whole request) and fill a cap of 3. Session 35 found every new connection closed while
    they held (64 of them on the health port: 10 of 70 probes answered). Now each real client
    is answered, and the oldest of the slow ones is closed for it; a client in a request (its
    body still coming) is never the one closed."""
    with running(tmp_path, "--max-connections", "3", "--read-timeout", "30") as receiver:
        busy = _held_in_a_request(receiver)
        time.sleep(0.2)
        slow = [_slowloris(receiver), _slowloris(receiver)]  # the cap is full
        answers, closed = [], []
        for _ in range(3):  # a real client; a slow one that takes its place again
            answers.append(_livez(receiver))
            closed.append(slow.pop(0).recv(4096))  # b"": closed by the server, unanswered
            slow.append(_slowloris(receiver))
        busy.sendall(b" " * (1000 - len(b'{"observed_at": ')))
        busy_said = busy.recv(4096)
        for sock in [busy, *slow]:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers
    assert closed == [b"", b"", b""]
    assert busy_said.startswith(b"HTTP/1.1 400"), busy_said  # answered: its body is no JSON
    assert receiver.proc.stderr is not None
    said = receiver.proc.stderr.read()
    assert '"replaced": 3' in said, said
