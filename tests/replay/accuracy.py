"""Compare replay's windows with the simulator's ground truth (used by the accuracy tests and by
benchmarks/accuracy.py, which prints the figures and the class confusion matrix of a sweep)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gapwatch.recorder.facts import derive
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.timefmt import parse_time, to_micros
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window


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

    def add(self, other: Report) -> None:
        self.truth += other.truth
        self.found += other.found
        self.missed += other.missed
        self.false += other.false
        self.wrong_class += other.wrong_class
        self.uncertain_false += other.uncertain_false
        self.confusion.update(other.confusion)
        self.provenance += other.provenance

    @property
    def matched(self) -> int:
        return sum(self.confusion.values())


def replay_windows(
    observations: Sequence[Observation], settings: DetectSettings = DEFAULTS
) -> list[Window]:
    facts = []
    for event_id, obs in enumerate(observations, start=1):
        facts.extend(derive(event_id, obs))
    return detect(fold(FoldState(), facts), settings=settings)


def compare(
    name: str,
    seed: int,
    overrides: dict[str, object],
    *,
    drop_sources: Iterable[str] = (),
    settings: DetectSettings = DEFAULTS,
    expect_provenance: str | None = None,
) -> Report:
    """Simulate, replay (without the observations of `drop_sources`) and compare."""
    result = run(load_scenario(name, overrides), seed=seed)
    dropped = set(drop_sources)
    observations = [o for o in result.observations if o.source not in dropped]
    found = replay_windows(observations, settings)
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

    for t, start, end in truth:
        hits = [
            w
            for w in found
            if w.node == t.node and w.start_earliest_us <= start and end <= w.end_latest_us
        ]
        if not hits:
            report.missed.append(f"{seed} {t.node} {t.cls} {t.start}..{t.end}")
            continue
        # a window that merges several true ones (overlapping uncertainty) has one class
        alone = [w for w in hits if w.certain and overlapping(w) == 1]
        if alone:
            report.confusion[(t.cls, alone[0].cls)] += 1
            if all(w.cls != t.cls for w in alone):
                report.wrong_class.append(f"{seed} {t.node} {t.cls} got {alone[0].cls} {t.start}")
    for w in found:
        if expect_provenance and w.provenance != expect_provenance:
            report.provenance.append(f"{seed} {w.node} {w.provenance} {w.start_us}")
        if not overlapping(w):
            if w.certain:
                report.false.append(f"{seed} {w.node} {w.cls} {w.start_us}")
            else:
                report.uncertain_false += 1
    return report
