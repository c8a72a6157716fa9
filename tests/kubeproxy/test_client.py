"""The client against real sockets on loopback: each failure gets its name (refused, timeout,
reset), a stale kept-alive connection is not a reset, and real kube-proxy pages parse."""

from __future__ import annotations

import asyncio
import socket
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.client import ProbeClient, classify
from gapwatch.recorder.sources.kubeproxy.metrics import MetricsError, parse_metrics, summarize
from gapwatch.recorder.sources.kubeproxy.payloads import http_payload
from gapwatch.recorder.sources.kubeproxy.targets import Target
from gapwatch.recorder.sources.kubeproxy.tracker import TargetKey
from gapwatch.replay.facts import derive
from tests.kubeproxy.fakeproxy import FIXTURES, FakeKubeProxies, free_port
from tests.kubeproxy.probeproc import random_loopback_base


async def _look(url: str, timeout: float = 0.3) -> tuple[int | None, str | None]:
    async with ProbeClient(timeout_s=timeout, concurrency=4) as client:
        answer = await client.get(url)
    return answer.status, answer.error


def test_each_failure_has_its_name() -> None:
    with FakeKubeProxies(1, base=random_loopback_base()) as fakes:
        node = fakes.nodes[0]
        url = f"http://{node.address}:{fakes.health_port}/healthz"
        assert asyncio.run(_look(url)) == (200, None)
        for mode, expected in [
            ("unhealthy", (503, None)),
            ("refuse", (None, "refused")),
            ("hang", (None, "timeout")),
            ("reset", (None, "reset")),
            ("healthy", (200, None)),
        ]:
            fakes.set_mode(node.name, mode)
            assert asyncio.run(_look(url)) == expected, mode


def test_legacy_body_and_weight_header() -> None:
    with FakeKubeProxies(1, base=random_loopback_base(), legacy=True) as fakes:
        node = fakes.nodes[0]
        target = Target(
            TargetKey("ProxyHealth", node.name, "default", "nginx"),
            node.address,
            fakes.health_port,
            "http",
        )

        async def once() -> dict[str, object]:
            async with ProbeClient(timeout_s=1, concurrency=1) as client:
                return http_payload(target, await client.get(target.url))

        payload = asyncio.run(once())
    assert payload["status"] == 200 and payload["weight"] is None  # before kube-proxy 1.28
    assert payload["body"] == {
        "service": {"namespace": "default", "name": "nginx"},
        "localEndpoints": 1,
    }


def test_a_server_closing_a_kept_alive_connection_is_not_a_reset() -> None:
    """The client keeps connections alive; a server may close one just as the client reuses it
    (Go's net/http closes idle connections after a timeout). That is no answer about the node:
    it must not be recorded as a reset (aiohttp retries such a GET, the client once more)."""
    address = "127.0.0.1"
    port = free_port([address])
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"

    async def main() -> list[tuple[int | None, str | None]]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")  # a second request on this connection: RST
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

        server = await asyncio.start_server(serve, address, port)
        out = []
        async with ProbeClient(timeout_s=1, concurrency=1) as client:
            for _ in range(3):
                got = await client.get(f"http://{address}:{port}/")
                out.append((got.status, got.error))
        server.close()
        return out

    assert asyncio.run(main()) == [(200, None)] * 3


def test_connect_probe_and_classify() -> None:
    with FakeKubeProxies(1, base=random_loopback_base()) as fakes:
        node = fakes.nodes[0]

        async def both() -> tuple[str, str]:
            async with ProbeClient(timeout_s=0.5, concurrency=2) as client:
                ok = await client.connect(node.address, fakes.node_port)
                closed = await client.connect(node.address, free_port([node.address]))
            return ok.result, closed.result

        assert asyncio.run(both()) == ("connected", "refused")
    assert classify(TimeoutError()) == ("timeout", None)
    assert classify(ConnectionResetError()) == ("reset", None)
    assert classify(OSError(113, "No route to host")) == ("error", "EHOSTUNREACH")


@pytest.mark.parametrize(
    "name",
    [
        "datadog-kubeproxy-v1.21.1-iptables-metrics-subset.prom",
        "elastic-beats-kubeproxy-v1.29.0-metrics-subset.prom",
    ],
)
def test_real_metrics_pages_parse(name: str) -> None:
    metrics = parse_metrics((FIXTURES / name).read_text())
    assert metrics["kubeproxy_sync_proxy_rules_last_timestamp_seconds"] > 1.6e9
    assert metrics["kubeproxy_network_programming_duration_seconds_count"] > 0
    assert summarize(metrics)["queued_unsynced_s"] == 0.0
    if "1.29" in name:  # the gauge exists from 1.24 on
        key = 'kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="external"}'
        assert metrics[key] == 0.0


def test_a_page_that_is_not_prometheus_text_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MetricsError):
        parse_metrics("kubeproxy_sync_proxy_rules_last_timestamp_seconds not-a-number\n")


def _gate_text(metrics: dict[str, float]) -> str | None:
    """The gate a stored scrape's replay fact carries (`text1` of its `sync` fact)."""
    seen = datetime(2024, 1, 10, tzinfo=UTC)
    obs = Observation(seen, "c1", "kube-proxy-probe", "ProxyMetrics", "OBSERVED",
                      {"metrics": metrics, "latency_ms": 3.0}, node="n1")  # fmt: skip
    (fact,) = derive(1, obs)
    assert fact.state == "synced"
    return fact.text1


def test_the_proxy_terminating_endpoints_gate_is_kept_and_no_other() -> None:
    """kube-proxy states its feature gates in its /metrics (every component from 1.26): the
    prober keeps ProxyTerminatingEndpoints' sample, which decides what a serving-terminating
    pod gets on 1.26-1.27 (on by default, can be off), and the replay fact carries it."""
    real = (FIXTURES / "elastic-beats-kubeproxy-v1.29.0-metrics-subset.prom").read_text()
    gates = (FIXTURES / "elastic-beats-kubeproxy-v1.29.0-feature-gates-subset.prom").read_text()
    ga = 'kubernetes_feature_enabled{name="ProxyTerminatingEndpoints",stage=""}'
    metrics = parse_metrics(real + gates)
    assert {k: v for k, v in metrics.items() if k.startswith("kubernetes_feature")} == {ga: 1.0}
    assert _gate_text(metrics) == "true"
    beta_off = {k: v for k, v in metrics.items() if k != ga}
    beta_off['kubernetes_feature_enabled{name="ProxyTerminatingEndpoints",stage="BETA"}'] = 0.0
    assert _gate_text(beta_off) == "false"
    assert _gate_text(parse_metrics(real)) is None  # 1.25 and before: no such metric
