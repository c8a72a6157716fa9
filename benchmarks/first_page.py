"""Benchmark: the dashboard's cold start, a fresh process until its first page (Overview) is drawn.

Each run is a new Python process that imports Streamlit's AppTest, runs `dashboard/app.py` on
the store (`--db`, default the demo's `gapwatch-demo.db`: `gapwatch demo --build-only` builds
it) and checks the page drew without an exception: what a user waits for on `gapwatch
dashboard`'s first page, past Streamlit's server start (the same for every revision). The
baseline is another revision of this repository (`--baseline`, default `main`), checked out in
a temporary worktree and imported instead of this one (PYTHONPATH before the editable install);
runs alternate baseline / this tree, so the machine's load hits both alike. Prints each run's
wall time, the medians and their ratio, with the load average.

    .venv/bin/python benchmarks/first_page.py [--db URL] [--runs 5] [--baseline REV] [--imports]

`--imports` times only the import of the app's own modules (dashboard.cache, nav, filters) in
each fresh process, past Streamlit, pandas and Plotly.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("recorder", "replay", "dashboard", "migrations")
CHILD = """
import os, sys
from streamlit.testing.v1 import AppTest
import gapwatch.dashboard as d
at = AppTest.from_file(os.path.join(os.path.dirname(d.__file__), "app.py"), default_timeout=300)
at.run()
if at.exception:
    sys.exit(f"the page failed: {at.exception[0].message}")
print(d.__file__)
"""
#: `--imports`: the app's own modules alone, past Streamlit, pandas and Plotly (seconds printed)
IMPORTS = """
import time
import streamlit, pandas, plotly.graph_objects
start = time.perf_counter()
import gapwatch.dashboard.cache, gapwatch.dashboard.nav, gapwatch.dashboard.filters
took = time.perf_counter() - start
import gapwatch.dashboard as d
print(took)
print(d.__file__)
"""


def _baseline_tree(rev: str, scratch: Path) -> Path:
    """A PYTHONPATH directory whose `gapwatch` package is revision `rev` of this repository."""
    tree = scratch / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
        check=True, capture_output=True,
    )  # fmt: skip
    pkg = scratch / "path" / "gapwatch"
    pkg.mkdir(parents=True)
    for name in PACKAGES:
        (pkg / name).symlink_to(tree / name)
    return scratch / "path"


def _run(db: str, path: Path | None, imports: bool = False) -> float:
    env = {**os.environ, "GAPWATCH_DB": db}
    if path is not None:
        env["PYTHONPATH"] = str(path)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS if imports else CHILD],
        env=env, capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    where = done.stdout.strip().splitlines()[-1]
    expect = str(path) if path is not None else str(ROOT)
    assert expect in where, (expect, where)  # the revision meant was the one imported
    return float(done.stdout.split()[-2]) if imports else took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=f"sqlite:///{Path('gapwatch-demo.db').resolve()}")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--imports", action="store_true", help="time our modules' import only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="first-page-") as tmp:
        scratch = Path(tmp)
        path = _baseline_tree(args.baseline, scratch)
        try:
            _run(args.db, path), _run(args.db, None)  # warm the page cache, not measured
            base: list[float] = []
            mine: list[float] = []
            for i in range(args.runs):
                base.append(_run(args.db, path, args.imports))
                mine.append(_run(args.db, None, args.imports))
                print(f"run {i + 1}: {args.baseline} {base[-1]:.2f} s, this tree {mine[-1]:.2f} s"
                      f" (load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(scratch / "tree")],
                check=False, capture_output=True,
            )  # fmt: skip
    b, m = statistics.median(base), statistics.median(mine)
    what = "our imports" if args.imports else "first page"
    print(f"{what}, median of {args.runs}: {args.baseline} {b:.2f} s, this tree {m:.2f} s, "
          f"ratio {m / b:.2f} (cpus {os.cpu_count()}, load {os.getloadavg()})")  # fmt: skip


if __name__ == "__main__":
    main()
