"""The push API's listening socket, with at most `max_connections` connections open at once.

aiohttp caps nothing of the kind, and each connection is a file descriptor of the process: the
recorder's own when the push API is its `push` source, whose watches and store connections need
descriptors too. Past the cap a new connection is closed as soon as it is accepted, before a
byte of it is read; those open are cut at the read timeout (push.py), so the cap frees up within
it. The count is aiohttp's list of open connections, which a burst of accepts may outrun by at
most the listen backlog.
"""

from __future__ import annotations

import asyncio

from aiohttp import web


class _Refused(asyncio.Protocol):
    """A connection over the cap: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class Listener:
    """Accepts connections for `server` on HOST:PORT; `refused` counts those over the cap."""

    def __init__(self, server: web.Server, max_connections: int) -> None:
        self._server = server
        self.max_connections = max_connections
        self.refused = 0
        self._socket_server: asyncio.Server | None = None

    def _protocol(self) -> asyncio.BaseProtocol:
        if len(self._server.connections) >= self.max_connections:
            self.refused += 1
            return _Refused()
        return self._server()

    async def start(self, host: str, port: int) -> list[str]:
        """Listen; the bound addresses as HOST:PORT."""
        loop = asyncio.get_running_loop()
        self._socket_server = await loop.create_server(
            self._protocol, host, port, reuse_address=True
        )
        return [f"{a[0]}:{a[1]}" for a in (s.getsockname() for s in self._socket_server.sockets)]

    async def stop(self) -> None:
        """Stop accepting (the open connections are the runner's to close)."""
        if self._socket_server is not None:
            self._socket_server.close()
            await self._socket_server.wait_closed()
