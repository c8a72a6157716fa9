"""`gapwatch lab` end to end: record a simulation through the fakes (session.py, with the faults
of faults.py), replay it (`gapwatch gaps --json`), score it against the truth and the baseline
(compare.py) and count the transitions (ledger.py)."""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gapwatch.recorder.lab import ledger
from gapwatch.recorder.lab.compare import (
    Pair,
    Score,
    closed_unseen,
    opened_unseen,
    relisted,
    score,
    unseen,
    verdict,
)
from gapwatch.recorder.lab.pg import LabStore
from gapwatch.recorder.lab.procs import gaps_json, gapwatch
from gapwatch.recorder.lab.session import Lab, LabSettings, open_lab, record_run
from gapwatch.recorder.timefmt import parse_time

if TYPE_CHECKING:
    from gapwatch.recorder.lab.faults import Fault
    from gapwatch.recorder.sim.scenario import Service as ServiceSpec

#: Objects the poison fault makes to be set aside, not recorded (faults.Poison checks their fate)
UNRECORDABLE_NAMESPACES = ("lab-poison",)
#: The LB poller's log line at its first successful look (recorder/sources/lb/poller.py)
LB_FIRST_LOOK = "lb first look"
#: the kube-proxy prober's log line at its first health-check look (kubeproxy/source.py)
PROXY_FIRST_LOOK = "kube-proxy first look"
#: The driver's own lateness allowance, wall seconds (x speed = simulated): a shared machine.
DRIVER_SLACK_WALL_S = 0.1


@dataclass
class LabReport:
    settings: LabSettings
    cluster: str = ""
    db: str = ""
    fault: str = "none"
    fault_seed: int | None = None
    lab: Score = field(default_factory=Score)
    baseline: Score = field(default_factory=Score)
    bound_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    transitions: dict[str, ledger.Count] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum(len(c.lost) for c in self.transitions.values())

    @property
    def duplicated(self) -> int:
        return sum(len(c.duplicated) for c in self.transitions.values())

    @property
    def unobservable(self) -> int:
        return sum(len(c.unobservable) for c in self.transitions.values())

    @property
    def expected(self) -> int:
        return sum(c.expected for c in self.transitions.values())

    @property
    def ok(self) -> bool:
        return not self.problems and self.lost == 0 and self.duplicated == 0

    def as_dict(self) -> dict[str, Any]:
        s = self.settings
        return {
            "scenario": s.scenario,
            "seed": s.seed,
            "speed": s.speed,
            "lb": s.lb_name,
            "fault": self.fault,
            "fault_seed": self.fault_seed,
            "cluster": self.cluster,
            "db": self.db if s.keep else None,
            "bound_s": round(self.bound_s, 3),
            "lab": self.lab.as_dict(),
            "baseline": self.baseline.as_dict(),
            "windows_match": not self.problems,
            "problems": self.problems,
            "transitions": {
                k: {
                    "expected": c.expected,
                    "lost": c.lost,
                    "duplicated": c.duplicated,
                    "unobservable": c.unobservable,
                    # the rows around each lost transition and under each duplicated one
                    "around": c.around,
                }
                for k, c in self.transitions.items()
            },
            "notes": self.notes,
            "ok": self.ok,
        }


def sampling_bound(settings: LabSettings, late_s: float = 0.0) -> float:
    """One look interval and the driver's slack, in simulated seconds: a change is seen at the
    latest one look after it happened, and the fakes make it at most the slack late (the larger
    of DRIVER_SLACK_WALL_S and the lateness the driver measured in this run)."""
    return (settings.interval_s + max(DRIVER_SLACK_WALL_S, late_s)) * settings.speed


def baseline_windows(lab: Lab) -> list[dict[str, Any]]:
    """The simulator's own observers, looking as often as the lab's recorders and at what they
    look at, replayed. The simulator's prober connects to the NodePort of every Service; the
    recorders' prober, with its default settings, only where a Service has no health-check node
    port (`baseline_kinds_dropped`)."""
    s = lab.settings
    db = f"sqlite:///{lab.workdir / 'baseline.db'}"
    gapwatch("db", "upgrade", db=db)
    args = ["simulate", "--scenario", s.scenario, "--seed", str(s.seed)]
    period = s.interval_s * s.speed
    sets = [
        f"observe.kube_proxy_period_s={period}",
        f"observe.lb_poll_period_s={period}",
        "traffic.access_log=false",
    ]
    if s.duration_s is not None:
        sets.append(f"duration_s={s.duration_s}")
    for item in sets:
        args += ["--set", item]
    dropped = baseline_kinds_dropped(lab)
    if not dropped:
        gapwatch(*args, db=db)
        return gaps_json(db, lab.scenario.cluster)
    observed = lab.workdir / "baseline.ndjson"
    gapwatch(*args, "--out", str(observed), db=db)
    kept = lab.workdir / "baseline-kept.ndjson"
    with observed.open("rb") as src, kept.open("wb") as dst:
        for line in src:
            if json.loads(line).get("kind") not in dropped:
                dst.write(line)
    gapwatch("import", "events", str(kept), db=db)
    return gaps_json(db, lab.scenario.cluster)


def baseline_kinds_dropped(lab: Lab) -> frozenset[str]:
    """The observation kinds the simulator emits and the lab's recorders do not record
    (`kinds_not_recorded` for the lab's own configuration and Service)."""
    section = lab.recorder_config()["sources"]["kube-proxy"]
    return kinds_not_recorded(section, lab.scenario.service)


def kinds_not_recorded(prober: Mapping[str, Any], service: ServiceSpec) -> frozenset[str]:
    """NodePortProbe when a prober configured with `prober` (a `kube-proxy:` section: the
    recorder's defaults for what it leaves out) does not connect to `service`'s NodePort."""
    from gapwatch.recorder.sources.kubeproxy.settings import parse_settings
    from gapwatch.recorder.sources.kubeproxy.targets import wants_nodeport

    hcnp = service.health_check_node_port if service.type == "LoadBalancer" else None
    if wants_nodeport(parse_settings(prober), hcnp):
        return frozenset()
    return frozenset({"NodePortProbe"})


#: (scenario, seed, speed, interval, duration) -> the baseline's windows (the same for every
#: fault of a table: computed once)
_BASELINES: dict[tuple[Any, ...], list[dict[str, Any]]] = {}


def cached_baseline(
    cache: Path | None, key: tuple[Any, ...], compute: Callable[[], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The baseline's windows for `key`: this process's, else `cache`'s file for the key (a JSON
    file per key, written whole before it is renamed into place), else `compute()`d and kept in
    both. `cache` (`--baseline-cache`) carries them from one `gapwatch lab` call to the next on
    the same code: the test suite runs six calls on one scenario, seed and settings."""
    if key in _BASELINES:
        return _BASELINES[key]
    if cache is None:
        _BASELINES[key] = compute()
        return _BASELINES[key]
    path = cache / ("baseline-" + "-".join(str(part) for part in key) + ".json")
    if path.exists():
        _BASELINES[key] = json.loads(path.read_text())
        return _BASELINES[key]
    windows = _BASELINES[key] = compute()
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(windows))
    partial.replace(path)
    return windows


def run_lab(
    settings: LabSettings,
    store: LabStore,
    progress: Callable[[str], None],
    fault: Fault | None = None,
) -> LabReport:
    """One lab run (with `fault`, or none); see the module docstring."""
    report = LabReport(settings, fault=fault.name if fault is not None else "none")
    if fault is not None:
        report.fault_seed = fault.seed
        if fault.replicas is not None:
            settings = report.settings = replace(settings, replicas=fault.replicas)
        if fault.spool_bytes is not None and settings.spool_bytes is None:
            settings = report.settings = replace(settings, spool_bytes=fault.spool_bytes)
        if fault.lb is not None:
            scenario = fault.scenario or settings.scenario
            settings = report.settings = replace(settings, lb=fault.lb, scenario=scenario)
    s = settings
    with open_lab(settings, store, progress) as lab:
        report.cluster, report.db = lab.cluster, lab.db
        events = fault.prepare(lab) if fault is not None else []
        record_run(lab, events, progress)
        if fault is not None:
            report.notes += fault.finish(lab)
        report.notes += lab.notes
        report.notes.append(lab.lateness_note())
        origin = parse_time(lab.scenario.start)
        report.bound_s = bound = sampling_bound(settings, lab.late_s)
        end = lab.scenario.duration_s
        recorded = gaps_json(lab.db, lab.cluster)
        unknown = fault.unknown if fault is not None else []
        report.lab = score(lab.result.truth.windows, recorded, origin, bound, end, unknown)
        judge_orders(report.lab, lab, origin)
        report.notes += [f"recorded after the simulation's end: {w}" for w in report.lab.after_end]
        report.notes += [f"possible, where a relist passed over: {w}" for w in report.lab.relisted]
        report.notes += [
            f"matched-undecided (the stored samples leave the order open): {p.node} "
            f"{p.true_class} at {p.true_start:.1f}-{p.true_end:.1f} s recorded {p.class_text}, "
            f"opened in {p.bounds[0]:.2f}-{p.bounds[1]:.2f} s"
            for p in report.lab.pairs
            if p.undecided_open and p.bounds is not None
        ]
        key = (s.scenario, s.seed, s.speed, s.interval_s, s.duration_s)
        baseline = cached_baseline(s.baseline_cache, key, lambda: baseline_windows(lab))
        report.baseline = score(lab.result.truth.windows, baseline, origin, bound, end)
        blind = (fault.blind if fault is not None else []) + start_blind(lab)
        report.problems = verdict(report.lab, report.baseline, bound, blind, unknown)
        report.notes += [
            f"unseen (nobody looked: a blind stretch, or before the LB poller's first look; "
            f"class not judged): {p.node} {p.true_class} at "
            f"{p.true_start:.1f}-{p.true_end:.1f} s recorded {p.class_text}"
            for p in report.lab.pairs
            if unseen(p, blind, bound)
        ]
        report.notes += unseen_edge_notes(report.lab.pairs, blind, bound)
        report.notes += [
            f"relisted (a relist passed over it, class not judged): {p.node} {p.true_class} at "
            f"{p.true_start:.1f}-{p.true_end:.1f} s recorded {p.class_text}"
            for p in report.lab.pairs
            if relisted(p, unknown, bound)
        ]
        report.problems += fault.problems if fault is not None else []
        report.transitions = count_transitions(lab, fault)
        report.notes += first_look_notes(lab, report.transitions)
    return report


def first_look_notes(lab: Lab, counts: dict[str, ledger.Count]) -> list[str]:
    """When each sampler's first look answered, and how many of its lane's states ended before
    it (unobservable: ledger.py)."""
    notes = []
    for lane, event, who in (
        ("kube-proxy", PROXY_FIRST_LOOK, "the kube-proxy prober's first health look ended"),
        ("lb", LB_FIRST_LOOK, "the LB poller's first look answered"),
    ):
        if (first := first_look_s(lab, event)) is None:
            continue
        before = [u for u in counts[lane].unobservable if "before the first" in u]
        # negative: before the simulation's first instant, which is named once every replica
        # has started (the pollers look from their start on)
        when = " (simulated, before the first instant)" if first < 0 else " (simulated)"
        notes.append(
            f"{who} at {first:.1f} s{when}"
            + (f": {len(before)} {lane} state(s) ended before it, unobservable" if before else "")
        )
    return notes


def unseen_edge_notes(
    pairs: list[Pair], blind: list[tuple[float, float]], bound: float
) -> list[str]:
    """The true windows one edge of which nobody could see (compare.py `opened_unseen`,
    `closed_unseen`), and what of each the verdict did not judge."""
    notes = []
    for p in pairs:
        for unseen_edge, what in (
            (
                opened_unseen,
                "opened while nobody looked (before the LB poller's first look, or "
                "in a blind stretch; found and its end judged, its start and class not)",
            ),
            (closed_unseen, "closed in a blind stretch (its end not judged)"),
        ):
            if unseen_edge(p, blind, bound):
                notes.append(
                    f"{what}: {p.node} {p.true_class} at {p.true_start:.1f}-{p.true_end:.1f} s "
                    f"recorded {p.class_text or 'nothing'}"
                )
    return notes


def judge_orders(lab_score: Score, lab: Lab, origin: datetime) -> None:
    """Set, from the stored rows, whether each window that names its true class only as
    undecided really had its two causes unordered (recorder/lab/classorder.py)."""
    from gapwatch.recorder.lab.classorder import judge_order, node_clock_s
    from gapwatch.recorder.store import make_engine

    pending = [p for p in lab_score.pairs if p.cls is not None and p.true_class in p.also]
    if not pending:
        return
    clock = node_clock_s(lab.db)
    engine = make_engine(lab.db)  # one for the verdict's queries, not one per query
    try:
        lab_score.pairs = [
            judge_order(p, engine, lab.cluster, origin, clock) if p in pending else p
            for p in lab_score.pairs
        ]
    finally:
        engine.dispose()


def count_transitions(lab: Lab, fault: Fault | None) -> dict[str, ledger.Count]:
    from gapwatch.recorder.store import make_engine

    gaps = fault.gaps if fault is not None else {}
    blind = fault.blind if fault is not None else []
    origin = parse_time(lab.scenario.start)
    bound = sampling_bound(lab.settings, lab.late_s)
    slack = max(DRIVER_SLACK_WALL_S, lab.late_s) * lab.settings.speed
    end = lab.scenario.duration_s
    engine = make_engine(lab.db)
    try:
        log = [c for c in lab.world.api.log if c.key[0] not in UNRECORDABLE_NAMESPACES]
        expected = ledger.expected_k8s(log, gaps)
        states = functools.partial(
            ledger.count_states, bound_s=bound, slack_s=slack, end_s=end, blind=blind
        )
        return {
            "k8s": ledger.count_k8s(
                engine, lab.cluster, expected, ledger.relisted_deletions(log, gaps)
            ),
            "kube-proxy": states(
                lab.world.proxy_log,
                ledger.probe_rows(engine, lab.cluster, origin),
                initial=lab.world.proxy_initial,
                first_look_s=first_look_s(lab, PROXY_FIRST_LOOK),
            ),
            "lb": states(
                lab.world.target_log,
                ledger.target_rows(engine, lab.cluster, origin),
                first_look_s=first_look_s(lab, LB_FIRST_LOOK),
                served=served_s(lab),
            ),
        }
    finally:
        engine.dispose()


def served_s(lab: Lab) -> list[tuple[float, dict[str, str]]] | None:
    """Every DescribeTargetHealth answer moto's proxy gave (fakes/fakeelb.py `served`), in
    simulated seconds: the ledger counts an LB state no answer carried as unobservable (a poller
    stalled mid-run, 1.6-3.8 s wall against a 0.1 s interval in session 25's traced soaks, missed
    a 20 s state it never had a chance to see). None for the other clouds' fakes (not kept):
    every state is expected there."""
    elb = lab.world.elb
    if lab.world.cloud is not None or elb is None:
        return None
    speed = lab.settings.speed
    return [((wall - lab.t0) * speed, members) for wall, members in list(elb.served)]


def start_blind(lab: Lab) -> list[tuple[float, float]]:
    """The stretch before the LB poller's first look (simulated s), as a blind stretch of the
    window verdict (compare.py `unseen`): no recorder knew which nodes the LB routed to, so a
    true window that began and ended in it need not be found and its class is not judged
    (docs/lab.md, "The start"). None when no log names the first look."""
    first = first_look_s(lab, LB_FIRST_LOOK)
    return [] if first is None else [(-math.inf, first)]


def first_look_s(lab: Lab, event: str) -> float | None:
    """When the earliest first look any recorder's log names (`event`) answered, in simulated
    seconds (None: no log names one): what ended before it no sampler saw (ledger.py)."""
    looks = [at for p in lab.recorders if (at := p.first_look(event)) is not None]
    if not looks:
        return None
    return (min(looks) - parse_time(lab.scenario.start)).total_seconds()
