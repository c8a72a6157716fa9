"""What a replay split by Service over worker processes would give (measured, not adopted).

    GAPWATCH_TEST_PG=URL .venv/bin/python benchmarks/replay_split.py [--db URL] [--procs 2]
        [--repeat 5] [--events 1000000]

On benchmarks/replay.py's store (built here, or `--db` a kept one: `replay.py --keep`), each
round alternates, in one process tree: the binary `COPY TO` of every fact (replay.py's
baseline); the replay as replay.py times it (replay.load + detect, one process); and the same
replay split in `--procs` forked workers, each reading the facts of its share of the Services
(and every fact that names no namespace) with replay.load's COPY and Arrow parse, folding them
and detecting its Services' windows, which the parent gathers and sorts as `detect` does.
Prints per round and medians, the load average beside them, and whether the split's windows
equal the one-process replay's (they must: each Service's windows are read from its own facts
and the cluster's; a split changes nothing only where no rule reads another Service's facts).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import multiprocessing
import os
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text

from gapwatch.recorder.store import make_engine
from gapwatch.replay import copyfold, load
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.fold import PROBE_FACTS, FoldState, fold
from gapwatch.replay.model import Window

# benchmarks/replay.py (by its path: `replay` alone names gapwatch's package folder too)
_spec = importlib.util.spec_from_file_location(
    "bench_replay", Path(__file__).with_name("replay.py")
)
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _share(url: str, namespaces: list[str], out: Any) -> None:
    """One worker: fold the facts of `namespaces` and those naming none, detect, send back."""
    engine = make_engine(url)
    state = FoldState()
    with load.no_gc(), engine.connect() as conn:
        listed = ", ".join(f"'{ns}'" for ns in namespaces)  # the benchmark's own names
        sql = (
            f"SELECT {', '.join(FACT_COLUMNS)} FROM facts"
            f" WHERE namespace IN ({listed}) OR namespace IS NULL"
        )
        table = copyfold._copy_text(conn, sql, {}, copyfold._FACT_TYPES)
        is_probe = pc.is_in(table["fact"], value_set=pa.array(PROBE_FACTS))
        others = table.filter(pc.invert(is_probe)).sort_by(
            [("event_id", "ascending"), ("seq", "ascending")]
        )
        fold(state, list(zip(*(copyfold._pylist(others[c]) for c in FACT_COLUMNS), strict=True)))
        copyfold._fold_probe_columns(state, table.select(copyfold._PROBE_COLUMNS).filter(is_probe))
        windows = detect(state)
    engine.dispose()
    out.send_bytes(pickle.dumps(windows, protocol=pickle.HIGHEST_PROTOCOL))
    out.close()


def split_once(url: str, shares: list[list[str]]) -> tuple[float, list[Window]]:
    """The split replay's wall time and its windows, in `detect`'s order."""
    ctx = multiprocessing.get_context("fork")
    start = time.perf_counter()
    workers = []
    for namespaces in shares:
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_share, args=(url, namespaces, send))
        proc.start()
        send.close()
        workers.append((proc, receive))
    windows: list[Window] = []
    for proc, receive in workers:
        windows.extend(pickle.loads(receive.recv_bytes()))
        proc.join()
    windows.sort(key=lambda w: (w.start_us, w.service, w.node))
    return time.perf_counter() - start, windows


def _digest(windows: list[Window]) -> str:
    return hashlib.sha256(repr(windows).encode()).hexdigest()[:12]


def _one_process(url: str) -> tuple[float, str]:
    """replay.py's replay_once (load_state + detect), its windows digested here."""
    engine = make_engine(url)
    start = time.perf_counter()
    state = load.load_state(engine)
    with load.no_gc():
        windows = detect(state)
    took = time.perf_counter() - start
    engine.dispose()
    return took, _digest(windows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="a store replay.py --keep left (else one is built)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with bench.store(args.db, args.events) as url:
        _measure(url, args.procs, args.repeat)


def _measure(url: str, procs: int, repeat: int) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(text("SELECT DISTINCT namespace FROM facts"))]
    engine.dispose()
    names = sorted(n for n in names if n is not None)
    shares = [names[i::procs] for i in range(procs)]
    bench.replay_once(url)  # imports and first allocations outside the figures
    copies, ones, splits = [], [], []
    same = True
    for _ in range(repeat):
        copies.append(bench.baseline(url, "binary"))
        one, one_digest = _one_process(url)
        split, windows = split_once(url, shares)
        same = same and _digest(windows) == one_digest
        ones.append(one)
        splits.append(split)
        print(
            f"COPY binary {copies[-1]:.2f} s  one process {one:.2f} s  {procs} processes "
            f"{split:.2f} s  load {os.getloadavg()[0]:.2f}  "
            f"{time.strftime('%H:%M:%S', time.gmtime())} UTC",
            flush=True,
        )
    copy_m, one_m, split_m = map(statistics.median, (copies, ones, splits))
    print(
        f"medians: COPY binary {copy_m:.2f} s; one process {one_m:.2f} s ({one_m / copy_m:.2f}x);"
        f" {procs} processes {split_m:.2f} s ({split_m / copy_m:.2f}x); windows "
        f"{'equal' if same else 'DIFFER'}; load average {os.getloadavg()}, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
