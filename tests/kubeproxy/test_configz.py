"""kube-proxy's /configz read by the prober (`configz_interval_s`): the real answer of a kind
cluster (tests/fixtures/kubeproxy/raesene-kubeproxy-kind-configz.json, served unchanged) from a
local HTTP server, over a real store (SQLite and PostgreSQL). The server is a fake only at the
wire: it answers /configz with the bytes a test gives it, as kube-proxy's metrics server
answers (component-base/configz: `Content-Type: application/json`), or a 404, garbage, a body
larger than the limit; a port nobody listens on is refused."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from structlog.testing import capture_logs

from gapwatch.recorder.sources.kubeproxy.configz import (
    MAX_CONFIGZ_BYTES,
    ConfigzError,
    parse_configz,
)
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber, build
from gapwatch.recorder.sources.kubeproxy.writesink import WriterSink
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.recorder.tables import events
from gapwatch.replay.facts import write_facts
from tests.kubeproxy.contexts import source_context

FIXTURES = Path(__file__).parents[1] / "fixtures" / "kubeproxy"
SAMPLE = FIXTURES / "raesene-kubeproxy-kind-configz.json"
GROUP = "kubeproxy.config.k8s.io"


def _with_gates(gates: dict[str, bool]) -> bytes:
    """The real answer with its FeatureGates set (as a config file's `featureGates` sets them),
    sent compact, as kube-proxy's json.Marshal sends it."""
    doc = json.loads(SAMPLE.read_bytes())
    doc[GROUP]["FeatureGates"] = gates
    return json.dumps(doc, separators=(",", ":")).encode()


def test_the_real_answer_keeps_the_gates_and_the_mode_only() -> None:
    kept = parse_configz(SAMPLE.read_bytes())
    assert kept == {
        "feature_gates": {},
        "mode": "iptables",
        "sync_period_s": 30.0,
        "min_sync_period_s": 1.0,
    }
    gates = {"ProxyTerminatingEndpoints": False, "AllBeta": True, "AllAlpha": False,
             "TopologyAwareHints": True}  # fmt: skip
    kept = parse_configz(_with_gates(gates))
    assert kept["feature_gates"] == {
        "ProxyTerminatingEndpoints": False,
        "AllBeta": True,
        "AllAlpha": False,
    }
    # a versioned rendering (json tags) reads the same
    versioned = {GROUP: {"featureGates": {"ProxyTerminatingEndpoints": True}, "mode": "ipvs"}}
    assert parse_configz(json.dumps(versioned).encode()) == {
        "feature_gates": {"ProxyTerminatingEndpoints": True},
        "mode": "ipvs",
        "sync_period_s": None,
        "min_sync_period_s": None,
    }


def _with_iptables(**fields: object) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SAMPLE.read_bytes())
    doc[GROUP]["IPTables"].update(fields)
    return doc


def test_the_sync_period_is_read_as_kube_proxy_prints_it() -> None:
    """metav1.Duration marshals as Go's Duration.String(): `10s`, `1m0s`, `1h0m0s`, `500ms`;
    the health server times out by IPTables.SyncPeriod whatever the mode, or by the top-level
    SyncPeriod where the internal configuration has one (configz.py's docstring)."""
    cases = [("10s", 10.0), ("1m0s", 60.0), ("1h0m0s", 3600.0), ("1m30.5s", 90.5),
             ("500ms", 0.5), ("2h22m", 8520.0), ("0s", 0.0), ("often", None), ("30", None),
             (30, None)]  # fmt: skip
    for said, seconds in cases:
        doc = _with_iptables(SyncPeriod=said, MinSyncPeriod="0s")
        kept = parse_configz(json.dumps(doc, separators=(",", ":")).encode())
        assert kept["sync_period_s"] == seconds, said
        assert kept["min_sync_period_s"] == 0.0
    # the IPVS section's period is not the one the health server reads
    doc = _with_iptables(SyncPeriod="10s")
    doc[GROUP]["IPVS"]["SyncPeriod"] = "5m0s"
    assert parse_configz(json.dumps(doc).encode())["sync_period_s"] == 10.0
    # a top-level SyncPeriod (later releases' internal configuration) wins
    doc[GROUP]["SyncPeriod"] = "45s"
    assert parse_configz(json.dumps(doc).encode())["sync_period_s"] == 45.0
    versioned = {GROUP: {"iptables": {"syncPeriod": "10s", "minSyncPeriod": "1s"}}}
    kept = parse_configz(json.dumps(versioned).encode())
    assert (kept["sync_period_s"], kept["min_sync_period_s"]) == (10.0, 1.0)


@pytest.mark.parametrize(
    "body",
    [
        b"404 page not found\n",
        b"[1, 2]",
        b'{"kubeletconfig": {}}',
        b'{"' + GROUP.encode() + b'": {"FeatureGates": 3}}',
        b"{" + b" " * MAX_CONFIGZ_BYTES + b"}",
    ],
)
def test_what_is_not_kube_proxys_configuration_is_refused(body: bytes) -> None:
    with pytest.raises(ConfigzError):
        parse_configz(body)


class _Server:
    """A local HTTP server answering GET /configz with `status` and `body` (set by the test)."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                found = self.path == "/configz"
                status = owner.status if found else 404
                body = owner.body if found else b"404 page not found\n"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sample_server() -> Iterator[_Server]:
    with _Server(SAMPLE.read_bytes()) as server:
        yield server


def _prober(engine: Engine, port: int) -> KubeProxyProber:
    view = ClusterView()
    view.observe("Node", "ADDED", {"metadata": {"name": "n1"}, "status": {"addresses": []}})
    settings = {"interval_s": 0.1, "timeout_s": 2.0, "configz_interval_s": 0.1,
                "proxy_healthz": False, "metrics_port": port, "address_override": "127.0.0.1",
                "only_node": "n1"}  # fmt: skip
    return build(source_context(engine, view), settings)


def _run(
    engine: Engine,
    port: int,
    looks: int,
    until: Callable[[KubeProxyProber], bool] | None = None,
) -> KubeProxyProber:
    """Run a prober until it took `looks` looks and `until` holds (20 s at most: a hang guard)."""
    prober = _prober(engine, port)

    async def main() -> None:
        stop = asyncio.Event()
        async with WriterSink(engine, derive=write_facts, flush_interval_s=0.05) as sink:
            task = asyncio.create_task(prober.run(sink, stop))
            for _ in range(400):
                await asyncio.sleep(0.05)
                if prober.looks >= looks and (until is None or until(prober)):
                    break
            stop.set()
            await task

    asyncio.run(main())
    return prober


def _stored(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        query = select(events).where(events.c.kind == "ProxyConfig").order_by(events.c.id)
        return list(conn.execute(query))


def test_the_configuration_is_stored_once_and_again_only_when_it_changes(
    engine: Engine, sample_server: _Server
) -> None:
    _run(engine, sample_server.port, looks=4)
    rows = _stored(engine)
    assert len(rows) == 1, "stored at the first look, not at the three that repeat it"
    first = rows[0]
    assert first.node == "n1" and first.source == "kube-proxy-probe"
    assert first.payload["feature_gates"] == {} and first.payload["mode"] == "iptables"
    assert first.payload["look"] == "first" and first.payload["status"] == 200
    stored = json.dumps(first.payload)
    for secret in ("kubeconfig", "kind-control-plane", "10.244.0.0"):
        assert secret not in stored.lower(), "nothing of the configuration but what replay reads"

    _run(engine, sample_server.port, looks=3)  # a restart: the same configuration
    assert len(_stored(engine)) == 1, "a restarted prober compares with the stored one"

    sample_server.body = _with_gates({"ProxyTerminatingEndpoints": False})
    _run(engine, sample_server.port, looks=3)  # kube-proxy restarted with the gate turned off
    rows = _stored(engine)
    assert len(rows) == 2
    assert rows[1].payload["feature_gates"] == {"ProxyTerminatingEndpoints": False}
    assert rows[1].payload["look"] == "change"
    query = "SELECT state, num1, num2, num3, text1 FROM facts WHERE fact = 'sync' ORDER BY event_id"
    with engine.connect() as conn:
        facts = [tuple(f) for f in conn.execute(text(query))]
    assert facts == [
        ("config", None, None, None, "iptables"),
        ("config", 0, None, None, "iptables"),
    ]


def _free_port() -> int:
    with _Server(b"") as server:
        port = server.port
    return port  # closed again: nothing listens there now


@pytest.mark.parametrize("case", ["refused", "404", "garbage", "huge"])
def test_a_configz_that_cannot_be_read_is_said_once_and_looked_at_no_more(
    engine: Engine, case: str
) -> None:
    bodies = {"404": (b"404 page not found\n", 404), "garbage": (b"\x00not json", 200),
              "huge": (b"{" + b" " * (MAX_CONFIGZ_BYTES + 10) + b"}", 200)}  # fmt: skip
    given_up_at: list[float] = []

    def given_up_then_more(prober: KubeProxyProber) -> bool:
        """/configz given up, then five more of its 0.1 s intervals in which it could have been
        asked again (the node has no other target, so no look counts them: the prober's own
        clock does; on a loaded machine the first look may end late, so the wait starts at the
        giving up, not at the start)."""
        if not prober._configz_off:
            return False
        given_up_at[:] = given_up_at or [time.monotonic()]
        return time.monotonic() >= given_up_at[0] + 0.5

    with capture_logs() as logs:
        if case == "refused":
            prober = _run(engine, _free_port(), looks=1, until=given_up_then_more)
        else:
            body, status = bodies[case]
            with _Server(body, status) as server:
                prober = _run(engine, server.port, looks=1, until=given_up_then_more)
                hits = server.hits
            assert hits == 1, "looked at once, then no more"
    assert _stored(engine) == []
    said = [e for e in logs if "/configz not readable" in e["event"]]
    assert len(said) == 1 and said[0]["log_level"] == "warning"
    expected = {"refused": "refused", "404": "HTTP 404", "garbage": "error", "huge": "error"}
    assert said[0]["got"].startswith(expected[case])
    assert not [t for t in prober._tasks if t.key.kind == "ProxyConfig"]
