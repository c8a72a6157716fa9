"""Benchmark: one dashboard page's CPU, client and server, run after run (issue 15 on a loaded
machine, where a page's wall says more about the load than about the page).

    .venv/bin/python benchmarks/page_cpu.py --db URL --page overview [--runs 5]
        [--cluster C] [--rollout ID] [--pg-data DIR]

The page is opened under Streamlit's AppTest, then run `--runs` times with the app's caches
cleared before each (as benchmarks/dashboard.py's timed runs). Per run, one JSON line: wall,
this process's CPU (the page's Python: the script runs in a thread of it), the CPU of every
process under the PostgreSQL server whose data directory `--pg-data` names (its postmaster's
children, from /proc: the backends that answered, and anything else the server ran meanwhile),
the statements the page sent, the load average. To compare two revisions, run each from its
own checkout (or a `git archive` on PYTHONPATH, benchmarks/README.md "Session 27") on a store
its own code built, alternated, and compare medians.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy
import streamlit as st
from sqlalchemy import event
from streamlit.testing.v1 import AppTest

import gapwatch.dashboard

APP = str(Path(gapwatch.dashboard.__file__).resolve().parent / "app.py")
_TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(postmaster: int) -> dict[int, float]:
    """CPU seconds of each process whose parent is `postmaster`."""
    out: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == postmaster:
            out[int(entry)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--page", default="overview")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cluster")
    parser.add_argument("--rollout")
    parser.add_argument("--pg-data", type=Path, help="the server's data directory")
    args = parser.parse_args()
    params = {"page": args.page, "cluster": args.cluster, "rollout": args.rollout}
    postmaster = None
    if args.pg_data is not None:
        postmaster = int((args.pg_data / "postmaster.pid").read_text().split()[0])
    sent = [0]

    @event.listens_for(sqlalchemy.engine.Engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        sent[0] += 1

    os.environ["GAPWATCH_DB"] = args.db
    at = AppTest.from_file(APP, default_timeout=600)
    for key, value in params.items():
        if value:
            at.query_params[key] = value
    at.run()  # opened: the app started, the store refreshed, Streamlit's components loaded
    if at.exception:
        raise SystemExit(str([e.value for e in at.exception]))
    for _ in range(args.runs):
        st.cache_data.clear()
        st.cache_resource.clear()
        sent[0] = 0
        before = server_cpu(postmaster) if postmaster else {}
        cpu, wall = time.process_time(), time.perf_counter()
        at.run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = server_cpu(postmaster) if postmaster else {}
        server = sum(v - before.get(pid, 0.0) for pid, v in after.items())
        if at.exception:
            raise SystemExit(str([e.value for e in at.exception]))
        line = {"page": args.page, "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
                "server_cpu_s": round(server, 3) if postmaster else None,
                "statements": sent[0], "load": round(os.getloadavg()[0], 1)}  # fmt: skip
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
