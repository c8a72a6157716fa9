"""`gapwatch lab table`: every fault, several runs each, one row per fault:
fault | runs | transitions expected | lost | duplicated | windows matched, and the same as JSON.

Run i of a fault uses fault seed `base_seed + i` (its moments) on the same simulation (scenario
and seed), so every run can be repeated alone: `gapwatch lab --faults NAME --seed S` replays the
simulation, and the seeds are printed. The short plan is the CI version (tests/lab/); the long
plan is the issue's: 20 SIGKILL runs, PostgreSQL stopped 60 s, longer stalls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gapwatch.recorder.lab.compare import CLASS_PROBLEM
from gapwatch.recorder.lab.faults import FAULTS, make_fault
from gapwatch.recorder.lab.pg import LabStore
from gapwatch.recorder.lab.run import LabReport, run_lab
from gapwatch.recorder.lab.session import LabSettings

#: fault -> runs, the issue's long version
LONG_PLAN: dict[str, int] = {
    "none": 1,
    "sigkill": 20,
    "sigkill-all": 5,
    "watch-drop": 3,
    "watch-stall": 3,
    "gone-410": 3,
    "apiserver-restart": 3,
    "pg-stop": 1,
    "elb-throttle": 3,
    "takeover": 3,
    "poison": 1,
    "clock-jump": 3,
    "probe-timeout": 3,
    "probe-refused": 3,
    "lb-alibaba": 3,
    "lb-tencent": 3,
    "lb-huawei": 3,
}
#: the CI version: one run of the faults that need no long wait
SHORT_PLAN: dict[str, int] = {"sigkill": 1, "gone-410": 1, "poison": 1, "probe-refused": 1}


@dataclass
class Row:
    fault: str
    seeds: list[int] = field(default_factory=list)
    expected: int = 0
    lost: int = 0
    duplicated: int = 0
    unobservable: int = 0
    matched: int = 0
    #: runs that matched only by a matched-undecided window (the stored samples leave its two
    #: causes unordered: recorder/lab/classorder.py): no problem, and not a plain match
    undecided: int = 0
    #: runs whose windows differ from the truth only in a class (found, bounded, no false ones)
    class_only: int = 0
    runs: int = 0
    details: list[str] = field(default_factory=list)

    def add(self, report: LabReport) -> None:
        self.runs += 1
        if report.fault_seed is not None:
            self.seeds.append(report.fault_seed)
        self.expected += report.expected
        self.lost += report.lost
        self.duplicated += report.duplicated
        self.unobservable += report.unobservable
        if not report.problems:
            if report.lab.matched_undecided:
                self.undecided += 1
            else:
                self.matched += 1
        if report.problems and all(p.startswith(CLASS_PROBLEM) for p in report.problems):
            self.class_only += 1
        for kind, count in report.transitions.items():
            self.details += [f"seed {report.fault_seed}: lost {kind} {x[:160]}" for x in count.lost]
            self.details += [
                f"seed {report.fault_seed}: duplicated {kind} {x[:160]}" for x in count.duplicated
            ]
        self.details += [f"seed {report.fault_seed}: {p}" for p in report.problems]
        self.details += [f"seed {report.fault_seed}: {n}" for n in report.notes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "runs": self.runs,
            "seeds": self.seeds,
            "transitions_expected": self.expected,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "unobservable": self.unobservable,
            "windows_matched": f"{self.matched}/{self.runs}",
            "windows_matched_undecided": self.undecided,
            "differing_only_in_class": self.class_only,
            "details": self.details,
        }


def run_table(
    settings: LabSettings,
    store: LabStore,
    plan: dict[str, int],
    progress: Callable[[str], None],
    first_seed: int = 1,
    *,
    long: bool = False,
) -> list[Row]:
    rows: list[Row] = []
    for name, runs in plan.items():
        if name != "none" and name not in FAULTS:
            from gapwatch.recorder.errors import ConfigError

            raise ConfigError(f"--only: unknown fault {name!r} (known: none, {', '.join(FAULTS)})")
        row = Row(name)
        for i in range(runs):
            seed = first_seed + i
            fault = None if name == "none" else make_fault(name, seed, long=long)
            progress(f"lab table: {name} run {i + 1}/{runs} (fault seed {seed})")
            report = run_lab(settings, store, progress, fault)
            before = len(row.details)
            row.add(report)
            for detail in row.details[before:]:
                progress(f"lab table: {name} {detail[:400]}")
            progress(
                f"lab table: {name} seed {seed}: {report.expected} expected, {report.lost} lost, "
                f"{report.duplicated} duplicated, windows "
                + ("DIFFER" if report.problems else "match")
                + (" (matched-undecided)" if report.lab.matched_undecided else "")
            )
        rows.append(row)
    return rows


def render_table(rows: list[Row]) -> str:
    head = (
        f"{'fault':<18} {'runs':>4} {'transitions expected':>20} {'lost':>5} "
        f"{'duplicated':>10} {'windows matched':>15} {'undecided':>9}  "
        f"{'unobservable':>12}  seeds"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        seeds = ",".join(str(s) for s in r.seeds) or "-"
        lines.append(
            f"{r.fault:<18} {r.runs:>4} {r.expected:>20} {r.lost:>5} {r.duplicated:>10} "
            f"{f'{r.matched}/{r.runs}':>15} {r.undecided:>9}  {r.unobservable:>12}  {seeds}"
        )
    details = [f"  {r.fault}: {d}" for r in rows for d in r.details]
    return "\n".join(lines + (["", "details:", *details] if details else []))
