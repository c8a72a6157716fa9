"""Undecided windows against what the log measured: can the Service's measured lags say which
of a window's readings (`cls` or one in `also`) is the likelier? (docs/semantics.md, "The
likelier reading from measured lags").

For every reported window holding exactly one true window and naming other classes (`also`):
its verdict (right; wrong with the truth in `also`; wrong) and how many lags the Service
measured (replay.lags: the LB dropping a node, the LB taking it back, kube-proxy closing and
opening), against `min_measurements`. Then, for the unproven windows read as one of the two
unordered reactions to an endpoints excursion the LB's polls did not see
(replay.undecided.unseen_lb_excursion), an offline estimate of each order from the measured
lags, each taken as uniform over the sampling interval that bounds it (LagSample.lo_s/hi_s):

    P(rbf) = P(LB drop lag < min(kube-proxy's close, the excursion))
             * P(LB rise lag < kube-proxy's opening)
    P(cbd) = P(LB drop lag > kube-proxy's close)

kube-proxy's close and opening are uniform over the health-check samples that bound them, in
seconds after the loss and the return. Printed: what choosing the larger would change (where the
Service measured `min_measurements` of both LB lags), and how well the estimate and the
excursion's length (what replay.detect._dropped compares with the median drop lag) rank the
true `rbf` windows above the true `cbd` ones (AUC). Nothing here changes detection.

    .venv/bin/python benchmarks/undecided_lags.py --random 999 --first-seed 1 [--jobs 2]
    .venv/bin/python benchmarks/undecided_lags.py --large 3       # the `large` preset, 3 h

Development seeds only (it refuses seeds from 38,000,000, the held-out set).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.accuracy import random_case, refuse_held_out
from gapwatch.recorder.sim import SimResult, load_scenario, run
from gapwatch.recorder.timefmt import parse_time, to_micros
from gapwatch.replay.assumptions import DEFAULTS, seconds_us
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, fold, sorted_lane
from gapwatch.replay.lags import LagSample, lag_samples
from gapwatch.replay.measure import measured_settings
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.signals import steps_from_samples
from gapwatch.replay.undecided import also_classes, lb_excursion

RBF, CBD = "registered-before-forwarding", "closed-before-deregistered"
SHORT = {RBF: "rbf", CBD: "cbd", "pod-gone-before-deregistered": "pgbd", "node-not-ready": "nnr"}
#: the measured lags counted per Service: (kind, lag names, the change made the node usable)
KINDS = (
    ("lb-drop", ("ccm-deregister", "lb-health-down"), False),
    ("lb-rise", ("ccm-register", "lb-health-up"), True),
    ("proxy-close", ("kube-proxy-programming",), False),
    ("proxy-open", ("kube-proxy-programming",), True),
)
Interval = tuple[float, float]


class Row(NamedTuple):
    """One undecided window holding one true window."""

    where: str
    truth: str
    cls: str
    also: tuple[str, ...]
    certain: bool
    counts: dict[str, int]
    #: the offline estimate (P(rbf), P(cbd)) and the excursion's length (s), where made
    estimate: tuple[float, float] | None
    excursion_s: float | None


def measured(samples: Sequence[LagSample]) -> dict[str, list[Interval]]:
    """The Service's measured lags of each KINDS kind, as their sampling intervals (s)."""
    out: dict[str, list[Interval]] = {kind: [] for kind, _n, _u in KINDS}
    for s in samples:
        for kind, names, up in KINDS:
            if s.lag in names and s.up == up:
                lo = s.seconds if s.lo_s is None else s.lo_s
                out[kind].append((lo, s.seconds if s.hi_s is None else s.hi_s))
    return out


def below(lags: Sequence[Interval], x: float) -> float:
    """The share of the lags below `x`, each uniform over its interval."""
    total = 0.0
    for lo, hi in lags:
        if x >= hi:
            total += 1.0
        elif x > lo:
            total += (x - lo) / (hi - lo)
    return total / len(lags)


def mean_over(lo: float, hi: float, f: Callable[[float], float], n: int = 41) -> float:
    """The mean of `f` over [lo, hi] (midpoints of n slices; f(lo) where hi <= lo)."""
    if hi <= lo:
        return f(lo)
    return sum(f(lo + (hi - lo) * (i + 0.5) / n) for i in range(n)) / n


def order_estimate(
    lags: dict[str, list[Interval]],
    excursion_s: float,
    close: Interval,
    opened: Interval,
    poll_after_s: float,
) -> tuple[float, float]:
    """(P(rbf), P(cbd)) of an unseen excursion (module docstring): `close` in seconds after the
    loss, `opened` and `poll_after_s` (the LB's first look after the return) after the return."""
    drop, rise = lags["lb-drop"], lags["lb-rise"]
    dropped = mean_over(*close, lambda k: below(drop, min(k, excursion_s)))
    kept = mean_over(*close, lambda k: 1.0 - below(drop, k))
    back = mean_over(*opened, lambda k: below(rise, min(k, poll_after_s)))
    return dropped * back, kept


def _estimate(
    state: FoldState, w: Window, lags: dict[str, list[Interval]]
) -> tuple[tuple[float, float] | None, float | None]:
    """The order estimate of an unproven unordered window (None where it is not one, or
    kube-proxy's close and opening are not both bounded by health checks after the loss)."""
    svc, node = w.service, w.node
    settings = measured_settings(state, svc, DEFAULTS)
    skew = seconds_us(settings.watch_skew_s)
    eps = sorted_lane(state.endpoints.get((svc, node), []))
    targets = sorted_lane(state.probes["target"].get((svc, node), []))
    start, end = w.start_earliest_us, w.end_latest_us
    if w.certain or not also_classes(w.cls, eps, targets, start, end, skew):
        return None, None
    found = lb_excursion(eps, end, skew)
    health = sorted_lane(state.probes["health"].get((svc, node), []))
    if found is None or not health or not lags["lb-drop"] or not lags["lb-rise"]:
        return None, None
    lost, came = found
    steps = steps_from_samples(health, "200", False)
    close = next((s for s in steps if not s.value and s.latest >= lost), None)
    if close is None or close.earliest >= came:
        return None, None
    opened = next((s for s in steps if s.value and s.latest > close.latest), None)
    if opened is None:
        return None, None
    after = next((t.at_us for t in targets if t.at_us > came), None)
    poll_after = (after - came) / 1e6 if after is not None else float("inf")
    excursion = (came - lost) / 1e6
    k = (max(0.0, (close.earliest - lost) / 1e6), (close.latest - lost) / 1e6)
    o = (max(0.0, (opened.earliest - came) / 1e6), (opened.latest - came) / 1e6)
    return order_estimate(lags, excursion, k, o, poll_after), excursion


def rows_of(state: FoldState, truth: Sequence[tuple[str, int, int, str]], label: str) -> list[Row]:
    """The undecided windows of a replayed run holding one true window (node, start, end,
    class), with their Services' measured lag counts and the order estimate."""
    out: list[Row] = []
    by_svc: dict[ServiceRef, dict[str, list[Interval]]] = {}
    for w in detect(state):
        if not w.also:
            continue
        hits = [
            c
            for n, s, e, c in truth
            if n == w.node and s < w.end_latest_us and e > w.start_earliest_us
        ]
        if len(hits) != 1:
            continue
        if w.service not in by_svc:
            mine = measured_settings(state, w.service, DEFAULTS)
            by_svc[w.service] = measured(lag_samples(state, [w.service], mine))
        lags = by_svc[w.service]
        estimate, excursion = _estimate(state, w, lags)
        counts = {kind: len(v) for kind, v in lags.items()}
        out.append(
            Row(f"{label} {w.node}", hits[0], w.cls, w.also, w.certain, counts, estimate, excursion)
        )
    return out


def _replayed(result: SimResult) -> FoldState:
    facts = [f for i, obs in enumerate(result.observations, 1) for f in derive(i, obs)]
    return fold(FoldState(), facts)


def seed_rows(seed: int) -> list[Row]:
    result = run(random_case(seed, {}), seed=seed)
    truth = [
        (t.node, to_micros(parse_time(t.start)), to_micros(parse_time(t.end)), t.cls)
        for t in result.truth.windows
    ]
    return rows_of(_replayed(result), truth, str(seed))


def large_rows(hours: float) -> list[Row]:
    result = run(load_scenario("large", {"duration_s": hours * 3600}), seed=1)
    first = result.truth.windows[0]
    offset = to_micros(parse_time(first.start)) - first.start_us
    truth = [(t.node, t.start_us + offset, t.end_us + offset, t.cls) for t in result.truth.windows]
    return rows_of(_replayed(result), truth, "large")


def verdict(r: Row) -> str:
    return "right" if r.truth == r.cls else ("named" if r.truth in r.also else "wrong")


def auc(pos: Sequence[float], neg: Sequence[float]) -> str:
    """How often a true `rbf` window scores above a true `cbd` one (ties count half)."""
    if not pos or not neg:
        return "n/a"
    won = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return f"{won / (len(pos) * len(neg)):.3f}"


def report(rows: Sequence[Row], least: int) -> None:
    tally: Counter[tuple[str, str]] = Counter()
    for r in rows:
        v = verdict(r)
        tally[("all", v)] += 1
        for kind, n in r.counts.items():
            tally[(kind, v)] += n >= least
        tally[("every kind", v)] += min(r.counts.values()) >= least
    print(f"undecided windows holding one true window: {len(rows)}")
    print(f"  {'Service measured':<26} {'right':>6} {'named':>6} {'wrong':>6}")
    for key in ("all", *(f"{k}" for k, _n, _u in KINDS), "every kind"):
        label = key if key == "all" else f"{key} >= {least}"
        cells = "".join(f"{tally[(key, v)]:>7}" for v in ("right", "named", "wrong"))
        print(f"  {label:<26}{cells}")
    print("wrong classes (truth -> read, also, certainty, the Service's measured lags):")
    for r in rows:
        if verdict(r) != "right":
            counts = " ".join(f"{k} {n}" for k, n in r.counts.items())
            also = "/".join(SHORT[a] for a in r.also)
            print(
                f"  {r.where} {SHORT[r.truth]} -> {SHORT[r.cls]} also {also} "
                f"{'certain' if r.certain else 'uncertain'}; {counts}"
            )
    _report_estimate(rows, least)


def _report_estimate(rows: Sequence[Row], least: int) -> None:
    made = [r for r in rows if r.estimate is not None and r.truth in (RBF, CBD)]
    enough = [r for r in made if min(r.counts["lb-drop"], r.counts["lb-rise"]) >= least]
    print(
        f"unseen excursions read rbf/cbd (truth rbf or cbd) with an estimate: {len(made)}, "
        f"of them with >= {least} LB lags each way: {len(enough)}"
    )
    for label, pool in ((f">= {least} each way", enough), ("any number", made)):
        changed: Counter[str] = Counter()
        for r in pool:
            assert r.estimate is not None
            pick = RBF if r.estimate[0] > r.estimate[1] else CBD
            if pick != r.cls:
                changed["wrong -> right" if pick == r.truth else "right -> wrong"] += 1
        right = sum(r.cls == r.truth for r in pool)
        print(
            f"  {label}: read right now {right}/{len(pool)}; the larger estimate instead: "
            f"{changed['wrong -> right']} wrong -> right, {changed['right -> wrong']} "
            "right -> wrong"
        )
    for label, pool in (("all estimated", made), (f">= {least} each way", enough)):
        score = {id(r): r.estimate[0] / (sum(r.estimate) or 1.0) for r in pool if r.estimate}
        rbf = [r for r in pool if r.truth == RBF]
        cbd = [r for r in pool if r.truth == CBD]
        length = [r.excursion_s or 0.0 for r in rbf], [r.excursion_s or 0.0 for r in cbd]
        print(
            f"  {label}: rbf {len(rbf)}, cbd {len(cbd)}; AUC of the estimate "
            f"{auc([score[id(r)] for r in rbf], [score[id(r)] for r in cbd])}, "
            f"of the excursion's length {auc(*length)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--random", type=int, default=0, metavar="N")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--large", type=float, default=0.0, metavar="HOURS")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    started = time.monotonic()
    if args.large:
        rows = large_rows(args.large)
        print(f"the large preset, {args.large:g} h")
    elif args.random:
        seeds = range(args.first_seed, args.first_seed + args.random)
        refuse_held_out(parser, seeds)
        print(f"randomized scenarios: seeds {seeds.start}-{seeds.stop - 1} (development set)")
        rows = []
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for found in pool.map(seed_rows, seeds, chunksize=4):
                rows.extend(found)
    else:
        parser.error("--random N or --large HOURS")
    report(rows, DEFAULTS.min_measurements)
    print(f"wall time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
