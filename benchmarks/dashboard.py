"""Benchmark: the rollout page's data and figure for a store of about 1M events.

    /work/.venv/bin/python benchmarks/dashboard.py [--db URL] [--events 1000000] [--runs 5]

Builds (once, then reuses: pass `--db sqlite:////tmp/x.db` to keep it outside the worktree) a
SQLite store of simulated `large` clusters (300 nodes, 12 hours, ~500k events each) until it
holds `--events` events, replays it, then times what the rollout page does on a first load (no
app cache) for the worst rollout: find it, read the lanes of its nodes over its visible range
(the segments projection), build the lane timeline figure, and serialise it as Streamlit sends
it to the browser. Medians of `--runs` runs, next to baselines measured in the same run on the
same store: `SELECT count(*) FROM events`, reading the raw events of the rollout's visible range,
and the old path (fold the Service's whole history, then filter; `--old-runs` runs).
Target (issue 5): rollout page data + figure <= 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, func, select

from gapwatch.dashboard import data, lanes
from gapwatch.dashboard.demo import simulate_into
from gapwatch.dashboard.figures import rank_rollouts
from gapwatch.dashboard.filters import Filters
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.tables import events
from gapwatch.recorder.timefmt import from_micros
from gapwatch.replay import api
from gapwatch.replay.load import load_state
from gapwatch.replay.model import Rollout
from gapwatch.replay.segments import lane_segments

DEFAULT_DB = Path(__file__).resolve().parent / "results" / "dashboard-1m.db"


def find_rollout(engine: Engine, rollout_id: str, filters: Filters) -> Rollout | None:
    """The rollout with this id, as the page would look it up (the time range does not apply)."""
    for r in data.rollouts(engine, filters.with_(since=None, until=None)):
        if r.id == rollout_id:
            return r
    return None


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def build(engine: Engine, target: int) -> None:
    upgrade(engine)
    have, n = count(engine), 0
    while have < target:
        n += 1
        started = time.perf_counter()
        done = simulate_into(engine, "large", f"large-{n}", seed=n)
        have = count(engine)
        print(f"simulated large-{n}: {done.events} events in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    api.refresh(engine)
    print(f"replay refresh: {time.perf_counter() - started:.1f} s; store holds {have} events")


def median_s(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=f"sqlite:///{DEFAULT_DB}")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old-runs", type=int, default=3, help="runs of the old full fold")
    args = parser.parse_args()
    if args.db.startswith("sqlite:///"):
        Path(args.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(args.db)
    build(engine, args.events)
    total = count(engine)
    worst = rank_rollouts(data.rollouts(engine, Filters()))[0]
    print(f"store: {total} events; worst rollout {worst.id} on {len(worst.nodes)} nodes")

    def page_data() -> data.RolloutPage:
        found = find_rollout(engine, worst.id, Filters(cluster=worst.service.cluster))
        assert found is not None
        return data.rollout_page(engine, found)

    def page_figure(page: data.RolloutPage) -> Any:
        return lanes.lane_timeline(page.segments, page.windows, until_us=page.until_us)

    def raw_range() -> int:
        lo, hi = worst.start_us - data.MARGIN_US, worst.end_us + data.MARGIN_US
        query = select(events.c.id, events.c.payload).where(
            events.c.cluster == worst.service.cluster,
            events.c.observed_at >= from_micros(lo),
            events.c.observed_at < from_micros(hi),
        )
        with engine.connect() as conn:
            return len(conn.execute(query).all())

    def old_path() -> list[Any]:
        """Before the segments projection: fold the whole history, keep the page's range."""
        lo, hi = data.visible_range(worst)
        keep = set(worst.nodes)
        return [
            s
            for s in lane_segments(load_state(engine, service=worst.service), worst.service)
            if s.node in keep and s.start_us < hi and (s.end_us is None or s.end_us > lo)
        ]

    first_started = time.perf_counter()
    first_page = page_data()
    first = time.perf_counter() - first_started
    base_count, _ = median_s(lambda: count(engine), args.runs)
    base_raw, raw_rows = median_s(raw_range, args.runs)
    t_data, page = median_s(page_data, args.runs)
    t_fig, fig = median_s(lambda: page_figure(page), args.runs)
    t_json, spec = median_s(lambda: fig.to_json(), args.runs)
    ready = t_data + t_fig
    t_old, old_segments = median_s(old_path, args.old_runs)
    assert old_segments == page.segments == first_page.segments  # same answer as the full fold
    print(f"segments {len(page.segments)}, windows {len(page.windows)}, renderer "
          f"{fig.layout.meta['renderer']}, figure JSON {len(spec) / 1e6:.2f} MB")  # fmt: skip
    print(f"baseline SELECT count(*) FROM events:   {base_count:8.3f} s")
    print(f"baseline raw events of the range ({raw_rows} rows): {base_raw:8.3f} s")
    print(f"rollout page data (find + lanes):       {t_data:8.3f} s")
    print(f"lane timeline figure:                   {t_fig:8.3f} s")
    print(f"figure to JSON (sent to the browser):   {t_json:8.3f} s")
    print(
        f"READY (data + figure): {ready:.3f} s  (target <= 2 s: {'OK' if ready <= 2 else 'MISSED'})"
    )
    print(
        f"ratio vs count(*): {ready / base_count:.1f}x; vs raw range read: {ready / base_raw:.1f}x"
    )
    print(f"first call of the run (data only):      {first:8.3f} s")
    print(f"baseline old path (full fold + filter, {args.old_runs} runs): {t_old:8.3f} s; "
          f"speed-up of the data {t_old / t_data:.0f}x")  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
