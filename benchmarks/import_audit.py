"""Audit-log import benchmark: lines/s of the k8s-audit importer vs `json.loads` of the same lines.

    python benchmarks/import_audit.py [--n 200000] [--repeat 3]

The input is a file of audit.k8s.io/v1 events at level RequestResponse, stage ResponseComplete,
each carrying a whole object as `responseObject` (realistic sizes): the simulator's own audit
output (Pods, EndpointSlices, Nodes, Services, ReplicaSets, Deployments, Events) mixed with the
real object dumps of tests/fixtures/importers (a minikube Node, kops Nodes, an EndpointSlice,
kind Services, minikube Pods), every line with its own resourceVersion and stageTimestamp.

Measured in one run, same file, same page cache:
- importer: `recorder.importers.driver.parse_file` (read lines, decode, parse, build the
  observations, count them): everything `gapwatch import k8s-audit` does before the store.
- json.loads: the standard library decoding the same lines, nothing else (the baseline).
- orjson.loads: the decoder the importer uses, alone.

Prints medians of --repeat runs and the ratios. The store is not included: its write rate is
the writer benchmark's (benchmarks/ingest.py).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from gapwatch.recorder.importers import load
from gapwatch.recorder.importers.base import Stats
from gapwatch.recorder.importers.driver import parse_file
from gapwatch.recorder.sim import load_scenario
from gapwatch.recorder.sim.formats import write_format
from gapwatch.recorder.sim.result import Simulation

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "importers"


def _fixture_events() -> list[dict[str, Any]]:
    """Audit events wrapping the real object dumps of the fixtures."""
    objects: list[tuple[str, dict[str, Any]]] = []
    node = json.loads((FIXTURES / "k9s-node-minikube.json").read_text())
    objects.append(("nodes", node))
    for item in json.loads((FIXTURES / "aws-kops-nodelist-2nodes.json").read_text())["items"]:
        objects.append(("nodes", dict(item, kind="Node")))
    objects.append(
        ("endpointslices", json.loads((FIXTURES / "k9s-endpointslice-v1.json").read_text()))
    )
    for svc in json.loads(
        (FIXTURES / "kubelb-kind-services-lb-local-healthchecknodeport.json").read_text()
    ):
        objects.append(("services", svc))
    for line in (FIXTURES / "falco-k8s-audit-minikube-2018.jsonl").read_text().splitlines():
        event = json.loads(line)
        pod = event.get("responseObject")
        if isinstance(pod, dict) and event["objectRef"]["resource"] == "pods":
            objects.append(("pods", pod))
    out = []
    for resource, obj in objects:
        meta = obj["metadata"]
        out.append({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
            "auditID": "x", "stage": "ResponseComplete", "verb": "update",
            "requestURI": f"/api/v1/{resource}/{meta['name']}",
            "user": {"username": "system:node:bench"},
            "objectRef": {"resource": resource, "namespace": meta.get("namespace"),
                          "name": meta["name"], "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": 200},
            "responseObject": obj,
            "requestReceivedTimestamp": "2026-11-25T09:00:00.000000Z",
            "stageTimestamp": "2026-11-25T09:00:00.000000Z",
        })  # fmt: skip
    return out


def _sim_events() -> list[dict[str, Any]]:
    out = io.StringIO()
    write_format(Simulation(load_scenario("seed-3node"), 1), "k8s-audit", out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def write_input(path: Path, n: int) -> tuple[int, int]:
    """Write n audit lines; returns (lines, bytes)."""
    pool = _sim_events() + _fixture_events()
    size = 0
    with path.open("wb") as out:
        for i in range(n):
            event = dict(pool[i % len(pool)])
            obj = dict(event["responseObject"])
            obj["metadata"] = dict(obj["metadata"], resourceVersion=str(1_000_000 + i))
            event["responseObject"] = obj
            event["auditID"] = f"bench-{i}"
            event["stageTimestamp"] = f"2026-11-25T09:{(i // 600_000) % 60:02d}:" \
                f"{(i // 10_000) % 60:02d}.{i % 10_000:06d}Z"  # fmt: skip
            line = orjson.dumps(event) + b"\n"
            size += len(line)
            out.write(line)
    return n, size


def importer(path: Path) -> int:
    fmt = load("k8s-audit")
    count = sum(1 for _ in parse_file(fmt, str(path), "bench", Stats()))
    return count


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def stdlib(path: Path) -> int:
    return sum(1 for line in _lines(path) if json.loads(line))


def orjson_only(path: Path) -> int:
    return sum(1 for line in _lines(path) if orjson.loads(line))


def timed(fn: Callable[[Path], int], path: Path, repeat: int) -> tuple[float, float, int]:
    """Median wall-clock and CPU seconds of `repeat` runs (CPU time is what a shared machine
    distorts least), and the count the last run returned."""
    walls, cpus = [], []
    count = 0
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        count = fn(path)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.log"
        lines, size = write_input(path, args.n)
        print(f"{lines} lines, {size / lines:.0f} bytes/line on average")
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        runs = (("importer", importer), ("json.loads", stdlib), ("orjson.loads", orjson_only))
        for name, fn in runs:
            wall_s, cpu_s, count = timed(fn, path, args.repeat)
            wall[name], cpu[name] = lines / wall_s, lines / cpu_s
            print(
                f"{name:13s} median of {args.repeat}: wall {wall_s:.3f} s "
                f"{wall[name]:>9,.0f} lines/s; CPU {cpu_s:.3f} s {cpu[name]:>9,.0f} lines/s "
                f"({count})"
            )
        for base in ("json.loads", "orjson.loads"):
            print(
                f"importer / {base}: wall {wall['importer'] / wall[base]:.2f}, "
                f"CPU {cpu['importer'] / cpu[base]:.2f}"
            )


if __name__ == "__main__":
    main()
