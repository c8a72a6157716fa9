"""Soak: the recorder through a long lab run with every fault in turn (recorder/lab/soak.py).

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--speed 5] [--slot-s 300]
        [--faults watch-drop,gone-410,...] [--seed 1] [--sample-s 5] [--warmup-s 60]
        [--max-growth-mb-per-h 20] [--pg URL] [--keep]

Not part of CI: it runs for as long as asked. The lab (docs/lab.md) serves a 6-node AWS NLB
cluster (the `aws-nlb` preset's nodes and settings) over the real protocols, with a rollout every
10 simulated minutes, a pod crash every 7.5 and a drain and uncordon every 20, for `--minutes` of
wall time at `--speed` simulated seconds per wall second; two `gapwatch record` replicas record
it into a PostgreSQL with the server's default durability (started here unless `--pg`), while
the faults of `--faults` strike in turn, one every `--slot-s` simulated seconds (pg-stop only on
the server started here: it stops and starts it).

Prints, as `gapwatch lab` does: whether the recorded windows match the truth within the
sampling bounds (and the simulator's own observers, the baseline, replayed in the same run), and
per lane the transitions expected, lost, duplicated and unobservable; every fault's notes; then
per recorder process (each replica, and each one started after a kill) its resident memory
after `--warmup-s` of its life (first, last, highest, the least-squares slope in MB an hour),
open descriptors and threads (least and most). Exit 1 when a transition was lost or duplicated,
the windows differ, or a process that lived past its warm-up for a third of the run and at least
10 minutes grew faster than `--max-growth-mb-per-h`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.server import machine  # noqa: E402
from gapwatch.recorder.lab.faults import PG_STOP_SPOOL_BYTES  # noqa: E402
from gapwatch.recorder.lab.pg import LabStore  # noqa: E402
from gapwatch.recorder.lab.pgserver import start, stop  # noqa: E402
from gapwatch.recorder.lab.run import LabReport, run_lab  # noqa: E402
from gapwatch.recorder.lab.session import LabSettings  # noqa: E402
from gapwatch.recorder.lab.soak import DEFAULT_CYCLE, Sampler, Soak, growth  # noqa: E402

#: a process's memory is judged over at least this many minutes after its warm-up (a shorter
#: stretch shows the allocator settling, not a leak)
MIN_JUDGED_MIN = 10.0
#: transitions listed per lane and kind (lost, duplicated, unobservable); --json has them all
LISTED = 20
#: the node the drains take (the aws-nlb preset's second node)
DRAINED = "ip-10-0-1-11.ec2.internal"


def scenario(duration_s: float) -> dict[str, Any]:
    """The aws-nlb preset with changes spread over the whole run."""

    def every(at_s: float, every_s: float, **event: Any) -> dict[str, Any]:
        count = max(1, int((duration_s - at_s) // every_s))
        return {"at_s": at_s, "every_s": every_s, "count": count, **event}

    return {
        "preset": "aws-nlb",
        "name": "soak",
        "duration_s": duration_s,
        "events": [
            every(60, 600, action="rollout", workload="ingress"),
            every(300, 450, action="crash_pod", workload="ingress"),
            every(400, 1200, action="drain", node=DRAINED),
            every(700, 1200, action="uncordon", node=DRAINED),
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="wall minutes to run")
    parser.add_argument("--speed", type=float, default=5.0, help="simulated s per wall s")
    parser.add_argument("--slot-s", type=float, default=300.0, help="simulated s per fault")
    parser.add_argument("--faults", default=",".join(DEFAULT_CYCLE), help="the cycle, in order")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample-s", type=float, default=5.0, help="wall s between samples")
    parser.add_argument("--warmup-s", type=float, default=60.0, help="a process's warm-up")
    parser.add_argument("--max-growth-mb-per-h", type=float, default=20.0)
    parser.add_argument("--pg", help="a PostgreSQL server URL to record into (pg-stop skipped)")
    parser.add_argument("--keep", action="store_true", help="keep the store and its server")
    parser.add_argument("--json", type=Path, help="also write the lab's whole report here")
    args = parser.parse_args()

    duration_s = args.minutes * 60 * args.speed
    cycle = tuple(f.strip() for f in args.faults.split(",") if f.strip())
    workdir = Path(tempfile.mkdtemp(prefix="gapwatch-soak-", dir="/tmp"))
    path = workdir / "soak.yaml"
    path.write_text(yaml.safe_dump(scenario(duration_s), sort_keys=False))
    root = None
    if args.pg:
        store = LabStore(given=args.pg)
        server = args.pg
    else:
        root = workdir / "pg"
        server = start(root, durable=True)  # a soak measures what a user's server does
        store = LabStore(server=server, root=root)
    print(machine(server), file=sys.stderr)
    settings = LabSettings(scenario=str(path), seed=args.seed, speed=args.speed, keep=args.keep)
    fault = Soak(
        name="soak",
        seed=args.seed,
        cycle=cycle,
        slot_s=args.slot_s,
        spool_bytes=PG_STOP_SPOOL_BYTES if "pg-stop" in cycle else None,
    )
    began = time.time()
    sampler_box: list[Sampler] = []
    prepare = fault.prepare

    def prepare_and_sample(lab: Any) -> Any:
        sampler = Sampler(lab, every_s=args.sample_s)
        sampler.start()
        sampler_box.append(sampler)
        return prepare(lab)

    fault.prepare = prepare_and_sample  # type: ignore[method-assign]
    try:
        report = run_lab(settings, store, lambda line: print(line, file=sys.stderr), fault)
    finally:
        for sampler in sampler_box:
            sampler.stop()
        if root is not None and not args.keep:
            stop(root)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    wall_min = (time.time() - began) / 60
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_dict(), indent=2, default=str))
    samples = sampler_box[0].samples if sampler_box else []
    grown = growth(samples, args.warmup_s)
    return verdict(report, grown, wall_min, args)


def verdict(report: LabReport, grown: list[Any], wall_min: float, args: Any) -> int:
    print(f"soak: {wall_min:.1f} wall minutes, faults every {args.slot_s:.0f} simulated s")
    print(f"windows match the truth within the bounds: {not report.problems}")
    for problem in report.problems:
        print(f"  problem: {problem}")
    print(f"lab score {json.dumps(report.lab.as_dict())}")
    print(f"baseline score {json.dumps(report.baseline.as_dict())}")
    for lane, count in report.transitions.items():
        print(
            f"{lane}: expected {count.expected}, lost {len(count.lost)}, duplicated "
            f"{len(count.duplicated)}, unobservable {len(count.unobservable)}"
        )
        # what, not only how many: session 24's soak printed `lost 2` and nothing to place them
        for x in count.lost[:LISTED]:
            print(f"  lost {x[:200]}" + (f"\n    {count.around[x]}" if x in count.around else ""))
        for x in count.duplicated[:LISTED]:
            print(
                f"  duplicated {x[:200]}"
                + (f"\n    {count.around[x]}" if x in count.around else "")
            )
        for x in count.unobservable[:LISTED]:
            print(f"  unobservable {x[:200]}")
    for note in report.notes:
        print(f"  note: {note}")
    print("recorder processes after warm-up (memory MB first / last / highest, slope MB/h):")
    too_fast = []
    for g in grown:
        print(
            f"  pid {g.pid}: {g.minutes:.1f} min, {g.rss_first_mb:.1f} / {g.rss_last_mb:.1f} / "
            f"{g.rss_max_mb:.1f}, {g.slope_mb_per_h:+.1f} MB/h (last/first "
            f"{g.rss_last_mb / g.rss_first_mb:.2f}); fds {g.fds[0]}-{g.fds[1]}, threads "
            f"{g.threads[0]}-{g.threads[1]}"
        )
        judged = g.minutes >= max(wall_min / 3, MIN_JUDGED_MIN)
        if judged and g.slope_mb_per_h > args.max_growth_mb_per_h:
            too_fast.append(g.pid)
    ok = report.ok and not too_fast
    if too_fast:
        print(f"memory grew faster than {args.max_growth_mb_per_h} MB/h: pid {too_fast}")
    print(f"soak {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
