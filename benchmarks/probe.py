"""Prober benchmark: health-check probes/s against 500 local fake kube-proxies, and CPU seconds
per probe, next to a plain sequential `urllib` loop measured in the same run.

    python benchmarks/probe.py [--nodes 500] [--interval 0.2] [--seconds 8] [--repeat 3]

The fake kube-proxies (one listening port each on 127.0.0.1, the real health-check answer of
tests/kubeproxy/fakeproxy.py, HTTP/1.1 keep-alive) run in a child process, so the figures are
the prober's own. Three measurements, each --repeat times (medians printed):

- scheduled: the real KubeProxyProber (its schedule, shared aiohttp client, tracker) with every
  node's health-check port due every --interval (500 / 0.2 s = 2,500 probes/s asked), for
  --seconds; a counting sink (storing is benchmarks/ingest.py's subject; a probe run stores
  only transitions). probes/s achieved, and the prober process's CPU seconds per probe
  (time.process_time: user + system, all threads);
- flat out: the same client and look(), as fast as it goes with 256 looks in flight: the most
  one process (one core: asyncio runs on one thread) can do;
- baseline: `urllib.request.urlopen` in a sequential loop over the same targets.
`--hanging N` makes N of the fakes accept and never answer (a hung kube-proxy; every look at
one is a 1 s timeout), to see what a few dead nodes do to each.
"one core" means probes per CPU-second: 1 / (CPU s per probe) is the rate one fully busy core
gives, whatever else shares the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import statistics
import sys
import time
import urllib.request
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry

from gapwatch.recorder.sources.base import Emitted, SourceContext
from gapwatch.recorder.sources.kubeproxy.client import ProbeClient
from gapwatch.recorder.sources.kubeproxy.settings import ProberSettings
from gapwatch.recorder.sources.kubeproxy.source import KubeProxyProber
from gapwatch.recorder.sources.kubeproxy.targets import plan
from gapwatch.recorder.sources.view import ClusterView, NodeInfo, ServiceInfo
from gapwatch.replay.facts import write_facts

BODY = (
    b'{"service":{"namespace":"default","name":"nginx"},'
    b'"localEndpoints":1,"serviceProxyHealthy":true}'
)
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
    b"X-Load-Balancing-Endpoint-Weight: 1\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


class _Answer(asyncio.Protocol):
    """Answers every request head on the connection with kube-proxy's 200."""

    hangs = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer and not self.hangs:
            _head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(ANSWER)


class _Hang(_Answer):
    """Accepts and reads, never answers (a hung kube-proxy)."""

    hangs = True


def serve(count: int, pipe: Connection, hanging: int = 0) -> None:
    """The child process: `count` fake health ports, the first `hanging` of them never answer;
    sends their port numbers, serves forever."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = [
            await loop.create_server(_Hang if i < hanging else _Answer, "127.0.0.1", 0)
            for i in range(count)
        ]
        pipe.send([s.sockets[0].getsockname()[1] for s in servers])
        await asyncio.Event().wait()

    asyncio.run(main())


class _Count:
    def __init__(self) -> None:
        self.items = 0

    async def put(self, item: Emitted) -> None:
        self.items += 1

    async def flush(self) -> None:
        pass


def _prober(ports: list[int], interval: float) -> KubeProxyProber:
    """One Service whose health port differs per node (each fake is its own port here)."""
    view = ClusterView()
    for i, _ in enumerate(ports):
        view.put_node(NodeInfo(f"node-{i:04d}", (("InternalIP", "127.0.0.1"),)))
    context = SourceContext(
        cluster="bench",
        engine=None,  # type: ignore[arg-type]  # looks only: no store
        clock=lambda: datetime.now(UTC),
        rng=random.Random(1),
        registry=CollectorRegistry(),
        view=view,
        derive=write_facts,
    )
    settings = ProberSettings(interval_s=interval, timeout_s=1.0, proxy_healthz=False)
    return KubeProxyProber(context, settings)


def _targets(prober: KubeProxyProber, ports: list[int]) -> list[Any]:
    out = []
    for port, node in zip(ports, prober.context.view.nodes(), strict=True):
        svc = ServiceInfo("default", "nginx", "Local", port, ())
        out.extend(plan([svc], [node], prober.settings))
    return out


async def scheduled(ports: list[int], interval: float, seconds: float) -> tuple[float, float]:
    prober = _prober(ports, interval)
    targets = _targets(prober, ports)
    # every node its own health port: drive the per-target loops directly
    limit = asyncio.Semaphore(prober.settings.concurrency)
    sink = _Count()
    async with ProbeClient(timeout_s=1.0, concurrency=prober.settings.concurrency) as client:
        origin = asyncio.get_running_loop().time()
        tasks = [
            asyncio.create_task(
                prober._every(client, sink, limit, t, interval, origin + random.random() * interval)
            )
            for t in targets
        ]
        await asyncio.sleep(interval * 2)  # connections open, schedule settled
        looks0, cpu0, wall0 = prober.looks, time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        looks, cpu, wall = (
            prober.looks - looks0,
            time.process_time() - cpu0,
            time.perf_counter() - wall0,
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return looks / wall, cpu / looks


async def flat_out(ports: list[int], seconds: float) -> tuple[float, float]:
    prober = _prober(ports, 1.0)
    targets = _targets(prober, ports)
    done = 0
    async with ProbeClient(timeout_s=1.0, concurrency=256) as client:
        for t in targets:  # warm: one connection per target
            await prober.look(client, t)
        deadline = time.perf_counter() + seconds
        cpu0, wall0 = time.process_time(), time.perf_counter()

        async def worker(offset: int) -> None:
            nonlocal done
            i = offset
            while time.perf_counter() < deadline:
                await prober.look(client, targets[i % len(targets)])
                done += 1
                i += 256

        await asyncio.gather(*(worker(k) for k in range(256)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return done / wall, cpu / done


def baseline(ports: list[int], probes: int, timeout: float = 1.0) -> tuple[float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(probes):
        url = f"http://127.0.0.1:{ports[i % len(ports)]}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                resp.read()
        except OSError:  # a timeout is a probe too (of a hung node)
            pass
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return probes / wall, cpu / probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--baseline-probes", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--hanging", type=int, default=0, help="This many fakes never answer (timeouts)."
    )
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=serve, args=(args.nodes, theirs, args.hanging), daemon=True)
    child.start()
    ports: list[int] = ours.recv()
    results: dict[str, list[tuple[float, float]]] = {
        "scheduled": [],
        "flat out": [],
        "baseline": [],
    }
    try:
        for _ in range(args.repeat):
            results["scheduled"].append(asyncio.run(scheduled(ports, args.interval, args.seconds)))
            results["flat out"].append(asyncio.run(flat_out(ports, args.seconds)))
            results["baseline"].append(baseline(ports, args.baseline_probes))
    finally:
        child.terminate()
    asked = args.nodes / args.interval
    print(f"{args.nodes} fake kube-proxies; scheduled asks {asked:,.0f} probes/s;", end=" ")
    print(f"medians of {args.repeat} (a shared 2-core machine: see the CPU columns)")
    print(f"{'':12}{'probes/s':>12}{'CPU ms/probe':>14}{'probes per CPU-s':>18}")
    medians = {}
    for name, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        medians[name] = (rate, cpu)
        print(f"{name:12}{rate:12,.0f}{cpu * 1000:14.3f}{1 / cpu:18,.0f}")
    base_rate, base_cpu = medians["baseline"]
    for name in ("scheduled", "flat out"):
        rate, cpu = medians[name]
        print(f"{name} / baseline: {rate / base_rate:.1f}x probes/s,", end=" ")
        print(f"{base_cpu / cpu:.1f}x less CPU per probe")


if __name__ == "__main__":
    main()
