"""Replay accuracy over a sweep of simulated runs: missed, false and uncertain-false windows, and
the class confusion matrix (true class x reported class, where one certain window reports one
true window alone).

    /work/.venv/bin/python benchmarks/accuracy.py [--seeds 40] [--periods 0.1,0.5,1,2,5]
        [--scenarios seed-3node,mitigated,aws-nlb] [--set key=value]... [--no-probes]
        [--jobs 2] [--show 10]

`--no-probes` drops every kube-proxy-probe observation (the proxy lane is then inferred).
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.replay.accuracy import Report, compare

CLASSES = (
    "registered-before-forwarding",
    "closed-before-deregistered",
    "pod-gone-before-deregistered",
    "node-not-ready",
)


def _one(job: tuple[str, int, dict[str, Any], bool]) -> Report:
    name, seed, overrides, no_probes = job
    drop = ("kube-proxy-probe",) if no_probes else ()
    return compare(name, seed, overrides, drop_sources=drop)


def print_report(total: Report, runs: int, show: int) -> None:
    print(f"runs {runs}  true windows {total.truth}  reported {total.found}")
    print(f"missed {len(total.missed)}  false (certain) {len(total.false)}")
    print(f"uncertain with no true window {total.uncertain_false}")
    wrong = len(total.wrong_class)
    share = wrong / total.matched if total.matched else 0.0
    print(f"matched alone {total.matched}  wrong class {wrong} ({share:.1%})")
    short = {c: "".join(p[0] for p in c.split("-")) for c in CLASSES}
    print(
        "confusion (rows: truth, columns: reported): "
        + ", ".join(f"{v}={k}" for k, v in short.items())
    )
    print(f"{'':>6}" + "".join(f"{short[c]:>7}" for c in CLASSES))
    for true_cls in CLASSES:
        row = [total.confusion.get((true_cls, got), 0) for got in CLASSES]
        print(f"{short[true_cls]:>6}" + "".join(f"{n:>7}" for n in row))
    for label, items in (
        ("missed", total.missed),
        ("false", total.false),
        ("wrong class", total.wrong_class),
    ):
        for item in items[:show]:
            print(f"  {label}: {item}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--periods", default="0.1,0.5,1,2,5")
    parser.add_argument("--scenarios", default="seed-3node,mitigated,aws-nlb")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-probes", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--show", type=int, default=10)
    args = parser.parse_args()
    extra = {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key] = yaml.safe_load(value)
    jobs = [
        (name, seed, {"observe.kube_proxy_period_s": float(p), **extra}, args.no_probes)
        for name in args.scenarios.split(",")
        for p in args.periods.split(",")
        for seed in range(1, args.seeds + 1)
    ]
    total = Report()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for report in pool.map(_one, jobs, chunksize=8):
            total.add(report)
    print_report(total, len(jobs), args.show)


if __name__ == "__main__":
    main()
