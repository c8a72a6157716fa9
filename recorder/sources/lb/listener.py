"""The push API's listening socket, with at most `max_connections` connections open at once.

aiohttp caps nothing of the kind, and each connection is a file descriptor of the process: the
recorder's own when the push API is its `push` source, whose watches and store connections need
descriptors too. At the cap a new connection takes the place of the oldest open one that is not
in a request (still sending its headers, or idle between two requests): that one is closed, so
clients that hold connections without finishing a request (slowloris: a header byte every few
seconds, reconnecting when cut) cannot keep the port from the kubelet's probes and the real
clients, which send a whole request at once. Only when every open connection is in a request
(its handler running) is the new one closed as soon as it is accepted, before a byte of it is
read (`refused`); those are cut at the read timeout (push.py), so the cap frees up within it.
Session 35 found the cap without the replacing: 64 slowloris clients on the health port left 10
of 70 probes answered (a liveness probe fails three times in a row: the pod is restarted).

The count is aiohttp's list of open connections, which a burst of accepts may outrun by at
most the listen backlog. Whether a connection is in a request is aiohttp's own flag on its
handler (`_request_in_progress`, aiohttp 3.8 to 3.14); were it gone, every connection would
count as not in one, and the oldest would be closed.
"""

from __future__ import annotations

import asyncio

from aiohttp import web


def _in_request(handler: object) -> bool:
    """Whether aiohttp is handling a request on this connection (its headers all came)."""
    return bool(getattr(handler, "_request_in_progress", False))


class _Refused(asyncio.Protocol):
    """A connection over the cap: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class Listener:
    """Accepts connections for `server` on HOST:PORT; `replaced` counts the open connections
    closed to make room at the cap, `refused` the new ones closed because none could be."""

    def __init__(self, server: web.Server, max_connections: int) -> None:
        self._server = server
        self.max_connections = max_connections
        self.refused = 0
        self.replaced = 0
        self._socket_server: asyncio.Server | None = None

    def _protocol(self) -> asyncio.BaseProtocol:
        # oldest first (aiohttp keeps them in the order they came); a closed one until it is gone
        open_now = [h for h in self._server.connections if h.transport is not None]
        if len(open_now) >= self.max_connections:
            idle = next((h for h in open_now if not _in_request(h)), None)
            if idle is None:
                self.refused += 1
                return _Refused()
            idle.force_close()
            self.replaced += 1
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
