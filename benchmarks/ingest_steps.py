"""Where an ingested line's client CPU goes, step by step (ingest session 27).

    python benchmarks/ingest_steps.py [--n 50000] [--passes 3] [--ndjson FILE] [--pg URL]

One thread, `time.process_time` per step over the same lines, minimum of --passes, CPython's GC
thresholds as `gapwatch import` sets them. The lines: --n observations of the benchmark's mix
(benchmarks/observations.py) as NDJSON, or an NDJSON file of yours (`gapwatch export events`,
`gapwatch simulate --out`). Steps: read (lines from the file), parse (`orjson.loads` of the line),
validate (the storable checks and `from_dict`: the Observation), unique keys (the repeated-key
check, recorder/uniquekeys.py, and its exact step alone on every line), parse_line (all of those as
the import runs them; session 34's msgspec decoder for it was measured and not adopted:
benchmarks/README.md, "Session 34: ingest"), prepare (the `events` row: the payload serialized, the
dedupe hash; of validate's Observations, then of parse_line's), events `write_row` (binary COPY
data, in memory), derive (replay.facts), facts `write_row`; then what handing rows to another
process costs: pickling and unpickling (id, Observation) pairs, and the `events` rows (payload as
the JSON text `prepare` made) with the child's `orjson.loads` of each payload, in batches of 5,000.
Nothing is written to a server, but COPY's dumpers come from a connection: `--pg URL` or
GAPWATCH_TEST_PG.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import psycopg
from psycopg.copy import FileWriter

from benchmarks.observations import generate
from benchmarks.server import dsn
from gapwatch.recorder.importer import IMPORT_GC_THRESHOLDS
from gapwatch.recorder.ndjson import RawLine, check_storable, dumps, parse_line, read_lines
from gapwatch.recorder.observation import Observation, from_dict
from gapwatch.recorder.tables import EVENT_COLUMNS, copy_types, events
from gapwatch.recorder.uniquekeys import _Object, _walk, repeated_key
from gapwatch.recorder.writer import _JsonTextDumper, prepare
from gapwatch.replay.facts import FACT_COLUMNS, derive_all
from gapwatch.replay.tables import facts as facts_table

BATCH = 5000


def encode(cur: psycopg.Cursor[Any], types: list[str], rows: list[Any]) -> int:
    """Binary COPY data of `rows` as `write_row` makes it, in memory (nothing goes to the
    server: the cursor lends its dumpers)."""
    out = io.BytesIO()
    cur.adapters.register_dumper(None, _JsonTextDumper)
    with psycopg.Copy(cur, binary=True, writer=FileWriter(out)) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
    return len(out.getvalue())


def timed(passes: int, step: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(passes):
        gc.collect()
        start = time.process_time()
        result = step()
        best = min(best, time.process_time() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--ndjson", help="an NDJSON file instead of the mix")
    parser.add_argument(
        "--pg",
        default=os.environ.get("GAPWATCH_TEST_PG"),
        help="a server whose connection lends COPY's dumpers (nothing written)",
    )
    args = parser.parse_args()
    gc.set_threshold(*IMPORT_GC_THRESHOLDS)
    if not args.pg:
        raise SystemExit("--pg URL (or GAPWATCH_TEST_PG): COPY's dumpers come from a connection")
    cur = psycopg.connect(dsn(args.pg)).cursor()
    if args.ndjson:
        path = Path(args.ndjson)
    else:
        path = Path(tempfile.mkdtemp(prefix="gapwatch-steps-")) / "mix.ndjson"
        with path.open("w") as out:
            for obs in generate(args.n, seed=7):
                out.write(dumps(obs) + "\n")

    def read() -> list[bytes]:
        with path.open("rb") as stream:
            lines = read_lines(stream, str(path))
            return [item.text for item in lines]  # type: ignore[union-attr]

    steps: list[tuple[str, float]] = []
    took, lines = timed(args.passes, read)
    n = len(lines)
    steps.append(("read (lines from the file)", took))
    took, decoded = timed(args.passes, lambda: [orjson.loads(line) for line in lines])
    steps.append(("parse (orjson.loads of the line)", took))

    def validate() -> list[Observation]:
        out = []
        for line, data in zip(lines, decoded, strict=True):
            check_storable(line)
            out.append(from_dict(data))
        return out

    took, observations = timed(args.passes, validate)
    steps.append(("validate (storable checks, from_dict)", took))

    def unique() -> int:
        pairs = zip(lines, decoded, strict=True)
        return sum(repeated_key(line, data) is not None for line, data in pairs)

    def unique_exact() -> int:
        return sum(next(_walk(json.loads(line, object_pairs_hook=_Object), ""), None) is not None
                   for line in lines)  # fmt: skip

    took, _ = timed(args.passes, unique)
    steps.append(("unique keys (recorder/uniquekeys.py, as ingest runs it)", took))
    took, _ = timed(args.passes, unique_exact)
    steps.append(("  its exact step on every line instead (what the colon count spares)", took))
    took, parsed = timed(
        args.passes, lambda: [parse_line(RawLine(i, line), "f") for i, line in enumerate(lines)]
    )
    steps.append(("parse_line: the above as the import runs them (the line's Observation)", took))
    assert all(isinstance(obs, Observation) for obs in parsed)
    took, rows = timed(args.passes, lambda: [prepare(obs)[1] for obs in observations])
    steps.append(("prepare (payload JSON, dedupe hash) of validate's Observations", took))
    took, rows = timed(args.passes, lambda: [prepare(obs)[1] for obs in parsed])
    steps.append(("prepare of parse_line's, as the import runs it", took))
    took, _ = timed(args.passes, lambda: encode(cur, copy_types(events, EVENT_COLUMNS), rows))
    steps.append(("events write_row (binary COPY data)", took))
    pairs = list(enumerate(observations, start=1))
    took, derived = timed(args.passes, lambda: derive_all(pairs))
    steps.append((f"derive ({len(derived):,} facts)", took))
    took, _ = timed(
        args.passes, lambda: encode(cur, copy_types(facts_table, FACT_COLUMNS), derived)
    )
    steps.append(("facts write_row (binary COPY data)", took))

    def handoff_observations() -> int:
        size = 0
        for i in range(0, n, BATCH):
            data = pickle.dumps(pairs[i : i + BATCH], protocol=5)
            size += len(data)
            pickle.loads(data)
        return size

    at = EVENT_COLUMNS.index("payload")
    sent: list[bytes] = []

    def pickle_rows() -> int:
        sent[:] = [
            pickle.dumps([(j, row) for j, row in enumerate(rows[i : i + BATCH], i + 1)], 5)
            for i in range(0, n, BATCH)
        ]
        return sum(len(data) for data in sent)

    def unpickle_rows() -> None:
        for data in sent:
            for _id, row in pickle.loads(data):
                orjson.loads(row[at])

    took, size = timed(args.passes, handoff_observations)
    steps.append((f"hand over (id, Observation): pickle + unpickle ({size / n:,.0f} B)", took))
    took, size = timed(args.passes, pickle_rows)
    steps.append((f"hand over events rows: pickle, the sender ({size / n:,.0f} B)", took))
    took, _ = timed(args.passes, unpickle_rows)
    steps.append(("hand over events rows: unpickle + payload loads, the receiver", took))
    print(f"{n:,} lines, {path.stat().st_size / n:,.0f} bytes a line; CPU us a line, min of "
          f"{args.passes} passes (process_time, one thread)")  # fmt: skip
    for label, took in steps:
        print(f"  {label:<72}{took / n * 1e6:>8.2f}")
    if not args.ndjson:  # the mix's file is ours
        path.unlink()
        path.parent.rmdir()


if __name__ == "__main__":
    main()
