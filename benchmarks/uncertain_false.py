"""Uncertain false windows by cause: the uncertain windows of randomized scenarios that hold no
true window, broken down by what made them possible, their width, and how near the truth was.

    .venv/bin/python benchmarks/uncertain_false.py --random 999 --first-seed 1 [--jobs 2]
    .venv/bin/python benchmarks/uncertain_false.py --random 1000 --first-seed 5000000
    [--with-metrics] [--with-cloudtrail] [--with-access-log] [--with-configz]   # as accuracy.py's
    [--without-nodeport]   # as accuracy.py's: the NodePort probes the recorder's default keeps
    [--no-probes]          # as accuracy.py's: no kube-proxy probe at all (neither port)
    [--set observe.KEY=VALUE]...           # as accuracy.py's: one sampling setting for every run

Development seeds only (below benchmarks.accuracy.HELD_OUT_FROM). A window's *cause* says which
lanes' own sampled changes it lies on: a change of F (the NodePort probe, else the health
check) and a change of R (the LB poll) whose order between the same looks is open; one of them
while the other signal changed unseen (an endpoints excursion or a pod death between two probes,
fail-open or a move between two polls); or neither. Its *side* says which
signal the samples left open inside it (docs/semantics.md, "R and F as uncertain signals"):

- `F open, R sure`: the LB surely routed somewhere in it and kube-proxy possibly did not
  forward (an unseen excursion between two probes, or F inferred from the endpoints);
- `R open, F sure`: kube-proxy surely did not forward and the LB possibly still routed (the
  LB's change fell between two polls, or R inferred);
- `both open`: neither is sure anywhere in it (R's and F's changes fell between the same looks:
  which came first is what the samples do not order).

The *source* names each side's lane (probe: NodePort probe; health: health-check-node-port;
inferred: no probe, from the endpoints; polled: TargetHealth; inferred-lb: no LB data). *Near*
is the gap between the window's bounds and the nearest true window on its node (`none` when the
node has no true window in the run): a true window just outside is a bounds question, not a
false window. *Excursion*: the node's ready endpoints were lost inside the window's bounds (a
pod change there) and came back; *death*: a local pod was seen stopped inside them. *Next to a
certain window*: a certain window on the same node ends or starts within 1 s of it.

Since session 38 the uncertain windows that hold a true window are read with the same columns:
each cause (and cause / side, cause / what would have decided it) prints its false count beside
theirs, the true windows a rule removing the whole group would lose with it; and the false
windows are split into those whose *shape* (`_SHAPE`: cause, side, class, CCM mode, PTE, what
would have decided it, the lag bound) some uncertain window holding a true one has too, which no
rule reading only the shape can remove without recall lost, and those in a shape of their own.

`--ceilings` (session 39) detects each run twice more, as if the log had what no recording shows
(`CEILINGS`: every node's clock exact, `node_clock_s` 0; kube-proxy's lag bound 10 s,
`proxy_lag_max_s`), and says per false window which ceiling takes it (no false window of the run
overlaps it on its node any more): the node clock alone, the lag bound alone, only both together,
or neither (`left`: what waits on looks the recording does not have, or on a rule reading more
than these columns). The left ones are printed by cause, side, class and CCM mode.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.accuracy import (
    NO_PROBES,
    evidence_options,
    observe_settings,
    random_case,
    refuse_held_out,
)
from gapwatch.recorder.sim import run
from gapwatch.recorder.timefmt import parse_time, to_micros
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.context import ccm_mode
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, Sample, fold, sorted_lane
from gapwatch.replay.lanes import lanes
from gapwatch.replay.measure import measured_settings
from gapwatch.replay.membership import EVENT_TIME_RESOLUTION_US, member_lanes
from gapwatch.replay.model import Window
from gapwatch.replay.openness import Openness, change_bracket, read
from gapwatch.replay.proxy import proxy_lag_hi, proxy_lag_measured, pte_sure
from gapwatch.replay.unseen import pod_deaths
from tests.replay.accuracy import nodeport_fallback

#: One uncertain false window's features: side, F source, R source, width bucket, near bucket,
#: excursion, death, next to a certain window, class, CCM mode, ProxyTerminatingEndpoints, LB
#: poll period, probe period (the scenario's), cause, what the extra observations could order,
#: the access log's lines inside, what would have decided it (replay.openness's kinds), its
#: width in seconds, where it is (seed, node, start_earliest..end_latest) for `--list`, the
#: kube-proxy lag bound its Service read (`_lag_bound`), and which ceiling takes it (`_taken`;
#: empty without `--ceilings`).
Row = tuple[
    str,
    str,
    str,
    str,
    str,
    bool,
    bool,
    bool,
    str,
    str,
    str,
    str,
    str,
    str,
    str,
    str,
    str,
    float,
    str,
    str,
    str,
]
#: replay.openness's sides as this table names them
_SIDES = {
    "order": "both open",
    "kube-proxy": "F open, R sure",
    "lb": "R open, F sure",
    "apart": "each sure apart",
}

_WIDTHS = ((1.0, "<1 s"), (5.0, "1-5 s"), (20.0, "5-20 s"), (float("inf"), ">=20 s"))
_NEAR = ((1.0, "<1 s"), (5.0, "1-5 s"), (float("inf"), ">=5 s"))
_PERIODS = ((1.0, "<1 s"), (2.01, "1-2 s"), (5.01, "2-5 s"), (float("inf"), ">5 s"))


#: Settings no recording shows, as the ceilings of session 38 (docs/semantics.md, "Uncertain
#: false windows, session 38"): every node's clock exact, and a 10 s kube-proxy lag bound where
#: no measured one replaces it. Measurement only: never a default.
CEILINGS: dict[str, DetectSettings] = {
    "the node clock": dataclasses.replace(DEFAULTS, node_clock_s=0.0),
    "the lag bound": dataclasses.replace(DEFAULTS, proxy_lag_max_s=10.0),
}
_BOTH = dataclasses.replace(CEILINGS["the node clock"], proxy_lag_max_s=10.0)


def _false(found: list[Window], truth: dict[str, list[tuple[int, int]]]) -> list[Window]:
    """The windows (certain or not) that overlap no true window on their node."""
    return [
        w
        for w in found
        if not any(
            s < w.end_latest_us and e > w.start_earliest_us for s, e in truth.get(w.node, [])
        )
    ]


def _taken(w: Window, under: dict[str, list[Window]]) -> str:
    """Which ceiling takes the false window `w`: a setting takes it when no false window it
    finds overlaps `w` on its Service and node (`under`: each ceiling's false windows, and
    both's under "both")."""

    def kept(found: list[Window]) -> bool:
        return any(
            o.node == w.node
            and o.service == w.service
            and o.start_earliest_us < w.end_latest_us
            and o.end_latest_us > w.start_earliest_us
            for o in found
        )

    if kept(under["both"]):
        return "left"
    for name in CEILINGS:
        if not kept(under[name]):
            return f"{name} alone"
    return "only both together"


def _bucket(value: float, edges: Iterable[tuple[float, str]]) -> str:
    return next(label for edge, label in edges if value < edge)


def _rows(job: tuple[int, dict[str, Any], bool, bool, bool]) -> tuple[list[Row], list[Row]]:
    """The run's uncertain false windows, and its uncertain windows that hold a true window
    (the same features: what a rule that removes a kind of window would lose with it)."""
    seed, options, fallback, no_probes, ceilings = job
    scenario = random_case(seed, options)
    result = run(scenario, seed=seed)
    dropped = NO_PROBES if no_probes else ()
    observations = [o for o in result.observations if o.source not in dropped]
    observations = nodeport_fallback(observations) if fallback else observations
    periods = (
        _bucket(scenario.observe.lb_poll_period_s, _PERIODS),
        _bucket(scenario.observe.kube_proxy_period_s, _PERIODS),
    )
    facts = []
    for event_id, obs in enumerate(observations, start=1):
        facts.extend(derive(event_id, obs))
    state = fold(FoldState(), facts)
    found = detect(state, settings=DEFAULTS)
    truth: dict[str, list[tuple[int, int]]] = {}
    for t in result.truth.windows:
        truth.setdefault(t.node, []).append(
            (to_micros(parse_time(t.start)), to_micros(parse_time(t.end)))
        )
    under: dict[str, list[Window]] = {}
    if ceilings:
        under = {name: _false(detect(state, settings=c), truth) for name, c in CEILINGS.items()}
        under["both"] = _false(detect(state, settings=_BOTH), truth)
    out: list[Row] = []
    held: list[Row] = []
    for w in found:
        mine = truth.get(w.node, [])
        lo, hi = w.start_earliest_us, w.end_latest_us
        if w.certain:
            continue
        inside = [(s, e) for s, e in mine if s < hi and e > lo]
        features, why = _features(state, w, mine, found)
        decide = "+".join(kind for kind, _text in why.decide) or "looks inside already, or narrow"
        where = f"{seed} {w.node} {w.cls} {lo}..{hi}"
        (held if inside else out).append(
            (
                *features,
                *periods,
                _cause(state, w),
                _orderable(state, w),
                _lines(state, w),
                decide,
                (hi - lo) / 1e6,
                where,
                _lag_bound(state, w),
                _taken(w, under) if under and not inside else "",
            )
        )
    return out, held


def _features(
    state: FoldState, w: Window, mine: list[tuple[int, int]], found: list[Window]
) -> tuple[tuple[str, str, str, str, str, bool, bool, bool, str, str, str], Openness]:
    svc, node = w.service, w.node
    settings = measured_settings(state, svc, DEFAULTS)
    lanes_ = lanes(state, svc, node, settings, proxy_lag_hi(state, svc, settings))
    lo, hi = w.start_earliest_us, w.end_latest_us
    why = read(state, w, lanes_)
    side = _SIDES[why.side]
    probes = state.probes
    f_src = (
        "probe"
        if probes["nodeport"].get((svc, node))
        else "health"
        if probes["health"].get((svc, node))
        else "inferred"
    )
    r_src = "polled" if probes["target"].get((svc, node)) else "inferred-lb"
    width = _bucket((hi - lo) / 1e6, _WIDTHS)
    gaps = [max(s - hi, lo - e) for s, e in mine]
    near = _bucket(min(gaps) / 1e6, _NEAR) if gaps else "none"
    eps = lanes_.eps
    lost = any(
        lo <= eps[i].at_us <= hi and eps[i - 1].value == "ready" and eps[i].value != "ready"
        for i in range(1, len(eps))
    )
    died = any(lo <= d <= hi for d in pod_deaths(state, svc, node))
    second = 1_000_000
    beside = any(
        o.certain
        and o.node == node
        and o.service == svc
        and (abs(o.end_latest_us - lo) <= second or abs(hi - o.start_earliest_us) <= second)
        for o in found
    )
    pte = "PTE proven" if pte_sure(state, svc.cluster, node, settings) else "PTE not proven"
    mode = f"{ccm_mode(state, svc, settings)}-driven"
    return (side, f_src, r_src, width, near, lost, died, beside, w.cls, mode, pte), why


def _lag_bound(state: FoldState, w: Window) -> str:
    """The largest kube-proxy lag the Service's windows assume (replay.proxy.proxy_lag_hi): the
    `proxy_lag_max_s` assumption where fewer than `min_measurements` lags were measured (and
    whether any was: what a smaller `min_measurements` would have to go on), else the measured
    bound, bucketed."""
    settings = measured_settings(state, w.service, DEFAULTS)
    measured = proxy_lag_measured(state, w.service, settings)
    if measured < settings.min_measurements:
        few = "none measured" if not measured else f"1-{settings.min_measurements - 1} measured"
        return f"lag bound assumed ({settings.proxy_lag_max_s:g} s), {few}"
    hi = proxy_lag_hi(state, w.service, settings) / 1e6
    return "lag bound measured, < 5 s" if hi < 5 else "lag bound measured, >= 5 s"


def _changed(lane: list[Sample], good: str, initial: bool, lo: int, hi: int) -> bool:
    """A change of the sampled lane whose looks touch [lo, hi] (replay.openness)."""
    return change_bracket(lane, good, initial, lo, hi) is not None


def _cause(state: FoldState, w: Window) -> str:
    """Which lanes' own sampled changes the window lies on: both (their order between the same
    looks is what is open), one, or neither (an excursion no sample showed, or fail-open)."""
    key = (w.service, w.node)
    lo, hi = w.start_earliest_us, w.end_latest_us
    f_lane = sorted_lane(state.probes["nodeport"].get(key, []))
    if f_lane:
        f = _changed(f_lane, "connected", True, lo, hi)
    else:
        f = _changed(sorted_lane(state.probes["health"].get(key, [])), "200", True, lo, hi)
    r = _changed(sorted_lane(state.probes["target"].get(key, [])), "healthy", False, lo, hi)
    return {
        (True, True): "order of a sampled F change and a sampled R change",
        (True, False): "a sampled F change, R unseen (fail-open, a CCM move between polls)",
        (False, True): "a sampled R change, F unseen (excursion or death between probes)",
        (False, False): "neither lane changed in its samples",
    }[(f, r)]


def _orderable(state: FoldState, w: Window) -> str:
    """What the extra observations (`--with-metrics`, `--with-cloudtrail`) hold inside the
    window's bounds, i.e. what could order its F and R changes: a rules sync kube-proxy's metrics
    show ending there (F's change, if kube-proxy's, lies at or before it), a CloudTrail call of
    the node there (R's change lies after it)."""
    lo, hi = w.start_earliest_us, w.end_latest_us
    looks = state.syncs.get((w.service.cluster, w.node), [])
    sync = any(x.complete and lo < x.synced_us <= hi for x in looks)
    calls = member_lanes(state).get((w.service, w.node), [])
    call = any(lo - EVENT_TIME_RESOLUTION_US <= c.at_us <= hi for c in calls)
    return {
        (True, True): "a sync and a call inside",
        (True, False): "a sync inside",
        (False, True): "a call inside",
        (False, False): "neither inside",
    }[(sync, call)]


def _lines(state: FoldState, w: Window) -> str:
    """Which access-log lines of the window's node (`--with-access-log`) lie inside its bounds:
    a failed one (the LB's own 502 with no target answer: a gap there), else a successful one
    (the target answered: the LB routed there and the node served at that instant), else
    none; `no access log` where the Service has no line at all."""
    lines = [s for (svc, _n), got in state.access.items() if svc == w.service for s in got]
    if not lines:
        return "no access log"
    mine = state.access.get((w.service, w.node), [])
    inside = [s for s in mine if w.start_earliest_us <= s.at_us <= w.end_latest_us]
    if any(s.num for s in inside):
        return "a failed line inside"
    return "a success inside" if inside else "no line inside"


def _table(rows: list[Row], index: int | tuple[int, ...], title: str) -> None:
    keys = (index,) if isinstance(index, int) else index
    counts = Counter(tuple(str(r[k]) for k in keys) for r in rows)
    print(f"{title}:")
    for key, n in counts.most_common():
        print(f"  {' / '.join(key):<58} {n:>5}  {n / len(rows):6.1%}")


def _widths(rows: list[Row], index: int | tuple[int, ...], title: str) -> None:
    """Count, share and mean width (start_earliest..end_latest) by one column or several."""
    keys = (index,) if isinstance(index, int) else index
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(" / ".join(str(r[k]) for k in keys), []).append(r[17])
    print(f"{title}:")
    for key, got in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        share = len(got) / len(rows)
        print(f"  {key:<58} {len(got):>5}  {share:6.1%}  mean {sum(got) / len(got):6.2f} s")


#: the columns a window's shape is read by in `_shared`: cause, side, class, CCM mode, PTE, what
#: would have decided it (replay.openness), the kube-proxy lag bound its Service read
_SHAPE = (13, 0, 8, 9, 10, 16, 19)


def _against(false: list[Row], held: list[Row], keys: tuple[int, ...], title: str) -> None:
    """Each group's uncertain false windows beside its uncertain windows that hold a true
    window: a rule that removed the whole group would remove the second count of true windows
    with the first (recall lost) unless it reads something the group's columns do not."""
    f = Counter(" / ".join(str(r[k]) for k in keys) for r in false)
    t = Counter(" / ".join(str(r[k]) for k in keys) for r in held)
    print(f"{title}: uncertain false / uncertain holding a true window:")
    for key in sorted(set(f) | set(t), key=lambda k: (-f[k], -t[k], k)):
        print(f"  {key:<58} {f[key]:>5} {t[key]:>5}")


def _shared(false: list[Row], held: list[Row]) -> None:
    """How many uncertain false windows share their shape (`_SHAPE`) with an uncertain window
    that holds a true window, per cause: no rule that reads only the shape removes them without
    recall lost; the rest are where a rule could start."""
    shapes = {tuple(r[k] for k in _SHAPE) for r in held}
    shared = Counter(r[13] for r in false if tuple(r[k] for k in _SHAPE) in shapes)
    alone = Counter(r[13] for r in false if tuple(r[k] for k in _SHAPE) not in shapes)
    print("cause: uncertain false sharing its shape with a true one / in a shape of its own:")
    for key in sorted(set(shared) | set(alone), key=lambda k: -(shared[k] + alone[k])):
        print(f"  {key:<58} {shared[key]:>5} {alone[key]:>5}")
    print(f"  {'all':<58} {sum(shared.values()):>5} {sum(alone.values()):>5}")
    own = Counter(
        " / ".join(str(r[k]) for k in _SHAPE)
        for r in false
        if tuple(r[k] for k in _SHAPE) not in shapes
    )
    print("shapes no uncertain window holding a true one has (`_SHAPE`'s columns; the first 15):")
    for key, n in own.most_common(15):
        print(f"  {key:<58} {n:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--random", type=int, default=999, metavar="N")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--with-metrics", action="store_true")
    parser.add_argument("--with-cloudtrail", action="store_true")
    parser.add_argument("--with-access-log", action="store_true")
    parser.add_argument("--with-configz", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="observe.KEY=VALUE")
    without_nodeport = "as benchmarks/accuracy.py's: the NodePort probes `nodeport: fallback` keeps"
    parser.add_argument("--without-nodeport", action="store_true", help=without_nodeport)
    no_probes = "as benchmarks/accuracy.py's: without any kube-proxy probe (neither port)"
    parser.add_argument("--no-probes", action="store_true", help=no_probes)
    listing = "also print each window: seed, node, class, bounds (us), cause, side"
    parser.add_argument("--list", action="store_true", help=listing)
    ceilings = "also say which false windows every node's clock exact or a 10 s lag bound takes"
    parser.add_argument("--ceilings", action="store_true", help=ceilings)
    args = parser.parse_args()
    options: dict[str, Any] = dict(
        evidence_options(
            args.with_metrics, args.with_cloudtrail, args.with_access_log, args.with_configz
        )
    )
    options.update(observe_settings(args.set, parser))
    seeds = range(args.first_seed, args.first_seed + args.random)
    refuse_held_out(parser, seeds)
    rows: list[Row] = []
    held: list[Row] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for part, true_part in pool.map(
            _rows,
            [(s, options, args.without_nodeport, args.no_probes, args.ceilings) for s in seeds],
            chunksize=4,
        ):
            rows.extend(part)
            held.extend(true_part)
    print(f"seeds {seeds.start}-{seeds.stop - 1}: {len(rows)} uncertain false windows")
    print(f"uncertain windows holding a true window: {len(held)}")
    if not rows:
        return
    _widths(rows, 13, "cause (count, share, mean width)")
    _widths(rows, (0, 8), "side / class (count, share, mean width)")
    _widths(rows, (0, 1, 16), "side / F source / what would have decided it (mean width)")
    _widths(rows, (13, 19), "cause / kube-proxy lag bound of its Service (mean width)")
    _table(rows, 16, "what would have decided it (replay.openness; + joins several)")
    _table(rows, (0, 16), "side / what would have decided it")
    _table(rows, (13, 14), "cause / extra observations inside its bounds")
    _table(rows, (8, 14), "class / extra observations inside its bounds")
    _table(rows, 15, "access-log lines of its node inside its bounds")
    _table(rows, (13, 15), "cause / access-log lines inside")
    _table(rows, (13, 10), "cause / ProxyTerminatingEndpoints")
    _table(rows, (13, 9), "cause / CCM mode")
    _table(rows, (13, 4), "cause / nearest true window on the node")
    _table(rows, 0, "side left open")
    _table(rows, (0, 1, 2), "side / F source / R source")
    _table(rows, 3, "width (start_earliest..end_latest)")
    _table(rows, 4, "nearest true window on the node")
    _table(rows, (5, 6), "ready endpoints lost inside / local pod death inside")
    _table(rows, 7, "next to a certain window (within 1 s)")
    _table(rows, 8, "class")
    _table(rows, (0, 4), "side / nearest true window")
    _table(rows, (9, 10), "CCM mode / ProxyTerminatingEndpoints")
    _table(rows, (9, 0, 8), "CCM mode / side / class")
    _table(rows, (11, 0), "LB poll period / side")
    _table(rows, (12, 0), "probe period / side")
    _against(rows, held, (13,), "cause")
    _against(rows, held, (13, 0), "cause / side")
    _against(rows, held, (13, 16), "cause / what would have decided it")
    _against(rows, held, (13, 16, 19), "cause / what would have decided it / lag bound")
    _shared(rows, held)
    if args.ceilings:
        _table(rows, (13, 20), "cause / what the ceilings take (`CEILINGS`)")
        left = [r for r in rows if r[20] == "left"]
        print(f"left by both ceilings: {len(left)} of {len(rows)}")
        if left:
            _widths(left, (13, 0, 9), "left: cause / side / CCM mode (mean width)")
            _table(left, (13, 16), "left: cause / what would have decided it")
            _table(left, (13, 19), "left: cause / kube-proxy lag bound of its Service")
    if args.list:
        for r in sorted(rows, key=lambda r: r[18]):
            taken = f" | {r[20]}" if r[20] else ""
            print(f"  window {r[18]} {r[17]:.2f}s | {r[13]} | {r[0]}{taken}")


if __name__ == "__main__":
    main()
