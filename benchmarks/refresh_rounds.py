"""Does the refresh's cost grow round by round? replay.py's 1M-event store, a rebuild seeding the
checkpoint, then rounds of replay.py's 1,000 new probe/LB events refreshed from it (a new engine
each, as `replay.py --refresh-only`), each round's refresh timed: wall, the thread's CPU and its
wait for a CPU (/proc/thread-self/schedstat), and the CPU of the two steps that read a moved
node's history (`node_cache.windows`, `segments.lane_segments`), of two parts of the first (each
moved node's R and F, `Found.find`; the instant its kept windows stand before, `_since`), and of
the whole segments step
(the moved lanes' rows found, diffed and written: `lane_segments`, `segment_rows` and the
writes as projections calls them, and `segment_tail.tails` where the code has it), and outside
`node_cache.windows` the rows' steps (`node_rows._count`, `_group`, `node_lags`,
`write_changes`) and the cluster's values (`checkpoint.cluster_values`); and the cyclic GC's
collections that ran inside the refresh (their CPU, `gc.callbacks`), with the collections of
each generation over all rounds (inside the refresh or not) and their CPU.

    GAPWATCH_TEST_PG=URL benchmarks/refresh_rounds.py [--rounds 7] [--base DB] [--checkpoint-at N,M]
        [--metrics-every S]

`--metrics-every S`: each round also writes kube-proxy metrics scrapes of the Service's 20
nodes every S s over the round's hour (replay.py's `metrics_scrapes`; the base has none), so a
moved node's metrics lane grows round by round as a scraped cluster's does (S=30: 120 looks a
node a round, 12,000 by round 100, about four days of scrapes).

`--checkpoint-at`: after the rebuild (0) and after those rounds, the checkpoint saved to a file
and loaded as `gapwatch replay` does (replay.checkpoint_file, under a temporary
GAPWATCH_CHECKPOINT_DIR; the load checks the store's fingerprint), its size and each step's time
printed (the median of 3), with what a node's carried trails weigh that the file leaves out
(`NodeWindows.found`, pickled apart) and the facts the store holds.

Without `--base` it builds the store and keeps it (its name printed: pass it as `--base` to
the next run); each run refreshes a `CREATE DATABASE ... TEMPLATE` copy, dropped after. Run
main's code on the same base with a `git archive` of it first on PYTHONPATH (benchmarks/README.md,
"Session 27") to alternate the two.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy.engine import make_url

from benchmarks import replay as bench
from gapwatch.recorder.dburl import store_key
from gapwatch.recorder.store import make_engine
from gapwatch.replay import checkpoint as checkpoint_mod
from gapwatch.replay import checkpoint_file, node_cache, node_rows, projections, segments
from gapwatch.replay import lanes as lanes_mod
from gapwatch.replay.checkpoint import Checkpoint


def _schedstat() -> tuple[int, int]:
    """This thread's time on a CPU and waiting for one, in ns."""
    with open("/proc/thread-self/schedstat") as f:
        run, wait, _ = f.read().split()
    return int(run), int(wait)


#: F's parts, each the names `lanes.serves_signal` calls them by (in replay.lanes), timed where
#: `serves_signal` or `lanes.lanes` calls them (the rest of each is its own combining: `t_and`,
#: `minus_definite`, ...)
F_PARTS: dict[str, tuple[str, ...]] = {
    "steps": ("steps_from_samples",),
    "tri": ("tri_from_steps",),
    "endpoints": ("endpoint_steps", "alive_steps"),
    "observed": ("observed",),
    "combining": ("t_and", "t_or", "t_not", "minus_definite", "intersect", "complement"),
    "syncs": ("index_looks", "indexed", "quiet_spans", "synced_on", "by_sync", "_ready_times"),
    "excursions": ("excursions",),
    "deaths": ("died_unprogrammed", "dead_first"),
    "silence": ("_unconfirmed_silence", "_silent_down", "unconfirmed_carried", "changed_since"),
    "restarts": ("restart_carried",),
    "pods up": ("pods_up", "node_gone_steps"),
    "inferred": ("_inferred_serves", "_gate_doubt", "forwarded_to_none"),
}


#: F as node_cache calls it (`serves_carried` carries its probed lane on, replay.lane_tail)
F_NAME = "serves_carried" if hasattr(node_cache, "serves_carried") else "serves_signal"


class Rounds:
    """Each refresh's wall, CPU and wait (ms), and its steps' CPU (ms)."""

    def __init__(self) -> None:
        self.in_f = False
        self.depth = 0
        self.rows: list[tuple[float, float, float]] = []
        self.steps: dict[str, list[float]] = {
            "windows": [],
            "R and F": [],
            "suffix": [],
            "F": [],
            **{f"F: {part}": [] for part in F_PARTS},
            "lanes": [],
            **{f"lanes: {part}": [] for part in F_PARTS},
            "R and not F": [],
            "windows_from": [],
            "finished": [],
            "segments": [],
            "segment step": [],
            "count": [],
            "group": [],
            "node lags": [],
            "row changes": [],
            "cluster values": [],
            "collections": [],
        }
        #: per generation: collections over all rounds (in the refresh or not) and their CPU
        self.collected: dict[int, list[float]] = {}
        self.gc_started = 0.0
        self.in_refresh = False
        self.counting = False

    def heard(self, phase: str, info: dict[str, Any]) -> None:
        """gc.callbacks: each collection's CPU, under `collections` inside a refresh."""
        if phase == "start":
            self.gc_started = time.thread_time()
            return
        ms = (time.thread_time() - self.gc_started) * 1e3
        if self.counting:
            n_ms = self.collected.setdefault(info["generation"], [0, 0.0])
            n_ms[0] += 1
            n_ms[1] += ms
        if self.in_refresh and self.steps["collections"]:
            self.steps["collections"][-1] += ms

    def wrap_refresh(self, f: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            for key in self.steps:
                self.steps[key].append(0.0)
            _run0, wait0 = _schedstat()
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            self.in_refresh = True
            try:
                out = f(*args, **kwargs)
            finally:
                self.in_refresh = False
            _run1, wait1 = _schedstat()
            cpu1, wall1 = time.thread_time(), time.perf_counter()
            self.rows.append(((wall1 - wall0) * 1e3, (cpu1 - cpu0) * 1e3, (wait1 - wait0) / 1e6))
            return out

        return timed

    def wrap_part(self, part: str, f: Callable[..., Any]) -> Callable[..., Any]:
        """A part of F's, timed under F's key within `serves_signal`, else under `lanes`'."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.depth:
                return f(*args, **kwargs)  # called by another part: that one's time
            key = f"F: {part}" if self.in_f else f"lanes: {part}"
            self.depth += 1
            cpu0 = time.thread_time()
            try:
                return f(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.steps[key]:
                    self.steps[key][-1] += (time.thread_time() - cpu0) * 1e3

        return timed

    def wrap_f(self, f: Callable[..., Any]) -> Callable[..., Any]:
        def inside(*args: Any, **kwargs: Any) -> Any:
            self.in_f = True
            try:
                return f(*args, **kwargs)
            finally:
                self.in_f = False

        return inside

    def wrap_step(self, key: str, f: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            cpu0 = time.thread_time()
            out = f(*args, **kwargs)
            if self.steps[key]:
                self.steps[key][-1] += (time.thread_time() - cpu0) * 1e3
            return out

        return timed


def _copy(server: str, base: str) -> str:
    name = "rounds_" + uuid.uuid4().hex[:8]
    with psycopg.connect(bench._dsn(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE {name} TEMPLATE "{base}"')
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _checkpoint_costs(url: str, checkpoint: Checkpoint, after: int) -> None:
    """Save the checkpoint to a file and load it back (3 times each), as `gapwatch replay`
    does; print its size, the times and the carried trails the file leaves out."""
    engine = make_engine(url)
    checkpoint.url = store_key(engine.url)
    saves, loads = [], []
    with tempfile.TemporaryDirectory(prefix="s-checkpoint-") as where:
        os.environ["GAPWATCH_CHECKPOINT_DIR"] = where
        try:
            for _ in range(3):
                t0 = time.perf_counter()
                checkpoint_file.save(engine, checkpoint)
                t1 = time.perf_counter()
                loaded = checkpoint_file.load(engine)
                t2 = time.perf_counter()
                if loaded.event_id != checkpoint.event_id:
                    sys.exit("the saved checkpoint did not load")
                saves.append(t1 - t0)
                loads.append(t2 - t1)
            size = checkpoint_file.path_for(engine).stat().st_size
        finally:
            del os.environ["GAPWATCH_CHECKPOINT_DIR"]
    found = {
        (svc, node): nw.found
        for svc, sw in checkpoint.windows.items()
        for node, nw in sw.nodes.items()
        if nw.found is not None
    }
    carried = len(pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL))
    with engine.connect() as conn:
        facts = conn.exec_driver_sql("SELECT count(*) FROM facts").scalar_one()
    engine.dispose()
    print(
        f"checkpoint after {after} rounds: {size / 1e6:.2f} MB saved ({facts:,} facts), "
        f"save {statistics.median(saves):.2f} s, load {statistics.median(loads):.2f} s; "
        f"carried trails (not saved) {carried / 1e6:.2f} MB over {len(found)} nodes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--base", help="a store this script built (its database name)")
    parser.add_argument(
        "--checkpoint-at",
        default="",
        help="after which rounds (0: the rebuild) to save and load the checkpoint, e.g. 0,16",
    )
    parser.add_argument(
        "--metrics-every",
        type=int,
        default=0,
        help="each round also scrapes kube-proxy's metrics on the Service's 20 nodes this often"
        " (seconds) over its hour (replay.py's metrics_scrapes: 30 gives 2,400 events a round)",
    )
    args = parser.parse_args()
    server = os.environ.get("GAPWATCH_TEST_PG")
    if not server:
        sys.exit("set GAPWATCH_TEST_PG to a PostgreSQL server URL")
    base = args.base
    if base is None:
        url = bench.new_database(server)
        bench.build(url, 50, 20, 1_000_000, 20)
        base = make_url(url).database
        print(f"built and kept {base}")
    url = _copy(server, str(base))
    rounds = Rounds()
    # each step: (module, name, the key its CPU is added to), patched where the callers look
    # them up: bench.incremental, projections', node_rows' and checkpoint's
    steps: list[tuple[Any, str, str]] = [
        (node_cache, "windows", "windows"),
        # inside it: each moved node's R and F (`Found.find`, called on the class) and the
        # instant its kept windows stand before (`_since`: suffix.influence_from, reusable)
        (node_cache.Found, "find", "R and F"),
        (node_cache, "_since", "suffix"),
        # inside `Found.find`: F (`serves_signal`), the lanes read after it (`lanes`: R, the
        # checks), R and not F with its candidates; after it, detection from the lanes
        (node_cache, F_NAME, "F"),
        (node_cache, "lanes", "lanes"),
        (node_cache, "windows_from", "windows_from"),
        (node_cache, "finished", "finished"),
        (projections, "lane_segments", "segments"),
        # outside `node_cache.windows`, in `node_rows.write_service`: the failed requests per
        # window (`_count`), the rollouts (`_group`), the lags (`node_lags`) and the rows'
        # diff and writes (`write_changes`); before it, the cluster's values
        (node_rows, "_count", "count"),
        (node_rows, "_group", "group"),
        (node_rows, "node_lags", "node lags"),
        (node_rows, "write_changes", "row changes"),
        (checkpoint_mod, "cluster_values", "cluster values"),
        (projections, "cluster_values", "cluster values"),
    ]
    patches: list[tuple[Any, str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = [
        (projections, "refresh", rounds.wrap_refresh),
        *((module, name, partial(rounds.wrap_step, key)) for module, name, key in steps),
    ]
    # F's parts where replay.lanes calls them (inside F first: `wrap_f` marks it)
    patches += [
        (lanes_mod, name, partial(rounds.wrap_part, part))
        for part, names in F_PARTS.items()
        for name in names
        if hasattr(lanes_mod, name)
    ]
    patches += [(node_cache, F_NAME, rounds.wrap_f), (lanes_mod, "serves_signal", rounds.wrap_f)]
    # the probed lane's steps and Tri carried on (replay.lane_tail), where the code has it
    carried = getattr(lanes_mod, "lane_tail", None)
    if carried is not None:
        # (the bad looks were `excursions`' on main, the silent stretches the silence's, F's
        # `minus_definite(t_and(...))` the combining's, `looks` main's `observed`)
        parts = {
            "steps": "steps",
            "tri": "tri",
            "bad_looks": "excursions",
            "silences": "silence",
            "serving": "combining",
            "looks": "observed",
        }
        patches += [
            (carried, name, partial(rounds.wrap_part, part))
            for name, part in parts.items()
            if hasattr(carried, name)
        ]
    # the probed lane's steps as the looks place them, carried on (replay.synced_tail)
    synced = getattr(lanes_mod, "synced_tail", None)
    if synced is not None:
        patches.append((synced, "synced", partial(rounds.wrap_part, "syncs")))
    # R and not F with its candidates: carried on (replay.gap_tail.gap) or over the whole lanes
    gap = getattr(node_cache, "gap_tail", None)
    if gap is not None:
        patches.append((gap, "gap", partial(rounds.wrap_step, "R and not F")))
    else:
        patches += [
            (node_cache, name, partial(rounds.wrap_step, "R and not F"))
            for name in ("t_and", "t_not", "candidates_of")
        ]
    # the segments step as `projections._write` calls it, on either code (none nested)
    step = partial(rounds.wrap_step, "segment step")
    patches += [
        (projections, name, step)
        for name in ("lane_segments", "segment_rows", "write_kept", "write_stored", "write_tails")
        if hasattr(projections, name)
    ]
    tail = getattr(projections, "segment_tail", None)
    if tail is not None:
        patches.append((tail, "tails", step))
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, wrap in patches:
        setattr(module, name, wrap(getattr(module, name)))
    gc.callbacks.append(rounds.heard)
    try:
        checkpoint = Checkpoint()
        projections.rebuild(make_engine(url), checkpoint=checkpoint)
        rounds.rows.clear()
        rounds.steps = {key: [] for key in rounds.steps}
        rounds.counting = True
        at = {int(n) for n in args.checkpoint_at.split(",") if n}
        if 0 in at:
            _checkpoint_costs(url, checkpoint, 0)
        for k in range(args.rounds):
            bench.incremental(url, k, checkpoint, metrics_every_s=args.metrics_every)
            if k + 1 in at:
                _checkpoint_costs(url, checkpoint, k + 1)
    finally:
        gc.callbacks.remove(rounds.heard)
        for module, name, original in originals:
            setattr(module, name, original)
        with psycopg.connect(bench._dsn(server), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {make_url(url).database} WITH (FORCE)")
    print(f"code {segments.__file__}; load {os.getloadavg()}")
    for i, label in enumerate(("wall", "CPU", "waiting for a CPU")):
        print(f"{label}: {[round(r[i], 1) for r in rounds.rows]} ms")
    for key, values in rounds.steps.items():
        print(f"{key} CPU: {[round(v, 1) for v in values]} ms")
    for generation, (n, ms) in sorted(rounds.collected.items()):
        print(f"collections of generation {generation} over the rounds: {n}, {ms:.1f} ms of CPU")


if __name__ == "__main__":
    main()
