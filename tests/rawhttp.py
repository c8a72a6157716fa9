"""Raw bytes to a local HTTP server and its status line back: the requests no client library
would send (a CR after a header's value, a DEL, a TLS ClientHello), for the servers' tests."""

from __future__ import annotations

import socket


def status_line(host: str, port: int, request: bytes) -> bytes:
    """Send `request` as it is; the answer's first line (empty if the server closed first)."""
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def status(host: str, port: int, request: bytes) -> int:
    """The answer's status code."""
    return int(status_line(host, port, request).split(b" ", 2)[1])
