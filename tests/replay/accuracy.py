"""Compare replay's windows with the simulator's ground truth (used by the accuracy tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from recorder.facts import derive
from recorder.sim import load_scenario, run
from recorder.timefmt import parse_time, to_micros
from replay.detect import detect
from replay.fold import FoldState, fold
from replay.model import Window


@dataclass
class Report:
    truth: int = 0
    found: int = 0
    missed: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)
    wrong_class: list[str] = field(default_factory=list)
    uncertain_false: int = 0


def replay_windows(observations: list) -> list[Window]:  # type: ignore[type-arg]
    facts = []
    for event_id, obs in enumerate(observations, start=1):
        facts.extend(derive(event_id, obs))
    return detect(fold(FoldState(), facts))


def _covers(w: Window, result: object) -> int:
    return sum(
        1
        for t in result.truth.windows  # type: ignore[attr-defined]
        if t.node == w.node
        and to_micros(parse_time(t.start)) < w.end_latest_us
        and to_micros(parse_time(t.end)) > w.start_earliest_us
    )


def compare(name: str, seed: int, overrides: dict[str, object]) -> Report:
    result = run(load_scenario(name, overrides), seed=seed)
    found = replay_windows(list(result.observations))
    report = Report(truth=len(result.truth.windows), found=len(found))
    for t in result.truth.windows:
        start, end = to_micros(parse_time(t.start)), to_micros(parse_time(t.end))
        hits = [
            w
            for w in found
            if w.node == t.node and w.start_earliest_us <= start and end <= w.end_latest_us
        ]
        if not hits:
            report.missed.append(f"{seed} {t.node} {t.cls} {t.start}..{t.end}")
        elif all(w.cls != t.cls and w.certain and _covers(w, result) == 1 for w in hits):
            # a window that merges several true ones (overlapping uncertainty) has one class
            report.wrong_class.append(f"{seed} {t.node} {t.cls} got {hits[0].cls} {t.start}")
    for w in found:
        overlaps = [
            t
            for t in result.truth.windows
            if t.node == w.node
            and to_micros(parse_time(t.start)) < w.end_latest_us
            and to_micros(parse_time(t.end)) > w.start_earliest_us
        ]
        if not overlaps:
            if w.certain:
                report.false.append(f"{seed} {w.node} {w.cls} {w.start_us}")
            else:
                report.uncertain_false += 1
    return report
