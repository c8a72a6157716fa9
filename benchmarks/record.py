"""Benchmark: the recorder watching a big cluster in the fake API, writing to PostgreSQL.

    /work/.venv/bin/python benchmarks/record.py [--seconds 20] [--scale 1.0] [--pg URL]

The fake serves 5,000 Nodes (the real kops node), 50,000 Pods and 10,000 EndpointSlices (x scale).
`gapwatch record` runs as its own process (so its RSS is its own) against a fresh database. After
the initial LIST it drives changes at a baseline rate (200/s) and then at 2,000/s, and measures,
per change, the time from the fake first writing it to a watch stream to the row being committed
(NOTIFY after each batch's commit, then the batch's resourceVersions). Prints p50/p99 per rate,
the ratio of the loaded p99 to the baseline p99, peak and final RSS, and the targets (RSS <= 200
MB, p99 <= 500 ms at 2,000 changes/s). Starts its own PostgreSQL unless --pg names a server.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.server import machine, rss_kb  # noqa: E402
from gapwatch.recorder.store import make_engine, upgrade  # noqa: E402
from tests import pgserver  # noqa: E402
from tests.k8s import objects  # noqa: E402
from tests.k8s.fakeapi import FakeApiServer  # noqa: E402
from tests.k8s.harness import record_process  # noqa: E402


def make_pod(i: int, nodes: int) -> dict[str, Any]:
    pod = objects.pod("shop", f"web-{i}", f"node-{i % nodes}", {"app": "web", "tier": "edge"})
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": "u-1"}
    ]
    pod["metadata"]["labels"]["pod-template-hash"] = "7d9f"
    pod["spec"]["containers"][0].update(
        ports=[{"containerPort": 8080, "protocol": "TCP"}],
        resources={"requests": {"cpu": "100m", "memory": "128Mi"}},
        lifecycle={"preStop": {"exec": {"command": ["sleep", "15"]}}},
    )
    pod["status"].update(
        podIP=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
        hostIP="10.0.0.1",
        startTime="2026-11-25T10:00:00Z",
        containerStatuses=[
            {"name": "app", "ready": True, "restartCount": 0, "image": "envoy", "started": True}
        ],
    )
    return pod


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def watch_commits(dsn: str, stop: Any, out: Any) -> None:
    """In its own process (the benchmark's GIL must not delay it): LISTEN for the writer's NOTIFY
    and stamp each newly committed resourceVersion with the time the notification arrived."""
    committed: dict[int, float] = {}
    last = 0
    with (
        psycopg.connect(dsn, autocommit=True) as conn,
        psycopg.connect(dsn, autocommit=True) as reader,
    ):
        conn.execute("LISTEN gapwatch_events")
        while not stop.is_set():
            for _ in conn.notifies(timeout=0.1, stop_after=1):
                now = time.time()
                rows = reader.execute(
                    "SELECT id, resource_version FROM events WHERE id > %s", (last,)
                ).fetchall()
                for row_id, rv in rows:
                    last = max(last, row_id)
                    committed.setdefault(int(rv), now)
            if out.empty() and stop.is_set():
                break
    out.put(committed)


class CommitWatcher:
    """Runs watch_commits in a child process between start() and finish()."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.committed: dict[int, float] = {}

    def start(self) -> None:
        stop = multiprocessing.Event()
        out: multiprocessing.Queue[dict[int, float]] = multiprocessing.Queue()
        child = multiprocessing.Process(target=watch_commits, args=(self.dsn, stop, out))
        child.start()
        self._child = (child, stop, out)
        time.sleep(0.5)  # LISTEN is in place before changes start

    def finish(self) -> dict[int, float]:
        child, stop, out = self._child
        stop.set()
        committed: dict[int, float] = out.get(timeout=30)
        child.join(10)
        self.committed.update(committed)
        return committed


def drive(fake: FakeApiServer, rate: int, seconds: float, sizes: dict[str, int]) -> list[int]:
    """Apply `rate` changes per second for `seconds`; returns their resourceVersions."""
    rng = random.Random(rate)
    rvs: list[int] = []
    start = time.monotonic()
    tick = 0.01
    n = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) - n
        for _ in range(max(due, 0)):
            n += 1
            roll = rng.random()
            if roll < 0.6:
                kind, name, ns = "Pod", f"web-{rng.randrange(sizes['Pod'])}", "shop"
            elif roll < 0.9:
                kind, name, ns = (
                    "EndpointSlice",
                    f"gw-{rng.randrange(sizes['EndpointSlice'])}",
                    "shop",
                )
            else:
                kind, name, ns = "Node", f"node-{rng.randrange(sizes['Node'])}", None
            obj = fake.get(kind, ns, name)
            obj["metadata"].setdefault("labels", {})["bench/rev"] = str(n)
            rvs.append(fake.update(kind, obj))
        time.sleep(tick)
    return rvs


def wait_committed(dsn: str, rvs: list[int], timeout: float = 60.0) -> None:
    """Until every change in `rvs` has a row (each is a distinct, recorded change)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            count = conn.execute(
                "SELECT count(*) FROM events WHERE resource_version = ANY(%s)",
                ([str(rv) for rv in rvs],),
            ).fetchone()
            if count is not None and count[0] >= len(set(rvs)):
                return
            time.sleep(0.1)
    raise SystemExit(f"not every change was committed within {timeout} s")


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="loaded phase length")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the cluster size")
    parser.add_argument("--pg", help="a PostgreSQL server URL (default: start one)")
    args = parser.parse_args()

    sizes = {
        "Node": int(5000 * args.scale),
        "Pod": int(50000 * args.scale),
        "EndpointSlice": int(10000 * args.scale),
    }
    root = None
    server = args.pg
    if server is None:
        root = Path(tempfile.mkdtemp(prefix="gapwatch-bench-", dir="/tmp"))
        server = pgserver.start(root, durable=True)  # a benchmark measures a real server
    server_line = machine(server)
    name = "bench_" + uuid.uuid4().hex[:8]
    admin = make_url(server).set(drivername="postgresql", database="postgres")
    admin_dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    db = make_url(server).set(database=name).render_as_string(hide_password=False)
    dsn = make_url(db).set(drivername="postgresql").render_as_string(hide_password=False)
    engine = make_engine(db)
    upgrade(engine)
    engine.dispose()
    proc = None
    config_dir = Path(tempfile.mkdtemp(prefix="gapwatch-bench-cfg-"))
    try:
        with FakeApiServer(bookmark_interval=1.0) as fake:
            node = objects.node(0)
            fake.load(
                "Node",
                (
                    {**copy.deepcopy(node), "metadata": {**node["metadata"], "name": f"node-{i}"}}
                    for i in range(sizes["Node"])
                ),
            )
            fake.load("Pod", (make_pod(i, sizes["Node"]) for i in range(sizes["Pod"])))
            fake.load(
                "EndpointSlice",
                (
                    objects.endpoint_slice(
                        "shop", f"gw-{i}", "gateway", f"node-{i % sizes['Node']}"
                    )
                    for i in range(sizes["EndpointSlice"])
                ),
            )
            port = pgserver.free_port()
            config = config_dir / "record.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "cluster": "bench",
                        "scope": "all",
                        "kinds": ["Node", "Pod", "EndpointSlice"],
                    }
                )
            )
            started = time.monotonic()
            proc = record_process(config, db=db, api=fake.url, port=port, stderr=subprocess.DEVNULL)
            while not ready(port):
                assert proc.poll() is None, "the recorder exited"
                time.sleep(0.1)
            # The initial LIST is committed when a marker change made after it is.
            marker = drive(fake, 10, 0.2, sizes)
            wait_committed(dsn, marker)
            sync_s = time.monotonic() - started
            rss_synced, hwm_synced = rss_kb(proc.pid)
            results: dict[int, tuple[float, float, int, float]] = {}
            cpu: dict[int, float] = {}
            for rate, seconds in ((200, args.baseline_seconds), (args.rate, args.seconds)):
                watcher = CommitWatcher(dsn)
                watcher.start()
                t0, c0 = time.monotonic(), cpu_s(proc.pid)
                rvs = drive(fake, rate, seconds, sizes)
                wall = time.monotonic() - t0
                achieved = len(rvs) / wall
                cpu[rate] = (cpu_s(proc.pid) - c0) / wall
                wait_committed(dsn, rvs)
                committed = watcher.finish()
                lat = [
                    committed[rv] - fake.served_at[rv]
                    for rv in rvs
                    if rv in committed and rv in fake.served_at
                ]
                missing = len(rvs) - len(lat)
                p50, p99 = percentiles(lat)
                results[rate] = (p50, p99, missing, achieved)
            rss_end, hwm_end = rss_kb(proc.pid)

    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(config_dir, ignore_errors=True)
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if root is not None:
            pgserver.stop(root)
            shutil.rmtree(root, ignore_errors=True)

    base_p50, base_p99, _, _ = results[200]
    p50, p99, missing, achieved = results[args.rate]
    report = {
        "server": server_line,
        "cluster": sizes,
        "initial_sync_s": round(sync_s, 1),
        "rss_mb_after_sync": round(rss_synced / 1024, 1),
        "rss_mb_end": round(rss_end / 1024, 1),
        "rss_mb_peak": round(max(hwm_synced, hwm_end) / 1024, 1),
        "baseline_200_per_s": {
            "p50_ms": round(base_p50 * 1000, 1),
            "p99_ms": round(base_p99 * 1000, 1),
        },
        f"loaded_{args.rate}_per_s": {
            "achieved_per_s": round(achieved),
            "p50_ms": round(p50 * 1000, 1),
            "p99_ms": round(p99 * 1000, 1),
            "not_committed": missing,
            "recorder_cpu_cores": round(cpu[args.rate], 2),
        },
        "p99_ratio_loaded_to_baseline": round(p99 / base_p99, 2) if base_p99 else None,
        "targets": {
            "rss_peak_le_200_mb": max(hwm_synced, hwm_end) / 1024 <= 200,
            "p99_le_500_ms": p99 <= 0.5,
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
