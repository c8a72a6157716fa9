"""Compare replay's windows with the simulator's ground truth (used by the accuracy tests and by
benchmarks/accuracy.py, which prints the figures and the class confusion matrix of a sweep)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import Scenario, load_scenario, run
from gapwatch.recorder.sim.result import Window as TrueWindow
from gapwatch.recorder.timefmt import parse_time, to_micros
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, fold, horizon
from gapwatch.replay.model import Window
from gapwatch.replay.signals import HI
from tests.replay.explain import evidence, lanes_around, looks_inside


@dataclass
class Report:
    truth: int = 0
    found: int = 0
    missed: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)
    wrong_class: list[str] = field(default_factory=list)
    uncertain_false: int = 0
    #: (true class, reported class) of every true window that one certain window reports alone
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: windows whose provenance is not the expected one (`expect_provenance`)
    provenance: list[str] = field(default_factory=list)
    #: reported windows' bound widths (mean of start and end ranges) and the runs' sampling
    #: intervals (the larger of the probe and poll periods), summed over windows, in seconds
    width_s: float = 0.0
    interval_s: float = 0.0
    #: reported windows (certain or not) holding exactly one true window: (true, reported)
    confusion_any: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: every reported window (certain or not) holding one true window with the wrong class
    wrong_any: list[str] = field(default_factory=list)
    #: windows holding one true window that name other possible classes (`Window.also`), and
    #: of those, the ones whose `cls` is wrong while the truth is among `also`
    undecided: int = 0
    undecided_wrong: int = 0
    undecided_right_also: int = 0
    #: of the certain windows reporting one true window alone with the wrong class, the ones
    #: that name the truth among `also` (honestly undecided, not confidently wrong)
    certain_wrong_named: int = 0
    #: with `explain`: each wrong class and the lane evidence around it (tests.replay.explain)
    explained: list[str] = field(default_factory=list)
    #: with `misses`: each missed true window, the run's sampling periods, how many looks of
    #: the probe and poll grids fell inside it, and the lane evidence around it
    missed_explained: list[str] = field(default_factory=list)

    def add(self, other: Report) -> None:
        self.truth += other.truth
        self.found += other.found
        self.missed += other.missed
        self.false += other.false
        self.wrong_class += other.wrong_class
        self.uncertain_false += other.uncertain_false
        self.confusion.update(other.confusion)
        self.provenance += other.provenance
        self.width_s += other.width_s
        self.interval_s += other.interval_s
        self.confusion_any.update(other.confusion_any)
        self.wrong_any += other.wrong_any
        self.undecided += other.undecided
        self.undecided_wrong += other.undecided_wrong
        self.undecided_right_also += other.undecided_right_also
        self.certain_wrong_named += other.certain_wrong_named
        self.explained += other.explained
        self.missed_explained += other.missed_explained

    @property
    def matched(self) -> int:
        return sum(self.confusion.values())


def replay_windows(
    observations: Sequence[Observation], settings: DetectSettings = DEFAULTS
) -> list[Window]:
    return detect(replay_state(observations), settings=settings)


def replay_state(observations: Sequence[Observation]) -> FoldState:
    facts = []
    for event_id, obs in enumerate(observations, start=1):
        facts.extend(derive(event_id, obs))
    return fold(FoldState(), facts)


def nodeport_fallback(observations: Sequence[Observation]) -> list[Observation]:
    """`observations` without the NodePort probes of every Service that has a
    healthCheckNodePort: what the recorder's prober stores under its default `nodeport:
    fallback` (docs/kubeproxy.md), where the simulator's prober looks at both ports. A Service
    without one (type NodePort) keeps them: the prober's fallback probes its NodePort."""
    from gapwatch.recorder.sources.kubeproxy.settings import ProberSettings
    from gapwatch.recorder.sources.kubeproxy.targets import wants_nodeport

    defaults = ProberSettings()
    unprobed = {
        (o.cluster, o.namespace, o.name)
        for o in observations
        if o.kind == "Service"
        and not wants_nodeport(defaults, (o.payload.get("spec") or {}).get("healthCheckNodePort"))
    }
    return [
        o
        for o in observations
        if o.kind != "NodePortProbe" or (o.cluster, o.namespace, o.name) not in unprobed
    ]


def compare(
    name: str,
    seed: int,
    overrides: Mapping[str, object],
    *,
    drop_sources: Iterable[str] = (),
    without_nodeport: bool = False,
    settings: DetectSettings = DEFAULTS,
    expect_provenance: str | None = None,
    misses: bool = False,
) -> Report:
    """Simulate, replay (without the observations of `drop_sources`, and with
    `without_nodeport` only the NodePort probes the recorder's default makes: `fallback`) and
    compare."""
    return compare_scenario(
        load_scenario(name, overrides),
        seed,
        drop_sources=drop_sources,
        without_nodeport=without_nodeport,
        settings=settings,
        expect_provenance=expect_provenance,
        misses=misses,
    )


def compare_scenario(
    scenario: Scenario,
    seed: int,
    *,
    drop_sources: Iterable[str] = (),
    without_nodeport: bool = False,
    settings: DetectSettings = DEFAULTS,
    expect_provenance: str | None = None,
    explain: bool = False,
    misses: bool = False,
) -> Report:
    """`compare` for a built scenario (a preset with overrides, or a generated one);
    `explain`: each wrong class with the lane evidence around it (`Report.explained`);
    `misses`: each missed true window with its sampling and evidence (`missed_explained`)."""
    result = run(scenario, seed=seed)
    dropped = set(drop_sources)
    observations = [o for o in result.observations if o.source not in dropped]
    if without_nodeport:
        observations = nodeport_fallback(observations)
    state = replay_state(observations)
    found = detect(state, settings=settings)
    truth = [
        (t, to_micros(parse_time(t.start)), to_micros(parse_time(t.end)))
        for t in result.truth.windows
    ]
    report = Report(truth=len(truth), found=len(found))

    def overlapping(w: Window) -> int:
        return sum(
            1
            for t, start, end in truth
            if t.node == w.node and start < w.end_latest_us and end > w.start_earliest_us
        )

    # a window still open at the end of the data covers the rest of a true window the simulator
    # ran on past that. Detection ends such a window at its Service's horizon: the newest look
    # (a probe that timed out looked when it was sent, a second before its observation was
    # written), so the end of the data is the horizon, not the newest observed_at (seed
    # 9000793 at 0.1 s / 1 s: a window open to the end read as ended 1 s before it)
    data_end = max((to_micros(o.observed_at) for o in observations), default=0)

    def until(w: Window) -> int:
        if w.end_latest_us >= min(data_end, horizon(state, w.service)):
            return HI
        return w.end_latest_us

    for t, start, end in truth:
        hits = [
            w
            for w in found
            if w.node == t.node and w.start_earliest_us <= start and end <= until(w)
        ]
        if not hits:
            report.missed.append(f"{seed} {t.node} {t.cls} {t.start}..{t.end}")
            if misses:
                report.missed_explained += miss_lines(scenario, seed, state, t, start, end)
            continue
        # a window that merges several true ones (overlapping uncertainty) has one class
        single = [w for w in hits if overlapping(w) == 1]
        if single:
            report.confusion_any[(t.cls, single[0].cls)] += 1
            if single[0].also:
                report.undecided += 1
                if single[0].cls != t.cls and t.cls in single[0].also:
                    report.undecided_wrong += 1
            if single[0].cls != t.cls:
                w = single[0]
                report.wrong_any.append(
                    f"{seed} {t.node} {t.cls} got {w.cls} "
                    f"{'certain' if w.certain else 'uncertain'} truth {t.start}..{t.end} "
                    f"window {w.start_earliest_us}-{w.start_latest_us}..{w.end_earliest_us}-"
                    f"{w.end_latest_us}"
                )
                if explain:
                    report.explained.append(
                        f"  wrong: {seed} {t.node} truth {t.cls} {t.start}..{t.end} got "
                        f"{w.cls} also {list(w.also)} {'certain' if w.certain else 'uncertain'}"
                    )
                    report.explained += evidence(state, w, (start, end))
        alone = [w for w in single if w.certain]
        if alone:
            report.confusion[(t.cls, alone[0].cls)] += 1
            if all(w.cls != t.cls for w in alone):
                report.wrong_class.append(f"{seed} {t.node} {t.cls} got {alone[0].cls} {t.start}")
                report.certain_wrong_named += t.cls in alone[0].also
    interval = max(scenario.observe.kube_proxy_period_s, scenario.observe.lb_poll_period_s)
    for w in found:
        ranges = (w.start_latest_us - w.start_earliest_us) + (w.end_latest_us - w.end_earliest_us)
        report.width_s += ranges / 2 / 1e6
        report.interval_s += interval
        if expect_provenance and w.provenance != expect_provenance:
            report.provenance.append(f"{seed} {w.node} {w.provenance} {w.start_us}")
        if not overlapping(w):
            if w.certain:
                report.false.append(f"{seed} {w.node} {w.cls} {w.start_us}")
            else:
                report.uncertain_false += 1
    return report


def miss_lines(
    scenario: Scenario, seed: int, state: FoldState, t: TrueWindow, start: int, end: int
) -> list[str]:
    """A missed true window: the run, the window and its duration, the sampling periods and
    how many looks of each grid fell inside it, then the lanes of its (Service, node)."""
    observe = scenario.observe
    origin = to_micros(parse_time(scenario.start))
    probe = looks_inside(origin, observe.kube_proxy_period_s, start, end)
    poll = looks_inside(origin, observe.lb_poll_period_s, start, end)
    lines = [
        f"  miss: {scenario.name} seed {seed} {t.node} {t.cls} {t.start}..{t.end} "
        f"({(end - start) / 1e6:.3f} s); probe every {observe.kube_proxy_period_s:g} s "
        f"({probe} looks inside), LB poll every {observe.lb_poll_period_s:g} s ({poll} inside)"
    ]
    for svc in state.service_nodes:
        if f"{svc.namespace}/{svc.name}" == t.service and svc.cluster == t.cluster:
            lines += lanes_around(state, svc, t.node, start, end)
    return lines
