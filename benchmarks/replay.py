"""Replay benchmark: read + fold + detect of ~1M events' facts from PostgreSQL, against COPY TO.

    GAPWATCH_TEST_PG=postgresql+psycopg://postgres@127.0.0.1:55432/postgres \\
        /work/.venv/bin/python benchmarks/replay.py [--events 1000000] [--repeat 3]

Builds a fresh database: `--services` LB-facing Services (one namespace each) on `--nodes` nodes,
each rolled out every `--rollout-minutes` (facts shaped like the simulator's: EndpointSlice
versions, pods, health and NodePort probe changes, target health changes) with the probers' and
the LB poller's 60 s heartbeats in between, written with COPY straight into `facts` (an event is
1 fact, an EndpointSlice version 1 + its nodes). Then, in one run:

- baseline: `COPY (SELECT <fact columns> FROM facts ORDER BY event_id, seq) TO STDOUT` (binary),
  bytes only;
- replay: replay.load (COPY binary, typed) + fold + detect for every Service;
- peak memory: the replay again in a child process, its max RSS;
- incremental: a full rebuild (timed: the refresh's baseline; it seeds the refresh checkpoint a
  long-running process keeps, replay.checkpoint), then rounds of 1,000 new events (real
  observations through EventWriter, facts derived) and `projections.refresh` from the
  checkpoint, timed (the events' write is reported separately); one round as `gapwatch replay`
  runs it after an earlier run saved its fold state (replay.checkpoint_file: load, refresh,
  save); one round without a checkpoint. `--refresh-only` skips the replay and COPY rounds.
  The realistic mix (Pods and Nodes included) from
  the `large` store, on SQLite and PostgreSQL: benchmarks/refresh_large.py.

Prints medians, the ratio to the baseline and the limits (5 s, 3x, 1 GB, 100 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy.engine import make_url

from benchmarks.server import rss_kb
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import checkpoint_file, projections
from gapwatch.replay.assumptions import US
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import FACT_COLUMNS, write_facts
from gapwatch.replay.load import load_state, no_gc

T0 = 1_795_000_000 * US


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def facts(
    services: int, nodes: int, events: int, args_minutes: int = 20
) -> Iterator[tuple[Any, ...]]:
    """Fact rows for about `events` events, in event id order: per Service a rollout every
    `args_minutes` minutes, heartbeats of every probe and LB lane every minute in between."""
    per_service = events // services
    event_id = 0
    out: list[tuple[Any, ...]] = []

    def emit(at: int, fact: str, *rest: Any, seq: int = 0, new: bool = True) -> None:
        nonlocal event_id
        if new:
            event_id += 1
        out.append((event_id, seq, "bench", at, *rest[:2], fact, *rest[2:]))

    for s in range(services):
        ns, svc = f"ns-{s}", "gateway"
        names = [f"node-{n}" for n in range(nodes)]
        t = T0
        emit(t, "service", None, None, "ADDED", ns, svc, None, "LoadBalancer", 31805, None,
             None, None, "Local", "32999", None)  # fmt: skip
        count, rollout = 1, 0
        pods = {n: f"gw-{s}-{n}-0" for n in names}
        while count < per_service:
            rollout += 1
            t += 120 * US
            for i, node in enumerate(names):
                at = t + i * 3 * US
                old, new = pods[node], f"gw-{s}-{node}-{rollout}"
                pods[node] = new
                # the new pod, the old one terminating, the slice, the probes and the LB reacting
                emit(at, "pod", None, None, "ADDED", ns, new, node, "pending", None, 30, 0, None,
                     f"ReplicaSet/gw-{rollout}", str(rollout), None)  # fmt: skip
                emit(at + US, "pod", None, None, "MODIFIED", ns, new, node, "ready", None, 30, 0,
                     None, f"ReplicaSet/gw-{rollout}", str(rollout), None)  # fmt: skip
                was = f"ReplicaSet/gw-{rollout - 1}"
                emit(at + US, "pod", None, None, "MODIFIED", ns, old, node, "terminating",
                     at + US, 30, 0, None, was, str(rollout - 1), None)  # fmt: skip
                emit(at + US, "slice", None, None, "MODIFIED", ns, svc, None, "MODIFIED", None,
                     None, None, None, "gw-abc", None, None)  # fmt: skip
                emit(at + US, "slice", None, None, "MODIFIED", ns, svc, node, "MODIFIED", 1, 1, 1,
                     None, "gw-abc", f"{old},{new}", None, seq=1, new=False)  # fmt: skip
                emit(at + 3 * US, "health", at + 2 * US, None, "OBSERVED", ns, svc, node, "503",
                     0, 1, None, None, None, None, None)  # fmt: skip
                emit(at + 3 * US, "nodeport", at + 2 * US, None, "OBSERVED", ns, svc, node,
                     "timeout", 1000, None, None, None, None, None, None)  # fmt: skip
                emit(at + 5 * US, "target", at, None, "MODIFIED", ns, svc, node, "draining",
                     None, None, None, None, "arn:tg", None, None)  # fmt: skip
                emit(at + 6 * US, "pod", None, None, "MODIFIED", ns, old, node, "gone", at + US,
                     30, 0, None, was, str(rollout - 1), None)  # fmt: skip
                emit(at + 6 * US, "slice", None, None, "MODIFIED", ns, svc, None, "MODIFIED",
                     None, None, None, None, "gw-abc", None, None)  # fmt: skip
                emit(at + 6 * US, "slice", None, None, "MODIFIED", ns, svc, node, "MODIFIED", 1,
                     0, 0, None, "gw-abc", new, None, seq=1, new=False)  # fmt: skip
                emit(at + 8 * US, "health", at + 7 * US, None, "OBSERVED", ns, svc, node, "200",
                     1, 1, None, None, None, None, None)  # fmt: skip
                emit(at + 8 * US, "nodeport", at + 7 * US, None, "OBSERVED", ns, svc, node,
                     "connected", 800, None, None, None, None, None, None)  # fmt: skip
                emit(at + 10 * US, "target", at + 5 * US, None, "MODIFIED", ns, svc, node,
                     "healthy", None, None, None, None, "arn:tg", None, None)  # fmt: skip
                count += 12
                if count >= per_service:
                    break
            # the probers' and the poller's heartbeats until the next rollout
            for minute in range(1, args_minutes + 1):
                hb = t + minute * 60 * US
                for node in names:
                    for fact, value in (
                        ("health", "200"),
                        ("nodeport", "connected"),
                        ("target", "healthy"),
                    ):
                        emit(hb, fact, hb - 60 * US, None, "OBSERVED", ns, svc, node, value,
                             1 if fact == "health" else None, None, None, None, None, None,
                             None)  # fmt: skip
                        count += 1
                if count >= per_service:
                    break
            t += args_minutes * 60 * US
            yield from out
            out.clear()


def build(url: str, services: int, nodes: int, events: int, minutes: int) -> int:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    cols = ", ".join(FACT_COLUMNS)
    rows = 0
    with psycopg.connect(_dsn(url)) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY facts ({cols}) FROM STDIN") as copy:
            for row in facts(services, nodes, events, minutes):
                copy.write_row(row)
                rows += 1
        # the log's own ids continue after the synthetic events
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('events', 'id'), max(event_id)) FROM facts"
        )
        cur.execute("ANALYZE facts")
    return rows


def baseline(url: str, fmt: str) -> float:
    """COPY the facts out (every column replay reads, in event order), bytes only."""
    cols = ", ".join(FACT_COLUMNS)
    start = time.perf_counter()
    with psycopg.connect(_dsn(url)) as conn, conn.cursor() as cur:
        sql = f"COPY (SELECT {cols} FROM facts ORDER BY event_id, seq) TO STDOUT (FORMAT {fmt})"
        with cur.copy(sql) as copy:
            for _block in copy:
                pass
    return time.perf_counter() - start


def replay_once(url: str) -> tuple[float, float, int]:
    engine = make_engine(url)
    start = time.perf_counter()
    state = load_state(engine)
    loaded = time.perf_counter()
    with no_gc():  # as replay.projections runs detection
        windows = detect(state)
    done = time.perf_counter()
    engine.dispose()
    return loaded - start, done - start, len(windows)


#: One round of `incremental`, per node and second: (kind, source, payload, op). A blip: the
#: NodePort times out and the health check says 503, then both recover (without the 200 every
#: node's health check stayed 503 for the rest of the log, one unended stretch that each refresh
#: re-detected from its start). The rounds still grow (72 -> 103-115 ms over 5, against 76 ->
#: 127 ms without the 200): the built store ends with these nodes' endpoints `none`, so the
#: increments' connected probes 30 days later sit in one unended endpoints stretch, and each
#: refresh re-detects the nodes from its start (replay.suffix). benchmarks/refresh_large.py
#: refreshes a log's own next events instead.
_INCREMENT: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("NodePortProbe", "kube-proxy-probe", {"result": "timeout", "port": 1}, "OBSERVED"),
    ("ProxyHealth", "kube-proxy-probe", {"status": 503, "body": None}, "OBSERVED"),
    ("NodePortProbe", "kube-proxy-probe", {"result": "connected", "port": 1}, "OBSERVED"),
    ("ProxyHealth", "kube-proxy-probe", {"status": 200, "body": None}, "OBSERVED"),
    ("TargetHealth", "lb-poller", {"TargetHealth": {"State": "healthy"}}, "MODIFIED"),
)


def metrics_scrapes(base: datetime, round_: int, every_s: int) -> list[Observation]:
    """kube-proxy's /metrics on each of the 20 nodes scraped every `every_s` seconds over the
    round's hour from `base`, as the prober stores them: a sync of 5 ms 1 s before every other
    scrape (its time, the histogram's count and sum), one process."""
    out: list[Observation] = []
    rules = "kubeproxy_sync_proxy_rules_duration_seconds"
    started = datetime.fromtimestamp(T0 / US, UTC).timestamp()
    per_round = 3600 // every_s
    for k in range(per_round):
        at = base + timedelta(seconds=k * every_s, milliseconds=50)
        syncs = (round_ * per_round + k) // 2 + 1
        synced = (base + timedelta(seconds=(k - k % 2) * every_s - 1)).timestamp()
        metrics = {
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds": synced,
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds": synced,
            rules + "_count": float(syncs),
            rules + "_sum": syncs * 0.005,
            "process_start_time_seconds": started,
        }
        for n in range(20):
            payload = {"port": 10249, "address": f"10.0.0.{n}", "latency_ms": 2.0,
                       "status": 200, "error": None, "metrics": metrics, "derived": None,
                       "look": "sample"}  # fmt: skip
            out.append(
                Observation(
                    observed_at=at,
                    cluster="bench",
                    source="kube-proxy-probe",
                    kind="ProxyMetrics",
                    op="OBSERVED",
                    payload=payload,
                    node=f"node-{n}",
                )
            )
    return out


def incremental(
    url: str,
    round_: int,
    checkpoint: Checkpoint | None = None,
    persisted: bool = False,
    metrics_every_s: int = 0,
) -> tuple[float, float, int]:
    """1,000 new probe and LB samples for one existing Service (ns-7/gateway): write, refresh
    (from the checkpoint, when given; `persisted`: from the saved one, as `gapwatch replay`).
    `metrics_every_s`: with them, its 20 nodes' kube-proxy metrics scraped that often over the
    round's hour (`metrics_scrapes`: 3600 / it x 20 more events)."""
    engine = make_engine(url)
    base = datetime.fromtimestamp(T0 / US + 30 * 86400 + round_ * 3600, UTC)
    obs: list[Observation] = (
        metrics_scrapes(base, round_, metrics_every_s) if metrics_every_s else []
    )
    for i in range(1000 // len(_INCREMENT)):
        node = f"node-{i % 20}"
        for k, (kind, source, payload, op) in enumerate(_INCREMENT):
            at = base + timedelta(seconds=i, milliseconds=200 * k)
            obs.append(
                Observation(
                    observed_at=at, cluster="bench", source=source, kind=kind, op=op,
                    payload=payload, namespace="ns-7", name="gateway", node=node,
                    previous_observed_at=at - timedelta(milliseconds=100),
                )
            )  # fmt: skip
    start = time.perf_counter()
    EventWriter(engine, derive=write_facts).write(obs)
    written = time.perf_counter()
    if persisted:
        processed = checkpoint_file.refresh(engine, persist=True)
    else:
        processed = projections.refresh(engine, checkpoint=checkpoint)
    done = time.perf_counter()
    engine.dispose()
    return written - start, done - written, processed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--rollout-minutes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="Keep the database; print its URL.")
    parser.add_argument(
        "--refresh-only", action="store_true", help="Skip read + fold + detect vs COPY TO."
    )
    args = parser.parse_args()
    if args.child:
        _, _, found = replay_once(args.child)
        peak = _own_peak_mb()
        print(f"{peak:.0f} {found}")
        return
    url = new_database(_server())
    try:
        start = time.perf_counter()
        rows = build(url, args.services, args.nodes, args.events, args.rollout_minutes)
        print(
            f"built {rows} fact rows ({args.events} events) in {time.perf_counter() - start:.1f} s"
        )
        if not args.refresh_only:
            replay_vs_copy(url, args.repeat)
        refresh_rounds(url, args.repeat)
        print(f"load average {os.getloadavg()}")
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            drop_database(url)


def _own_peak_mb() -> float:
    """This process's own peak RSS: VmHWM of its memory map. Not ru_maxrss, which Linux carries
    over from the spawning process across exec: with the system allocator this benchmark's parent
    keeps ~0.8 GB after its replays, and the child "peaked" at that (835-843 MB against its own
    664-686 MB)."""
    return rss_kb(os.getpid())[1] / 1024


def new_database(server: str) -> str:
    """A new empty database on the server (`server`: a URL of any of its databases)."""
    name = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(_dsn(server).rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _server(hint: str = "") -> str:
    server = os.environ.get("GAPWATCH_TEST_PG")
    if not server:
        sys.exit(f"set GAPWATCH_TEST_PG to a PostgreSQL server URL{hint}")
    return server


@contextmanager
def store(db: str | None, events: int) -> Iterator[str]:
    """`db` (a store `--keep` left), else a store of `events` events built on GAPWATCH_TEST_PG's
    server for the block and dropped after it (benchmarks/replay_split.py, replay_fork.py)."""
    if db is not None:
        yield db
        return
    url = new_database(_server(", or pass --db"))
    try:
        build(url, 50, 20, events, 20)
        yield url
    finally:
        drop_database(url)


def drop_database(url: str) -> None:
    with psycopg.connect(_dsn(url).rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")


def replay_vs_copy(url: str, repeat: int) -> None:
    """Read + fold + detect against COPY TO, and the replay's peak memory."""
    binary, textual, loads, replays = [], [], [], []
    for _ in range(repeat):  # interleaved, so load from others hits all alike
        binary.append(baseline(url, "binary"))
        textual.append(baseline(url, "text"))
        load_s, replay_s, found = replay_once(url)
        loads.append(load_s)
        replays.append(replay_s)
    copy_b, copy_t = statistics.median(binary), statistics.median(textual)
    replay_m = statistics.median(replays)
    print(f"COPY TO binary        median {copy_b:.2f} s  {[round(x, 2) for x in binary]}")
    print(f"COPY TO text          median {copy_t:.2f} s  {[round(x, 2) for x in textual]}")
    print(f"read + fold           median {statistics.median(loads):.2f} s")
    print(f"read + fold + detect  median {replay_m:.2f} s  {[round(x, 2) for x in replays]}")
    print(f"                      ({found} windows)  limit 5 s")
    ratio_b, ratio_t = replay_m / copy_b, replay_m / copy_t
    print(f"ratio to COPY binary  {ratio_b:.2f}x  to COPY text {ratio_t:.2f}x  limit 3x")
    child = subprocess.run(
        [sys.executable, __file__, "--child", url], capture_output=True, text=True, check=True
    )
    peak_mb, _ = child.stdout.split()
    print(f"peak memory (child)   {peak_mb} MB  limit 1024 MB")


def refresh_rounds(url: str, repeat: int) -> None:
    """A rebuild, then rounds of 1,000 new events refreshed from the checkpoint; one as
    `gapwatch replay` runs it from the saved checkpoint; one without any."""
    checkpoint = Checkpoint()
    start = time.perf_counter()
    projections.rebuild(make_engine(url), checkpoint=checkpoint)
    rebuild_s = time.perf_counter() - start
    writes: list[float] = []
    refreshes: list[float] = []
    for _ in range(repeat):
        write_s, refresh_s, processed = incremental(url, len(writes), checkpoint)
        writes.append(write_s)
        refreshes.append(refresh_s)
    with tempfile.TemporaryDirectory(prefix="gapwatch-checkpoints-", dir="/tmp") as saved:
        os.environ["GAPWATCH_CHECKPOINT_DIR"] = saved
        engine = make_engine(url)
        checkpoint_file.save(engine, checkpoint)
        _, from_file, _ = incremental(url, len(writes) + 1, persisted=True)
        engine.dispose()
    _, one_shot, _ = incremental(url, len(writes) + 2)
    print(f"full rebuild {rebuild_s:.1f} s; 1,000 new events: write median "
          f"{statistics.median(writes) * 1000:.0f} ms, refresh from the checkpoint median "
          f"{statistics.median(refreshes) * 1000:.0f} ms "
          f"{[round(x * 1000) for x in refreshes]} ({processed} events), one-shot from "
          f"the saved checkpoint (load, refresh, save) {from_file * 1000:.0f} ms, without a "
          f"checkpoint {one_shot * 1000:.0f} ms; limit 100 ms")  # fmt: skip


if __name__ == "__main__":
    main()
