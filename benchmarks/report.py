"""Benchmark: `gapwatch report` of one rollout on the 1.1M-event demo store, by advice scope.

    .venv/bin/python benchmarks/report.py [--runs 3] [--rollout ID] [--cache DIR]

The store is what `gapwatch demo --large` builds (benchmarks/large_store.py, cached under
`--cache`). The rollout is the `large` cluster's worst by gap-seconds unless `--rollout` names
one. Each run is the report as the command writes it (`report.collect`, then the Markdown
rendering), in this process, warm (the store's pages cached by the OS after a first run that is
not timed): the default `--advice-over span` (the advice closes the rollout's windows, from the
projections around it; replay.scope) against `--advice-over history` (the baseline: the
Service's whole history replayed per candidate setting, what the report did before), the two
alternated. Also timed on their own: the possible windows' reasons (`api.openness`: the facts
around them, replay.openness_scope, where the store's projections hold the context it reads; a
store replayed by older code folds the Service until `gapwatch replay --rebuild`) and the
span's advice (`api.advise` with both bounds). Prints each one's
median and runs, the ratio to the baseline, and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import large_store
from gapwatch.dashboard import report as report_mod
from gapwatch.dashboard.report_render import to_markdown
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.timefmt import from_micros
from gapwatch.replay import api


def _timed(what: Callable[[], object]) -> float:
    start = time.perf_counter()
    what()
    return time.perf_counter() - start


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rollout", help="A rollout id (default: the worst of cluster large).")
    parser.add_argument("--cache", type=Path, default=large_store.DEFAULT_CACHE)
    args = parser.parse_args()
    url = large_store.sqlite_url(large_store.sqlite_store(args.cache))
    engine = make_engine(url)
    found = api.rollouts(engine, cluster="large")
    if args.rollout is not None:
        rollout = next(r for r in found if r.id.startswith(args.rollout))
    else:
        rollout = max(found, key=lambda r: sum(w.end_us - w.start_us for w in r.windows))
    svc = rollout.service
    lo, hi = from_micros(rollout.start_us), from_micros(rollout.end_us)
    windows = api.windows(engine, service=svc, since=lo, until=hi)

    def report(over: str) -> Callable[[], object]:
        return lambda: to_markdown(report_mod.collect(engine, rollout=rollout.id, advice_over=over))

    steps: dict[str, Callable[[], object]] = {
        "report, advice over the span (default)": report("span"),
        "report, advice over the history (before)": report("history"),
        "  the span's advice alone": lambda: api.advise(engine, svc, since=lo, until=hi),
        "  the possible windows' reasons alone": lambda: api.openness(engine, svc, windows),
    }
    print(f"store {url}; rollout {rollout.id}: {len(windows)} windows, "
          f"{sum(not w.certain for w in windows)} possible")  # fmt: skip
    print(f"load average before: {_load()}")
    report("span")()  # warm: the OS's page cache, the projections refreshed
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.runs):
        for name, step in steps.items():
            times[name].append(_timed(step))
    base = statistics.median(times["report, advice over the history (before)"])
    for name, runs in times.items():
        median = statistics.median(runs)
        shown = ", ".join(f"{x:.2f}" for x in runs)
        print(f"{name:44} median {median:6.2f} s  ({base / median:5.1f}x faster)  [{shown}]")
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
