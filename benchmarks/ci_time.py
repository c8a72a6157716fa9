"""CI's wall time on clean clones, revisions alternated, and where each run's time went.

    benchmarks/ci_time.py [--rounds 2] [--top 30] [--keep DIR] REV [REV ...]

Each round clones every REV of this repository into a fresh directory, in turn, and runs
`CI=true bash .ci/run` there, as CI does. A small pytest plugin (written to a temporary
directory, put on PYTHONPATH, named in PYTEST_ADDOPTS with `--durations=80`) logs when each test
starts and ends on each xdist worker. Printed per run: the wall time, the load average before and
after, when each worker went idle and with which file; then per REV the median wall and its
ratio to the first REV's (the baseline, measured in the same rounds); and per file, the seconds
its tests took (tests/file_costs.py is written from these). Load and the runs' exit codes are
printed beside the figures: on a shared machine read the ratio, never one time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = """
import os, time
_out = None
def _f():
    global _out
    if _out is None:
        name = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _out = open(os.path.join(os.environ["CI_TIME_DIR"], name + ".log"), "a", buffering=1)
    return _out
def pytest_runtest_logstart(nodeid, location):
    _f().write(f"S {time.time():.3f} {nodeid}\\n")
def pytest_runtest_logfinish(nodeid, location):
    _f().write(f"E {time.time():.3f} {nodeid}\\n")
"""

#: (worker, test id, start, end) in Unix seconds
Span = tuple[str, str, float, float]


def spans(timing: Path) -> list[Span]:
    """Every finished test of a run's timing logs."""
    found: list[Span] = []
    for log in sorted(timing.glob("gw*.log")):
        started: dict[str, float] = {}
        for line in log.read_text().splitlines():
            kind, at, nodeid = line.split(" ", 2)
            if kind == "S":
                started[nodeid] = float(at)
            elif nodeid in started:
                found.append((log.stem, nodeid, started.pop(nodeid), float(at)))
    return found


def file_costs(found: list[Span]) -> dict[str, float]:
    """Seconds of each test file's tests, summed (a file runs on one worker: --dist loadfile)."""
    cost: dict[str, float] = defaultdict(float)
    for _worker, nodeid, start, end in found:
        cost[nodeid.split("::", 1)[0]] += end - start
    return dict(cost)


def worker_ends(found: list[Span]) -> list[str]:
    """Per worker: its tests, when it went idle (seconds from the first test) and its last file."""
    t0 = min(s[2] for s in found)
    lines = []
    for worker in sorted({s[0] for s in found}):
        mine = [s for s in found if s[0] == worker]
        last = max(mine, key=lambda s: s[3])
        busy = sum(s[3] - s[2] for s in mine)
        lines.append(
            f"  {worker}: {len(mine)} tests, busy {busy:.0f} s, idle from {last[3] - t0:.0f} s "
            f"(last: {last[1].split('::', 1)[0]})"
        )
    return lines


def run_once(rev: str, out: Path) -> tuple[float, int]:
    """Clone `rev`, run CI there; (wall seconds, exit code). Logs and timing under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gapwatch-ci-time-") as tmp:
        clone = Path(tmp) / "main"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", rev], check=True)
        plugin_dir = Path(tmp) / "plugin"
        plugin_dir.mkdir()
        (plugin_dir / "ci_time_plugin.py").write_text(PLUGIN)
        timing = out / "timing"
        timing.mkdir(exist_ok=True)
        env = dict(
            os.environ,
            CI="true",
            CI_TIME_DIR=str(timing),
            PYTHONPATH=str(plugin_dir),
            PYTEST_ADDOPTS="-p ci_time_plugin --durations=80",
        )
        began = time.monotonic()
        with (out / "log").open("w") as log:
            code = subprocess.run(
                ["bash", ".ci/run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT
            ).returncode
        return time.monotonic() - began, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revs", nargs="+", help="revisions; the first is the baseline")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--top", type=int, default=30, help="files printed per run")
    parser.add_argument("--keep", type=Path, help="keep each run's log and timing here")
    args = parser.parse_args()
    keep = args.keep or Path(tempfile.mkdtemp(prefix="gapwatch-ci-time-out-"))
    walls: dict[str, list[float]] = defaultdict(list)
    for round_ in range(args.rounds):
        order = args.revs if round_ % 2 == 0 else args.revs[::-1]
        for rev in order:
            before = os.getloadavg()
            stamp = time.strftime("%H:%M:%S", time.gmtime())
            wall, code = run_once(rev, keep / f"{rev}-{round_}")
            after = os.getloadavg()
            walls[rev].append(wall)
            print(
                f"{rev} round {round_ + 1} from {stamp} UTC: {wall:.0f} s, exit {code}, "
                f"load {before[0]:.1f} -> {after[0]:.1f} (1-min), cpus {os.cpu_count()}"
            )
            found = spans(keep / f"{rev}-{round_}" / "timing")
            if found:
                print("\n".join(worker_ends(found)))
                costs = sorted(file_costs(found).items(), key=lambda kv: -kv[1])
                for path, cost in costs[: args.top]:
                    print(f"    {cost:7.1f} s  {path}")
    base = statistics.median(walls[args.revs[0]])
    for rev in args.revs:
        median = statistics.median(walls[rev])
        runs = ", ".join(f"{w:.0f}" for w in walls[rev])
        print(f"{rev}: median {median:.0f} s ({runs}), {median / base:.2f}x {args.revs[0]}")
    print(f"logs and timing: {keep}")


if __name__ == "__main__":
    main()
