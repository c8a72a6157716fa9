"""What `gapwatch probe` runs: the prober over a static ClusterView, into the store.

Kept apart from `cli` so the command module imports nothing heavy. Stops when `duration_s` has
passed or at SIGINT/SIGTERM; either way it writes every observation it has before returning.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from prometheus_client import CollectorRegistry

from gapwatch.recorder.cliutil import open_store, stderr
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.record import configure_logging
from gapwatch.recorder.sources.base import SourceContext
from gapwatch.recorder.sources.kubeproxy.settings import ProberSettings
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber
from gapwatch.recorder.sources.kubeproxy.writesink import WriterSink
from gapwatch.recorder.sources.view import ClusterView, NodeInfo, ServiceInfo
from gapwatch.recorder.writer import Derive


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """The `probe` command's options, checked."""

    cluster: str
    db: str
    namespace: str
    name: str
    health_check_node_port: int | None
    node_port: int | None
    nodes: tuple[tuple[str, str], ...]
    duration_s: float | None
    as_json: bool


def static_view(request: ProbeRequest) -> ClusterView:
    """A ClusterView holding the one Service (as Local) and the given nodes."""
    view = ClusterView()
    view.put_service(
        ServiceInfo(
            namespace=request.namespace,
            name=request.name,
            external_traffic_policy="Local",
            health_check_node_port=request.health_check_node_port,
            node_ports=(request.node_port,) if request.node_port is not None else (),
        )
    )
    for name, address in request.nodes:
        view.put_node(NodeInfo(name=name, addresses=(("InternalIP", address),)))
    return view


def _print(observation: Observation) -> None:
    sys.stdout.write(orjson.dumps(observation.to_dict()).decode() + "\n")
    sys.stdout.flush()


async def run_probe(request: ProbeRequest, settings: ProberSettings, derive: Derive) -> None:
    """Probe until the duration is over or a signal comes; then store what is pending. The
    prober's log lines go to stderr as JSON, warnings only (structlog's default printed them on
    stdout, among the --json observations: `kube-proxy first look` broke every reader of it)."""
    configure_logging("WARNING")
    engine = open_store(request.db)
    context = SourceContext(
        cluster=request.cluster,
        engine=engine,
        clock=lambda: datetime.now(UTC),
        rng=random.Random(),
        registry=CollectorRegistry(),
        view=static_view(request),
        derive=derive,
    )
    prober = KubeProxyProber(
        context, settings, name="probe", on_observation=_print if request.as_json else None
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if request.duration_s is not None:
        loop.call_later(request.duration_s, stop.set)
    stderr.print(
        f"probing {request.namespace}/{request.name} on {len(request.nodes)} node(s) every "
        f"{settings.interval_s:g} s; Ctrl-C stops",
        markup=False,
    )
    try:
        async with WriterSink(engine, derive=derive) as sink:
            await prober.run(sink, stop)
        stderr.print(f"{prober.looks} looks, {sink.stored} observations stored", markup=False)
    finally:
        engine.dispose()
