"""The test suite's CPU-seconds per test file, trees alternated: what CI's time is made of.

    benchmarks/suite_cpu.py [--rounds 2] [-n 2] [--top 40] [--pg URL] TREE [TREE ...] [-- PATH ...]

On two cores the suite is CPU-bound: its wall falls only when its CPU falls, and CPU-seconds
hold under a shared machine's load far better than wall. Each TREE is a checkout with its own
`.venv` (`git worktree add`, or a `git archive` of a revision with `pip install -e .[test]`: the
venv's editable install decides which code its tests and `gapwatch` subprocesses run). Each
round runs `pytest -n N PATH ...` (default: the whole suite) in every TREE in turn, with a small
plugin that logs, per test (setup, call and teardown), the CPU of the test process
(RUSAGE_SELF) and of the children it waited for (RUSAGE_CHILDREN: `gapwatch` CLI processes,
recorders, servers a fixture stopped), its wall, and the processes it started (`gapwatch`
subcommand by name). The PostgreSQL server's own CPU is not in these figures (its backends are
the server's children; `--pg` names the server, GAPWATCH_TEST_PG otherwise).

Printed per run: the load before and after, the wall, the CPU in all; then per file the median
CPU-seconds of each TREE over the rounds and their ratio to the first TREE's (the baseline,
measured in the same rounds), costliest first, with the processes its tests started.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

PLUGIN = """
import json, os, resource, subprocess, time
import pytest
_started = []
_init = subprocess.Popen.__init__
def _popen(self, args, *a, **kw):
    argv = [args] if isinstance(args, (str, bytes)) else list(args)
    words = [os.path.basename(str(w)) for w in argv[:4]]
    if "-m" in words and words.index("-m") + 1 < len(words):
        words = words[words.index("-m") + 1:]
    name = " ".join(w for w in words[:2] if not w.startswith("-"))
    _started.append("gapwatch " + name.split(" ", 1)[-1] if "gapwatch" in name else name)
    _init(self, args, *a, **kw)
subprocess.Popen.__init__ = _popen
def _cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime
_out = None
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _out
    if _out is None:
        name = os.environ.get("PYTEST_XDIST_WORKER", "main") + ".jsonl"
        _out = open(os.path.join(os.environ["TEST_CPU_DIR"], name), "a", buffering=1)
    del _started[:]
    s, c, w = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.time()
    yield
    _out.write(json.dumps({"id": item.nodeid, "self": _cpu(resource.RUSAGE_SELF) - s,
        "child": _cpu(resource.RUSAGE_CHILDREN) - c, "wall": time.time() - w,
        "started": _started[:]}) + "\\n")
"""


def run(tree: Path, paths: list[str], workers: int, pg: str | None, plugin_dir: Path) -> Path:
    """One pytest run in `tree`; the directory of its per-worker logs."""
    out = Path(tempfile.mkdtemp(prefix="test-cpu-", dir=plugin_dir))
    env = dict(os.environ, TEST_CPU_DIR=str(out), CI="true")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_dir), env.get("PYTHONPATH")]))
    if pg:
        env["GAPWATCH_TEST_PG"] = pg
    load0, t0 = os.getloadavg()[0], time.time()
    done = subprocess.run(
        [str(tree / ".venv/bin/python"), "-m", "pytest", "-p", "test_cpu_plugin", "-q",
         "-n", str(workers), "-p", "no:cacheprovider", *paths],
        cwd=tree, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    tail = lines[-1:] or ["(no output)"]
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    cpu = sum(r["self"] + r["child"] for r in records(out))
    print(
        f"{tree}: exit {done.returncode}, wall {time.time() - t0:.0f} s, CPU {cpu:.0f} s, "
        f"load {load0:.1f} -> {os.getloadavg()[0]:.1f} ({time.strftime('%H:%M:%S', time.gmtime())}"
        f" UTC): {tail[0]}",
        flush=True,
    )
    for line in failed:  # on a loaded machine a timeout's failure is worth naming
        print(f"  {line}")
    return out


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for p in out.glob("*.jsonl") for line in p.read_text().splitlines()]


def per_file(out: Path) -> tuple[dict[str, float], dict[str, Counter[str]]]:
    cpu: dict[str, float] = defaultdict(float)
    started: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records(out):
        name = str(r["id"]).split("::", 1)[0]
        cpu[name] += r["self"] + r["child"]
        started[name].update(r["started"])
    return dict(cpu), dict(started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path, help="checkouts, each with its .venv")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("-n", type=int, default=2, dest="workers", help="xdist workers")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--pg", help="PostgreSQL server URL (default: GAPWATCH_TEST_PG)")
    argv = sys.argv[1:]
    paths = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    scratch = Path(tempfile.mkdtemp(prefix="test-cpu-"))
    (scratch / "test_cpu_plugin.py").write_text(PLUGIN)
    costs: dict[Path, list[dict[str, float]]] = defaultdict(list)
    started: dict[Path, dict[str, Counter[str]]] = {}
    print(f"{os.cpu_count()} CPUs; paths: {' '.join(paths) or 'the whole suite'}")
    for _ in range(args.rounds):
        for tree in args.trees:
            cpu, started[tree] = per_file(
                run(tree.resolve(), paths, args.workers, args.pg, scratch)
            )
            costs[tree].append(cpu)
    base = args.trees[0]
    files = {f for runs in costs.values() for cpu in runs for f in cpu}

    def median(tree: Path, name: str) -> float:
        return statistics.median(cpu.get(name, 0.0) for cpu in costs[tree])

    totals = {t: statistics.median(sum(cpu.values()) for cpu in costs[t]) for t in args.trees}
    print("\nCPU-seconds (median of the rounds): " + ", ".join(
        f"{t} {totals[t]:.0f} ({totals[t] / totals[base]:.2f}x)" for t in args.trees
    ))  # fmt: skip
    for name in sorted(files, key=lambda f: -median(base, f))[: args.top]:
        figures = "  ".join(f"{median(t, name):7.1f}" for t in args.trees)
        ratios = " ".join(
            f"{median(t, name) / median(base, name):.2f}x"
            for t in args.trees[1:]
            if median(base, name)
        )
        runs = ", ".join(f"{k} x{v}" for k, v in started[base].get(name, Counter()).most_common(4))
        print(f"{figures}  {ratios:>6}  {name}  [{runs}]")


if __name__ == "__main__":
    main()
