"""What detect split over a forked child after the fold would give (measured, not adopted).

    GAPWATCH_TEST_PG=URL .venv/bin/python benchmarks/replay_fork.py [--db URL] [--repeat 5]
        [--events 1000000]

On benchmarks/replay.py's store (built here, or `--db` a kept one: `replay.py --keep`), each
round: the binary `COPY TO` of every fact (replay.py's baseline), then, in alternated order,
each on a state of its own from `load_state`, `detect` of every Service in this process, and
the same split: the process
forks after the fold (the child shares the folded state copy-on-write: nothing of it pickled),
the child detects every other Service and pipes its windows back pickled, the parent detects the
rest, then merges and sorts them as `detect` does. Unlike benchmarks/replay_split.py (a worker
per share of the Services that reads and folds its own facts), nothing is read or folded twice.

Printed per round and as medians: wall and process CPU of each side (the child's own, its
pickling included), the fork's return in the parent, the bytes piped, the parent's unpickling
and merge, the child's private dirty memory (pages it copied or made), whether the windows
equal the one-process detect's, and the load average. On a machine with a second idle core the
split's detect takes about max(parent, child) of CPU in wall, which the line `if 2 idle cores`
prints: an estimate, not a measurement; on a loaded machine the wall says which it is.

Last, what the split would hand back on the path `gapwatch replay` takes (a rebuild that keeps
a checkpoint detects through replay.node_cache, whose per-node entries the next refresh reuses):
the child's half of the node cache pickled and unpickled, its size and CPU.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import pickle
import statistics
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import replay as bench
from gapwatch.recorder.store import make_engine
from gapwatch.replay import load, node_cache
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import _time_order, detect
from gapwatch.replay.fold import FoldState, lb_facing
from gapwatch.replay.model import ServiceRef, Window

#: the child's figures ahead of its pickled windows: CPU s, pickling s, private dirty kB
_HEAD = struct.Struct("ddq")


def _private_dirty_kb() -> int:
    """This process's pages written since the fork (copied from the parent, or new)."""
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    return 0


def _child(state: FoldState, share: list[ServiceRef], out: int) -> None:
    start = time.process_time()
    gc.disable()
    windows = detect(state, share)
    pickled = time.process_time()
    data = pickle.dumps(windows, protocol=pickle.HIGHEST_PROTOCOL)
    done = time.process_time()
    with os.fdopen(out, "wb") as pipe:
        pipe.write(_HEAD.pack(done - start, done - pickled, _private_dirty_kb()) + data)


def forked(state: FoldState) -> tuple[list[Window], dict[str, float]]:
    """`detect(state)`, every other Service in a forked child; its windows and figures."""
    services = list(lb_facing(state))
    mine, theirs = services[0::2], services[1::2]
    wall, cpu = time.perf_counter(), time.process_time()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: detect its share, send, leave without the parent's cleanups
        os.close(read_end)
        try:
            _child(state, theirs, write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    fork_s = time.perf_counter() - wall
    with load.no_gc():
        windows = detect(state, mine)
    own = time.process_time() - cpu
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    merge = time.process_time()
    child_cpu, pickling, dirty_kb = _HEAD.unpack_from(data)
    windows.extend(pickle.loads(data[_HEAD.size :]))
    windows.sort(key=_time_order)
    merge = time.process_time() - merge
    figures = {
        "wall": time.perf_counter() - wall, "parent": own, "child": child_cpu,
        "fork_ms": fork_s * 1000, "pickle": pickling, "merge": merge,
        "bytes": len(data), "dirty_mb": dirty_kb / 1024,
    }  # fmt: skip
    return windows, figures


def one(state: FoldState) -> tuple[list[Window], dict[str, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    with load.no_gc():  # as replay.projections runs detection
        windows = detect(state)
    return windows, {"wall": time.perf_counter() - wall, "parent": time.process_time() - cpu}


def _digest(windows: list[Window]) -> str:
    return hashlib.sha256(repr(windows).encode()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="a store replay.py --keep left (else one is built)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with bench.store(args.db, args.events) as url:
        _measure(url, args.repeat)


def cache_half(state: FoldState) -> str:
    """The node cache of every Service (as a rebuild with a checkpoint fills it), the child's
    half of it pickled and unpickled: what the split would pipe back on that path."""
    cache: node_cache.Cache = {}
    services = list(lb_facing(state))
    start = time.process_time()
    with load.no_gc():
        for svc in services:
            node_cache.windows(state, svc, DEFAULTS, cache)
    found = time.process_time()
    data = pickle.dumps({s: cache[s] for s in services[1::2]}, protocol=pickle.HIGHEST_PROTOCOL)
    pickled = time.process_time()
    pickle.loads(data)
    return (
        f"node cache: detect CPU {found - start:.2f} s; the child's half {len(data) / 1e6:.1f} MB, "
        f"pickled {pickled - found:.2f} s, unpickled {time.process_time() - pickled:.2f} s of CPU"
    )


def _measure(url: str, repeat: int) -> None:
    engine = make_engine(url)
    load.load_state(engine)  # imports and first allocations outside the figures
    rows: dict[str, list[dict[str, float]]] = {"one": [], "fork": []}
    copies: list[float] = []
    reads: list[float] = []
    same = True
    for round_ in range(repeat):
        copies.append(bench.baseline(url, "binary"))
        digests = []
        for way in ("one", "fork") if round_ % 2 == 0 else ("fork", "one"):
            # a state of its own: detect's memo kept across calls (pod deaths, lags, ...) made
            # a second detect of one state 0.2-0.3 s cheaper than the first
            start = time.process_time()
            state = load.load_state(engine)
            reads.append(time.process_time() - start)
            windows, got = (one if way == "one" else forked)(state)
            rows[way].append(got)
            digests.append(_digest(windows))
            print(
                f"{way:4s} " + "  ".join(f"{k} {v:.3f}" for k, v in got.items())
                + f"  {len(windows)} windows  load {os.getloadavg()[0]:.1f}  "
                f"{time.strftime('%H:%M:%S', time.gmtime())} UTC",
                flush=True,
            )  # fmt: skip
            del state
            gc.collect()
        same = same and digests[0] == digests[1]
    med = {
        way: {k: statistics.median(r[k] for r in got) for k in got[0]} for way, got in rows.items()
    }
    o, f = med["one"], med["fork"]
    idle = max(f["parent"] + f["merge"], f["child"])
    print(
        f"medians: COPY binary {statistics.median(copies):.2f} s; load_state CPU "
        f"{statistics.median(reads):.2f} s; detect one process wall {o['wall']:.2f} s CPU "
        f"{o['parent']:.2f} s; forked wall {f['wall']:.2f} s, CPU parent {f['parent']:.2f} + "
        f"child {f['child']:.2f} (pickling {f['pickle']:.3f}) + merge {f['merge']:.3f} s = "
        f"{f['parent'] + f['child'] + f['merge']:.2f} s; fork {f['fork_ms']:.1f} ms; "
        f"{f['bytes'] / 1e6:.2f} MB piped; child private dirty {f['dirty_mb']:.0f} MB"
    )
    print(
        f"if 2 idle cores (estimate): detect {idle:.2f} s against {o['parent']:.2f} s "
        f"({idle - o['parent']:+.2f} s); windows {'equal' if same else 'DIFFER'}; load average "
        f"{os.getloadavg()}, {os.cpu_count()} CPUs"
    )
    print(cache_half(load.load_state(engine)))


if __name__ == "__main__":
    main()
