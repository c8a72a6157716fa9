"""A fake kube-proxy per simulated node, faithful at the wire (plain HTTP/1.1 over TCP).

Why a fake: no kube-proxy (nor a Linux netns with iptables) can run in the tests. What it copies
from the real one (pkg/proxy/healthcheck, the samples in data/):
- the Service's health-check node port answers any path, `200` with `localEndpoints` > 0 and the
  proxy healthy, else `503`; JSON body `{"service":{"namespace","name"},"localEndpoints":N,
  "serviceProxyHealthy":bool}` (or, `legacy=True`, the older AKS body of the fixture, without
  serviceProxyHealthy), `Content-Type: application/json`, and from 1.28 the
  `X-Load-Balancing-Endpoint-Weight: N` header; HTTP/1.1 keep-alive;
- `/healthz` on the healthz port: `{"lastUpdated","currentTime","nodeEligible"}` (503 when not
  eligible or when the proxy is not healthy: `set_proxy_healthy`), `/livez` the first two (503
  when the proxy is not healthy), both times in Go's time.Time.String() text (recorder.gotime);
  `lastUpdated` is `currentTime` on a 200 (kube-proxy sets it so, kubernetes/kubernetes#83498)
  and the last rules sync on a 503 (`synced_at`: the start, each health-port switch between
  healthy and unhealthy, a proxy made healthy again); `/metrics` (metrics port) serves a
  fixture page;
- a NodePort that accepts connections while the node forwards (`set_node_port` closes it: a
  connect is refused, as to a node whose rules reject; open, it accepts whatever the health port
  says, as kube-proxy's cluster-wide chain answers a pod or the node itself).
On cue (`set_mode`) a node's health port switches between `healthy` and `unhealthy`, `refuse`s
(listener closed, open connections aborted: kube-proxy down), `hang`s (reads the request and
never answers), or `reset`s (RST on every request). Each switch returns the wall-clock time it
took effect (time.time()), to compare with recorded bounds. Runs its own event loop in a thread,
so a real `gapwatch probe` subprocess can probe it.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from gapwatch.recorder.gotime import ZERO_US, format_go_time

FIXTURES = Path(__file__).resolve().parent / "data"
LEGACY_BODY = (FIXTURES / "hcnp-body-aks-nginx-legacy-format.json").read_bytes()
METRICS_PAGE = (FIXTURES / "elastic-beats-kubeproxy-v1.29.0-metrics-subset.prom").read_bytes()
MODES = ("healthy", "unhealthy", "refuse", "hang", "reset")


def free_port(addresses: list[str]) -> int:
    """A TCP port free on every address (kube-proxy uses one port number on every node)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((addresses[0], 0))
            port: int = s.getsockname()[1]
        try:
            for address in addresses[1:]:
                with socket.socket() as s:
                    s.bind((address, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no common free port")


def _response(status: int, body: bytes, headers: dict[str, str]) -> bytes:
    reason = {200: "OK", 503: "Service Unavailable", 404: "Not Found"}[status]
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append("Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class FakeNode:
    """One node's kube-proxy: its loopback address and ports, its current mode."""

    name: str
    address: str
    health_port: int
    healthz_port: int
    node_port: int
    namespace: str = "default"
    service: str = "nginx"
    local_endpoints: int = 1
    legacy: bool = False
    node_eligible: bool = True
    #: kube-proxy's own health: False, a change is queued and not synced in time (503)
    proxy_healthy: bool = True
    #: wall-clock time of the last rules sync (None: none since it started)
    synced_at: float | None = None
    #: wall-clock time kube-proxy started (its Go monotonic clock counts from here)
    started_at: float = field(default_factory=time.time)
    mode: str = "healthy"
    servers: dict[int, asyncio.Server] = field(default_factory=dict)
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    unhang: asyncio.Event | None = None

    def health_answer(self) -> bytes:
        healthy = self.mode == "healthy"
        count = self.local_endpoints if healthy else 0
        if self.legacy:
            body = LEGACY_BODY if healthy else LEGACY_BODY.replace(b'": 1', b'": 0')
            return _response(200 if healthy else 503, body, {"Content-Type": "application/json"})
        payload = {
            "service": {"namespace": self.namespace, "name": self.service},
            "localEndpoints": count,
            "serviceProxyHealthy": True,
        }
        headers = {
            "Content-Type": "application/json",
            "X-Content-Type-Options": "nosniff",
            "X-Load-Balancing-Endpoint-Weight": str(count),
        }
        return _response(200 if count else 503, orjson.dumps(payload), headers)

    def go_time(self, at: float | None) -> str:
        """A wall-clock time as kube-proxy prints a time.Now() reading (None: the zero time)."""
        if at is None:
            return format_go_time(ZERO_US)
        return format_go_time(round(at * 1e6), monotonic_us=round((at - self.started_at) * 1e6))

    def healthz_answer(self, path: str) -> bytes:
        if path.startswith("/metrics"):
            return _response(200, METRICS_PAGE, {"Content-Type": "text/plain; version=0.0.4"})
        now = self.go_time(time.time())
        healthz = path.startswith("/healthz")
        ok = self.proxy_healthy and (self.node_eligible or not healthz)
        body: dict[str, Any] = {
            "lastUpdated": now if ok else self.go_time(self.synced_at),
            "currentTime": now,
        }
        if healthz:
            body["nodeEligible"] = self.node_eligible
        headers = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}
        return _response(200 if ok else 503, orjson.dumps(body), headers)


class FakeKubeProxies:
    """Several FakeNodes served from one background event loop. Use as a context manager."""

    def __init__(
        self,
        count: int,
        *,
        base: str = "127.0.0.",
        first: int = 2,
        names: list[str] | None = None,
        ports: tuple[int, int, int] | None = None,
        **node: Any,
    ) -> None:
        """`count` nodes on `base`+`first`, `base`+`first`+1, ...; `names` (default node-1, ...)
        and `ports` (health, healthz, NodePort; default free ones) as a real cluster has them."""
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        addresses = [f"{base}{first + i}" for i in range(count)]
        if ports is None:
            ports = (free_port(addresses), free_port(addresses), free_port(addresses))
        self.health_port, self.healthz_port, self.node_port = ports
        self.nodes = [
            FakeNode(
                name=names[i] if names else f"node-{i + 1}",
                address=address,
                health_port=self.health_port,
                healthz_port=self.healthz_port,
                node_port=self.node_port,
                **node,
            )
            for i, address in enumerate(addresses)
        ]

    def __enter__(self) -> FakeKubeProxies:
        self.thread.start()
        for node in self.nodes:
            node.started_at = node.synced_at = time.time()  # kube-proxy up and synced
            self._call(self._open(node, node.health_port, self._health))
            self._call(self._open(node, node.healthz_port, self._healthz))
            self._call(self._open(node, node.node_port, self._nodeport))
        return self

    def __exit__(self, *exc: object) -> None:
        for node in self.nodes:
            self._call(self._close_all(node))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def node(self, name: str) -> FakeNode:
        return next(n for n in self.nodes if n.name == name)

    def set_proxy_healthy(self, name: str, healthy: bool) -> tuple[float, float]:
        """kube-proxy's own health on a node: False, a queued change was not synced in time
        (/healthz and /livez answer 503 with the last sync); True, it synced now. Returns the
        wall-clock times (before, after) as set_mode does."""
        result: tuple[float, float] = self._call(self._proxy(self.node(name), healthy))
        return result

    def set_mode(self, name: str, mode: str) -> tuple[float, float]:
        """Switch a node's health port. Returns wall-clock times (before, after): every request
        handled before `before` saw the old mode, every one handled after `after` the new one."""
        assert mode in MODES, mode
        result: tuple[float, float] = self._call(self._switch(self.node(name), mode))
        return result

    def set_node_port(self, name: str, accepting: bool) -> tuple[float, float]:
        """Open or close a node's NodePort listener (closed: a connect is refused). Returns the
        wall-clock times (before, after) as set_mode does."""
        result: tuple[float, float] = self._call(self._node_port(self.node(name), accepting))
        return result

    # -- inside the loop ---------------------------------------------------------------
    async def _node_port(self, node: FakeNode, accepting: bool) -> tuple[float, float]:
        before = time.time()
        server = node.servers.get(node.node_port)
        if accepting and server is None:
            await self._open(node, node.node_port, self._nodeport)
        elif not accepting and server is not None:
            node.servers.pop(node.node_port).close()
            await server.wait_closed()
        return before, time.time()

    async def _open(self, node: FakeNode, port: int, handler: Any) -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            node.writers.add(writer)
            try:
                await handler(node, reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                node.writers.discard(writer)
                writer.close()

        node.servers[port] = await asyncio.start_server(serve, node.address, port)

    async def _close_all(self, node: FakeNode) -> None:
        if node.unhang is not None:
            node.unhang.set()
        for server in node.servers.values():
            server.close()
        for writer in list(node.writers):
            writer.transport.abort()
        node.servers.clear()

    async def _proxy(self, node: FakeNode, healthy: bool) -> tuple[float, float]:
        before = time.time()
        node.proxy_healthy = healthy
        if healthy:
            node.synced_at = before
        return before, time.time()

    async def _switch(self, node: FakeNode, mode: str) -> tuple[float, float]:
        before = time.time()
        old, node.mode = node.mode, mode
        if {old, mode} == {"healthy", "unhealthy"} and node.proxy_healthy:
            node.synced_at = before  # the health port's answer changed with a rules sync
        if old == "hang" and node.unhang is not None:
            node.unhang.set()
        if mode == "hang":
            node.unhang = asyncio.Event()
        if mode == "refuse":  # no await from the mode change to here: nothing runs in between
            node.servers.pop(node.health_port).close()
            for writer in list(node.writers):
                if writer.get_extra_info("sockname")[1] == node.health_port:
                    writer.transport.abort()
        elif old == "refuse":
            await self._open(node, node.health_port, self._health)
        return before, time.time()

    async def _requests(self, reader: asyncio.StreamReader) -> Any:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            yield head.split(b" ", 2)[1].decode("latin-1")

    async def _health(self, node: FakeNode, reader: Any, writer: asyncio.StreamWriter) -> None:
        async for _path in self._requests(reader):
            if node.mode == "hang" and node.unhang is not None:
                await node.unhang.wait()
                return
            if node.mode in ("reset", "refuse"):
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            writer.write(node.health_answer())
            await writer.drain()

    async def _healthz(self, node: FakeNode, reader: Any, writer: asyncio.StreamWriter) -> None:
        async for path in self._requests(reader):
            writer.write(node.healthz_answer(path))
            await writer.drain()

    async def _nodeport(self, node: FakeNode, reader: Any, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the prober connects and closes
