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

The count is aiohttp's list of open connections (`web.Server.connections`), which a burst of
accepts may outrun by at most the listen backlog. Whether a connection is in a request is told
by a middleware (`watch(app)`, outermost): its transport is marked while the application
handles a request on it. Before session 36 this was aiohttp's private flag on its handler
(`_request_in_progress`), which an upgrade could rename silently, every connection then counting
as not in one. The mark ends when the handler returns, before aiohttp writes the answer: an
answer that fits the transport's buffer is written in the same step, so only a large one to a
client that does not read it (which the flag kept as in a request, and no write timeout ends)
can be replaced. tests/lb/test_library_contracts.py pins the public names relied on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web


class _Refused(asyncio.Protocol):
    """A connection over the cap: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class Listener:
    """Accepts connections for an application on HOST:PORT; `replaced` counts the open
    connections closed to make room at the cap, `refused` the new ones closed because none
    could be. `watch(app)` before the application starts, `start(server, ...)` after."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self.refused = 0
        self.replaced = 0
        self._server: web.Server | None = None
        self._socket_server: asyncio.Server | None = None
        self._in_request: set[asyncio.BaseTransport] = set()  # the requests' being handled

    def watch(self, app: web.Application) -> None:
        """Mark a connection while `app` handles a request on it (before `app` is frozen)."""
        in_request = self._in_request

        @web.middleware
        async def mark(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            transport = request.transport
            if transport is None:  # the client has gone: nothing to mark
                return await handler(request)
            in_request.add(transport)
            try:
                return await handler(request)
            finally:
                in_request.discard(transport)

        app.middlewares.insert(0, mark)

    def _protocol(self) -> asyncio.BaseProtocol:
        assert self._server is not None  # set by start()
        # oldest first (aiohttp keeps them in the order they came); a closed one until it is gone
        open_now = [h for h in self._server.connections if h.transport is not None]
        if len(open_now) >= self.max_connections:
            idle = next((h for h in open_now if h.transport not in self._in_request), None)
            if idle is None:
                self.refused += 1
                return _Refused()
            idle.force_close()
            self.replaced += 1
        return self._server()

    async def start(self, server: web.Server, host: str, port: int) -> list[str]:
        """Listen for `server` (the watched application's); the bound addresses as HOST:PORT."""
        self._server = server
        loop = asyncio.get_running_loop()
        self._socket_server = await loop.create_server(
            self._protocol, host, port, reuse_address=True
        )
        return [f"{a[0]}:{a[1]}" for a in (s.getsockname() for s in self._socket_server.sockets)]

    async def stop(self, log: Any) -> None:
        """Stop accepting (the open connections are the runner's to close); say on `log` (a
        structlog logger) how many connections were refused or replaced, if any."""
        if self._socket_server is not None:
            self._socket_server.close()
            await self._socket_server.wait_closed()
            self._socket_server = None
        if self.refused or self.replaced:
            log.warning(
                "connections refused",
                refused=self.refused,
                replaced=self.replaced,
                cap=self.max_connections,
            )
