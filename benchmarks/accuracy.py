"""Replay accuracy against the simulator's ground truth: recall, certain and uncertain false
windows, class accuracy on matched windows, bound widths against the sampling intervals, and the
class confusion matrix (true class x reported class).

Out of sample (the figure docs/semantics.md reports): randomized scenarios from
recorder/sim/generate.py, heavy-tailed lags, default assumptions. Seeds are split once:

- development set: every seed below HELD_OUT_FROM (38,000,000): seeds 1-999 and the spent
  held-out sets 1,000,000-, 2,000,000-, 3,000,000-, 4,000,000-, 5,000,000-, 6,000,000-,
  7,000,000-, 8,000,000-, 9,000,000-9,000,999, 10,000,000-10,000,999, 11,000,000-11,000,999,
  12,000,000-12,000,999, 13,000,000-13,000,999 and 14,000,000-14,000,999, and
  15,000,000-15,000,999 (two of its seeds were run once by mistake in session 18),
  16,000,000-16,000,999 (run once in session 19), 17,000,000-17,000,999 (run once in
  session 20), 18,000,000-18,000,999 and 19,000,000-19,000,999 (run once each in session 21),
  20,000,000-20,000,999 (run once in session 23, with and without NodePort probes),
  21,000,000-21,000,999 (run once in session 24, each way and without any probe),
  22,000,000-22,000,999 (run once in session 25, each way and without any probe),
  23,000,000-23,000,999 (run once in session 26, each way and without any probe),
  24,000,000-24,000,999 (run once in session 27, each way and without any probe),
  25,000,000-25,000,999 (run once in session 28, each way and without any probe),
  26,000,000-26,000,999 (run once in session 29, each way and without any probe),
  27,000,000-27,000,999 (run once in session 30, each way, with /configz and without any probe)
  28,000,000-28,000,999 (run once in session 31, each way, with /configz and without any probe),
  29,000,000-29,000,999 (run once in session 32, each way, with /configz, without any probe and
  with --mixed-proxy), 30,000,000-30,000,999 (run once in session 33, the same six ways),
  31,000,000-31,000,999 (run once in session 34, the same six ways),
  32,000,000-32,000,999 (run once in session 35, the same six ways),
  33,000,000-33,000,999 (run once in session 36, the same six ways),
  34,000,000-34,000,999 (run once in session 37, the same six ways),
  35,000,000-35,000,999 (run once in session 38, the same six ways),
  36,000,000-36,000,999 (run once in session 39, the same six ways),
  37,000,000-37,000,999 (run once in session 40, the same six ways)
  (looked at while writing rules, or run once and so spent);
- held-out set: seeds from 38,000,000 (never looked at while writing rules; run once, on the
  final rules, and reported in docs/semantics.md).

    .venv/bin/python benchmarks/accuracy.py --random 1000 --first-seed 38000000 --held-out
    .venv/bin/python benchmarks/accuracy.py --random 200            # development seeds 1-200
    .venv/bin/python benchmarks/accuracy.py --random 999 --explain  # each wrong class, with
        # its window, also, certainty, bounds and every lane's samples around it
    .venv/bin/python benchmarks/accuracy.py --random 999 --misses   # each missed true window:
        # duration, probe and poll periods, looks inside it, every lane's samples around it

The preset sweep (the old in-sample figure):

    .venv/bin/python benchmarks/accuracy.py [--seeds 40] [--periods 0.1,0.5,1,2,5]
        [--scenarios seed-3node,mitigated,aws-nlb] [--set key=value]... [--no-probes]

With `--random`, `--set observe.KEY=VALUE` changes how every scenario is observed (e.g.
`--set observe.kube_proxy_period_s=0.1 --set observe.lb_poll_period_s=1`: the densest sampling
the generator draws, for all runs; docs/semantics.md "Accuracy against sampling density").

`--no-probes` drops every kube-proxy-probe observation (the proxy lane is then inferred).
`--without-nodeport` drops the NodePort connect probes (NodePortProbe) of every Service with a
health-check node port: what the recorder stores under its default `nodeport: fallback`
(docs/kubeproxy.md), where the simulator's prober looks at both ports; a Service of type
NodePort (none) keeps its NodePort probes, as the recorder's fallback does.
`--with-metrics`, `--with-configz` and `--with-cloudtrail` (off by default: the headline figure is
without them) let the simulator also observe kube-proxy's sync metrics on the probe grid, its
/configz (its ProxyTerminatingEndpoints gate as configured) and the CCM's CloudTrail calls
(recorder/sim/evidence.py); with `--random` or with the preset sweep. The metrics are scraped on
the probe grid unless `--set observe.kube_proxy_metrics_interval_s=15` sets the recorder's
`metrics_interval_s` (deploy/'s node agent: 15 s).
`--mixed-proxy` lets the randomized runs draw kube-proxy's configuration apart
(recorder.sim.generate.with_mixed_proxy: IPVS with or without kubernetes#97081, the
ProxyTerminatingEndpoints gate set apart on some nodes from the start or rolled out mid-run);
without it every run is the one the other figures measure.
`--with-access-log` gives the randomized runs whose listener is `http` client traffic and the
ALB's access log (recorder.sim.generate.with_access_log: failed and a sample of successful
requests); `--listener http|tcp` keeps only the runs whose LB listener is that one.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gapwatch.recorder.sim import from_dict
from gapwatch.recorder.sim.generate import random_scenario, with_access_log, with_mixed_proxy
from gapwatch.replay.model import WINDOW_CLASSES
from tests.replay.accuracy import Report, compare, compare_scenario

#: Seeds at or above this are the held-out set; below it, the development set.
HELD_OUT_FROM = 38_000_000


def refuse_held_out(
    parser: argparse.ArgumentParser, seeds: range, held_out_flag: bool | None = None
) -> None:
    """Stop (usage error) before any run if `seeds` reach HELD_OUT_FROM: running them spends
    them. `held_out_flag`: the tool's --held-out (given: they run); None: the tool never runs
    them."""
    if seeds.stop <= HELD_OUT_FROM or held_out_flag:
        return
    how = (
        "pass --held-out to run them (once, on the final rules)"
        if held_out_flag is not None
        else "development seeds only for this tool"
    )
    parser.error(
        f"seeds from {HELD_OUT_FROM:,} are the held-out set: running them spends them; {how}"
    )


#: the observation sources `--no-probes` leaves out: every kube-proxy probe, either port
NO_PROBES = ("kube-proxy-probe",)


def evidence_options(
    metrics: bool, cloudtrail: bool, access_log: bool = False, configz: bool = False
) -> dict[str, bool]:
    """The observation options of the `--with-metrics` / `--with-cloudtrail` /
    `--with-access-log` / `--with-configz` flags (only the ones set: a scenario without them is
    exactly the default one)."""
    out = {}
    if metrics:
        out["kube_proxy_metrics"] = True
    if configz:
        out["kube_proxy_configz"] = True
    if cloudtrail:
        out["cloudtrail"] = True
    if access_log:
        out["access_log"] = True
    return out


def observe_settings(items: list[str], parser: argparse.ArgumentParser) -> dict[str, Any]:
    """`--set observe.KEY=VALUE` for randomized scenarios: how the run is observed (the probe
    and poll periods, say), never the generated world's own parameters. The simulator draws
    its observations from the run's generator, so another period is another draw of the same
    seed's world: compare sets of runs, not one seed's windows."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("observe."):
            parser.error(f"--set {item!r}: with --random only observe.KEY=VALUE may be set")
        out[key.removeprefix("observe.")] = yaml.safe_load(value)
    return out


def random_case(seed: int, options: dict[str, Any]) -> Any:
    """The randomized scenario of `seed`, observed with `options` (evidence_options, and any
    `--set observe.KEY=VALUE`)."""
    data = random_scenario(seed)
    options = dict(options)
    if options.pop("mixed_proxy", False):
        data = with_mixed_proxy(data, seed)
    if options.get("access_log"):
        data = with_access_log(data, seed)
    data["observe"].update(options)
    return from_dict(data, f"random scenario {seed}")


def listener_of(seed: int) -> str:
    """The LB listener the randomized scenario of `seed` draws (`http` or `tcp`)."""
    return str(random_scenario(seed)["lb"]["listener"])


def _preset(job: tuple[str, int, dict[str, Any], bool, bool, bool]) -> Report:
    name, seed, overrides, no_probes, misses, fallback = job
    drop = NO_PROBES if no_probes else ()
    return compare(
        name, seed, overrides, drop_sources=drop, without_nodeport=fallback, misses=misses
    )


def _random(job: tuple[int, bool, bool, dict[str, Any], bool, bool]) -> Report:
    seed, no_probes, explain, options, misses, fallback = job
    scenario = random_case(seed, options)
    drop = NO_PROBES if no_probes else ()
    return compare_scenario(
        scenario, seed, drop_sources=drop, without_nodeport=fallback, explain=explain, misses=misses
    )


def _matrix(confusion: Any, title: str) -> None:
    short = {c: "".join(p[0] for p in c.split("-")) for c in WINDOW_CLASSES}
    print(f"{title} (rows: truth, columns: reported): "
          + ", ".join(f"{v}={k}" for k, v in short.items()))  # fmt: skip
    print(f"{'':>6}" + "".join(f"{short[c]:>7}" for c in WINDOW_CLASSES))
    for true_cls in WINDOW_CLASSES:
        row = [confusion.get((true_cls, got), 0) for got in WINDOW_CLASSES]
        print(f"{short[true_cls]:>6}" + "".join(f"{n:>7}" for n in row))


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.2%}" if whole else "n/a"


def print_report(total: Report, runs: int, show: int) -> None:
    covered = total.truth - len(total.missed)
    print(f"runs {runs}  true windows {total.truth}  reported windows {total.found}")
    print(f"recall {covered}/{total.truth} = {_share(covered, total.truth)}")
    by_class = Counter(item.split()[2] for item in total.missed)
    print(
        "missed by true class: "
        + (", ".join(f"{k} {v}" for k, v in sorted(by_class.items())) or "none")
    )
    print(f"certain false positives {len(total.false)}")
    print(
        f"uncertain false positives {total.uncertain_false} "
        f"= {_share(total.uncertain_false, total.found)} of reported windows"
    )
    any_matched = sum(total.confusion_any.values())
    right_any = sum(n for (t, got), n in total.confusion_any.items() if t == got)
    print(
        f"class accuracy, windows holding one true window: {right_any}/{any_matched} "
        f"= {_share(right_any, any_matched)}"
    )
    print(
        f"undecided (another class possible too), windows holding one true window: "
        f"{total.undecided}/{any_matched}; wrong class with the truth among the others: "
        f"{total.undecided_wrong}; wrong and not undecided: "
        f"{any_matched - right_any - total.undecided_wrong}"
    )
    wrong = len(total.wrong_class)
    print(
        f"class accuracy, certain windows holding one true window: "
        f"{total.matched - wrong}/{total.matched} = {_share(total.matched - wrong, total.matched)}"
        f"; wrong with the truth among the others: {total.certain_wrong_named}; wrong and not "
        f"undecided: {wrong - total.certain_wrong_named}"
    )
    if total.found:
        width = total.width_s / total.found
        interval = total.interval_s / total.found
        print(
            f"mean bound width {width:.2f} s vs mean sampling interval {interval:.2f} s "
            f"(ratio {width / interval:.2f})"
        )
    _matrix(total.confusion_any, "confusion, all matched")
    _matrix(total.confusion, "confusion, certain matched")
    for label, items in (
        ("missed", total.missed),
        ("false", total.false),
        ("wrong class", total.wrong_class),
        ("wrong class (any)", total.wrong_any),
    ):
        for item in items[:show]:
            print(f"  {label}: {item}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--random", type=int, default=0, metavar="N",
                        help="N randomized scenarios instead of the preset sweep")  # fmt: skip
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--periods", default="0.1,0.5,1,2,5")
    parser.add_argument("--scenarios", default="seed-3node,mitigated,aws-nlb")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-probes", action="store_true")
    without_nodeport = (
        "replay without the NodePort connect probes (NodePortProbe) of a Service with a "
        "health-check node port, as the recorder records under its default `nodeport: fallback`"
    )
    parser.add_argument("--without-nodeport", action="store_true", help=without_nodeport)
    parser.add_argument("--with-metrics", action="store_true",
                        help="also observe kube-proxy's sync metrics (ProxyMetrics)")  # fmt: skip
    parser.add_argument("--with-configz", action="store_true",
                        help="also read kube-proxy's /configz (ProxyConfig)")  # fmt: skip
    parser.add_argument("--with-cloudtrail", action="store_true",
                        help="also observe the CCM's CloudTrail calls (TargetChange)")  # fmt: skip
    parser.add_argument("--with-access-log", action="store_true",
                        help="HTTP listeners: client traffic and the ALB's access log")  # fmt: skip
    mixed = "with --random: draw kube-proxy's mode and per-node gate apart (module docstring)"
    parser.add_argument("--mixed-proxy", action="store_true", help=mixed)
    parser.add_argument("--listener", choices=("http", "tcp"),
                        help="with --random: only the runs whose LB listener is this")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--show", type=int, default=10)
    explain = "print each wrong class with its window, bounds and the lane samples around it"
    parser.add_argument("--explain", action="store_true", help=explain)
    misses = (
        "print each missed true window with its duration, the probe and poll periods, how "
        "many looks of each fell inside it, and its lanes' samples around it"
    )
    parser.add_argument("--misses", action="store_true", help=misses)
    held_out = (
        f"run seeds from HELD_OUT_FROM ({HELD_OUT_FROM:,}): the held-out set, once, on the final "
        "rules (a run spends the seeds; without this flag they are refused)"
    )
    parser.add_argument("--held-out", action="store_true", help=held_out)
    args = parser.parse_args()
    if args.random:
        refuse_held_out(
            parser, range(args.first_seed, args.first_seed + args.random), args.held_out
        )
    options: dict[str, Any] = dict(
        evidence_options(
            args.with_metrics, args.with_cloudtrail, args.with_access_log, args.with_configz
        )
    )
    if args.mixed_proxy:
        if not args.random:
            parser.error("--mixed-proxy: with --random only")
        options["mixed_proxy"] = True
    total = Report()
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        if args.random:
            span = range(args.first_seed, args.first_seed + args.random)
            held = sum(1 for s in span if s >= HELD_OUT_FROM)
            seeds = [s for s in span if not args.listener or listener_of(s) == args.listener]
            only = f", {args.listener} listeners only" if args.listener else ""
            print(f"randomized scenarios: seeds {span.start}-{span.stop - 1} "
                  f"({'held-out' if held else 'development'} set{only})")  # fmt: skip
            runs = len(seeds)
            options.update(observe_settings(args.set, parser))
            jobs_ = [
                (s, args.no_probes, args.explain, options, args.misses, args.without_nodeport)
                for s in seeds
            ]
            for report in pool.map(_random, jobs_, chunksize=4):
                total.add(report)
        else:
            extra: dict[str, Any] = {f"observe.{k}": v for k, v in options.items()}
            for item in args.set:
                key, _, value = item.partition("=")
                extra[key] = yaml.safe_load(value)
            flags = (args.no_probes, args.misses, args.without_nodeport)
            jobs = [
                (name, seed, {"observe.kube_proxy_period_s": float(p), **extra}, *flags)
                for name in args.scenarios.split(",")
                for p in args.periods.split(",")
                for seed in range(1, args.seeds + 1)
            ]
            runs = len(jobs)
            for report in pool.map(_preset, jobs, chunksize=8):
                total.add(report)
    print_report(total, runs, args.show)
    for line in total.explained + total.missed_explained:
        print(line)
    print(f"wall time {time.monotonic() - started:.0f} s with {args.jobs} jobs")


if __name__ == "__main__":
    main()
