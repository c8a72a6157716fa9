"""Benchmark: every dashboard page, driven by Streamlit's AppTest, on the 1.1M-event demo store.

    .venv/bin/python benchmarks/dashboard.py [--runs 3] [--pg URL | --pg-start] [--cache DIR]

The store is what `gapwatch demo --large` builds (benchmarks/large_store.py: built once per
preset and seed under `--cache`, then reused; on PostgreSQL imported from it into a database of
the server given by `--pg`, or of a server with the default durability settings that
`--pg-start` starts under `--cache` and stops at the end).

Each page is opened as a user opens it (URL query parameters, then one script run), the
what-if page also with a control moved; then the page is run again `--runs` times, as a reload
would. Every timed run is warm (the app is started and the page was opened once: the OS and
database caches are warm) but computes its answer: the app's caches (`st.cache_data`,
`st.cache_resource`) are cleared before each. The what-if page opens on the worst rollout (its
default scope); "whole range" on this store folds the Service's 24 hours and is not timed here.
Last, the preStop slider is moved on an open what-if page with the app's caches kept (what a
user waits for between two values). Prints, per backend, each page's median and worst of
`--runs` runs, the load average before and after, and the limit (2 s, issue 15).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st
from streamlit.testing.v1 import AppTest

from benchmarks import large_store
from gapwatch.dashboard import data
from gapwatch.dashboard.figures import rank_rollouts
from gapwatch.dashboard.filters import Filters
from gapwatch.recorder.store import make_engine

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
LIMIT_S = 2.0
#: AppTest's per-run timeout: generous, so a slow page is measured rather than cut off
TIMEOUT_S = 600


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    params: dict[str, str]
    #: what the user does after the first run (None: nothing, the first run is timed)
    then: Callable[[AppTest], AppTest] | None = None


def _prestop_30(at: AppTest) -> AppTest:
    return at.select_slider(key="whatif-prestop_s").set_value(30).run()


def pages(url: str) -> list[Page]:
    engine = make_engine(url)
    try:
        worst = rank_rollouts(data.rollouts(engine, Filters(cluster="large")))[0]
    finally:
        engine.dispose()
    one = {"cluster": "large", "rollout": worst.id}
    return [
        Page("overview (all clusters)", {"page": "overview"}),
        Page("overview (large)", {"page": "overview", "cluster": "large"}),
        Page("rollout (worst)", {"page": "rollout", **one}),
        Page("what-if (worst rollout)", {"page": "whatif", **one}),
        Page("what-if, preStop 30 s", {"page": "whatif", **one}, _prestop_30),
        Page("sql console", {"page": "sql"}),
    ]


def _cold_app_caches() -> None:
    """Nothing the app computed survives: every timed run reads and computes its answer."""
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(url: str, page: Page) -> AppTest:
    """A user opening the page (and acting, when the page says so): the app started."""
    os.environ["GAPWATCH_DB"] = url
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    for k, v in page.params.items():
        at.query_params[k] = v
    at.run()
    if page.then is not None:
        at = page.then(at)
    _check(page, at)
    return at


def rerun(page: Page, at: AppTest) -> float:
    """One more run of the opened page (a reload, or the control moved again): seconds."""
    _cold_app_caches()
    started = time.perf_counter()
    at.run()
    took = time.perf_counter() - started
    _check(page, at)
    return took


def _check(page: Page, at: AppTest) -> None:
    if at.exception:
        raise SystemExit(f"{page.name}: {[e.value for e in at.exception]}")


#: preStop values the interactive measurement moves the slider through (each a new what-if)
SLIDER_STOPS = (45, 60, 90, 120, 15)
INTERACTIVE = "what-if, slider moved (app caches kept)"


def slider_moves(url: str, rollout_params: dict[str, str], runs: int) -> list[float]:
    """What a user waits for when moving the preStop slider on an open what-if page: the
    app's caches are kept (the scope and the advice were computed when the page opened), the
    what-if for the new value is computed. Seconds, per move."""
    page = Page(INTERACTIVE, {"page": "whatif", **rollout_params})
    at = open_page(url, page)
    times = []
    for value in SLIDER_STOPS[:runs]:
        slider = at.select_slider(key="whatif-prestop_s").set_value(value)
        started = time.perf_counter()
        at = slider.run()
        times.append(time.perf_counter() - started)
        _check(page, at)
    return times


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(url: str, runs: int) -> dict[str, tuple[float, float]]:
    """Per page: (median, worst) seconds of `runs` runs."""
    out: dict[str, tuple[float, float]] = {}
    listed = pages(url)
    print(f"  {_load()}", flush=True)
    for page in listed:
        at = open_page(url, page)  # warm-up: the first run also loads Streamlit's components
        times = [rerun(page, at) for _ in range(runs)]
        out[page.name] = (statistics.median(times), max(times))
        print(f"  {page.name:40s} {out[page.name][0]:7.3f} s  worst {max(times):.3f}", flush=True)
    moves = slider_moves(url, listed[-2].params | {"page": "whatif"}, runs)
    out[INTERACTIVE] = (statistics.median(moves), max(moves))
    print(f"  {INTERACTIVE:40s} {out[INTERACTIVE][0]:7.3f} s  worst {max(moves):.3f}")
    print(f"  {_load()}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=large_store.DEFAULT_CACHE)
    parser.add_argument("--pg", help="a PostgreSQL server URL (its durability as configured)")
    parser.add_argument(
        "--pg-start", action="store_true", help="start a throwaway default-durability server"
    )
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    source = large_store.sqlite_store(args.cache, seed=args.seed)
    results: dict[str, dict[str, tuple[float, float]]] = {}
    if not args.no_sqlite:
        url = large_store.sqlite_url(source)
        print(f"SQLite {source}: {large_store.count(make_engine(url))} events")
        results["SQLite"] = measure(url, args.runs)
    server = args.pg
    root = None
    if args.pg_start:
        from tests import pgserver

        root = args.cache / "pg-durable"  # kept: the imported store is reused next time
        server = pgserver.start(root, durable=True)
    try:
        if server:
            url = large_store.postgres_store(server, source, seed=args.seed)
            print(f"PostgreSQL: {large_store.count(make_engine(url))} events")
            results["PostgreSQL"] = measure(url, args.runs)
    finally:
        if root is not None:
            from tests import pgserver

            pgserver.stop(root)
    backends = list(results)
    heads = " | ".join(f"{b} s (median / worst)" for b in backends)
    print(f"\npage | {heads}  ({args.runs} runs each, warm)")
    for name in next(iter(results.values()), {}):
        cells = [f"{results[b][name][0]:.2f} / {results[b][name][1]:.2f}" for b in backends]
        median = max(results[b][name][0] for b in backends)
        worst = max(results[b][name][1] for b in backends)
        verdict = "OK" if worst <= LIMIT_S else "median OK" if median <= LIMIT_S else "MISSED"
        print(f"{name} | {' | '.join(cells)} | {verdict}")


if __name__ == "__main__":
    main()
