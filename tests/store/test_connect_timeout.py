"""A PostgreSQL --db that accepts the connection and never answers (a wrong port on a service that
speaks something else, a half-open proxy) hung every command silently; a dropped SYN took the
kernel's ~2 minutes. The store now gives up after PG_CONNECT_TIMEOUT_S, in one line.

The silent server is a loopback listener that accepts and says nothing. The subprocess timeout
below only keeps a hang from hanging the suite; nothing is asserted about how long it took.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.store import current_revision, make_engine
from tests.test_cli import gapwatch


@pytest.fixture
def silent_port() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_a_server_that_never_answers_is_one_line_not_a_hang(
    silent_port: int, tmp_path: Path
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_port}/gapwatch"
    done = gapwatch("gaps", "--db", url, cwd=tmp_path)  # 120 s guard in the helper
    assert done.returncode == 1
    assert done.stderr == (
        f"error: postgresql+psycopg://postgres@127.0.0.1:{silent_port}/gapwatch: "
        "connection timeout expired\n"
    )


def test_the_urls_own_connect_timeout_wins(silent_port: int) -> None:
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{silent_port}/x?connect_timeout=1")
    try:
        with pytest.raises(StoreError, match="connection timeout expired"):
            current_revision(engine)
    finally:
        engine.dispose()
