"""A local TCP server that answers every HTTP request with bytes a test scripts: the wire level.

For what no cloud API sends and no HTTP library's server can be made to send: headers a byte at a
time, an answer that never ends, a body past any limit. Each connection's request (its headers
and a `Content-Length` body) is read, then `answer(write)` runs in the connection's thread;
`write(bytes)` raises `ConnectionError` once the client has gone, which ends the script. `stop()`
closes the listening socket and every connection still open.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType

Answer = Callable[[Callable[[bytes], None]], None]


def in_thread(call: Callable[[], object], guard_s: float) -> object:
    """`call()` in a thread, given `guard_s` (a hang guard, not a timing assertion): what it
    returned or raised, or a note that it never ended."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(call())
        except Exception as exc:  # what the test looks at
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(guard_s)
    return out[0] if out else f"still polling after {guard_s:g} s"


def until_gone(answer: Answer, gone: threading.Event) -> Answer:
    """`answer`, setting `gone` once it ends: for a script that writes for ever, once the
    client has gone (or the server stopped)."""

    def run(write: Callable[[bytes], None]) -> None:
        try:
            answer(write)
        finally:
            gone.set()

    return run


def _read_request(conn: socket.socket) -> None:
    """Reads one request's headers and `Content-Length` body off `conn`."""
    with conn.makefile("rb") as reader:
        length = 0
        while (line := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        reader.read(length)


class RawServer:
    """`with RawServer(answer) as server:` listens on `server.url` (http://127.0.0.1:PORT)."""

    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.requests = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def __enter__(self) -> RawServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            _read_request(conn)
            with self._lock:
                self.requests += 1
            self._answer(conn.sendall)
        except OSError:
            pass  # the client went away: the script ends with it
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):  # wakes the accepting thread (a close alone leaves
            self._listener.shutdown(socket.SHUT_RDWR)  # it accepting, on Linux)
        self._listener.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
