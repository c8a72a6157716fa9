"""The lab's report words a recorded window's class as the rest of the product does (replay's
`class_text`): an undecided window shows the classes the samples also allow."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.lab.cli import render
from gapwatch.recorder.lab.compare import score
from gapwatch.recorder.lab.run import LabReport
from gapwatch.recorder.lab.session import LabSettings
from gapwatch.recorder.sim.result import Window
from tests.lab.test_compare import ORIGIN, SVC, recorded


def report_of(windows: list[dict[str, Any]]) -> str:
    truth = [Window("sim", SVC, "N1", "closed-before-deregistered", "", "", 64_000_000, 70_000_000)]
    report = LabReport(LabSettings())
    report.lab = score(truth, windows, ORIGIN, 1.0)
    report.baseline = score(truth, windows, ORIGIN, 1.0)
    return render(report)


def window(node: str, cls: str, start: float, end: float, also: list[str]) -> dict[str, Any]:
    """A window as `gapwatch gaps --json` prints it, `also` its undecided alternatives."""
    return {**recorded(node, cls, start, end), "also": also}


def test_an_undecided_window_is_printed_with_its_alternatives() -> None:
    text = report_of(
        [
            window(
                "N1", "closed-before-deregistered", 64.5, 70.0, ["pod-gone-before-deregistered"]
            ),
            window("N2", "registered-before-forwarding", 80.0, 81.0, ["node-not-ready"]),
        ]
    )
    line = next(x for x in text.splitlines() if x.startswith("N1 "))
    assert line.endswith(
        "closed-before-deregistered (or pod-gone-before-deregistered: undecided)"
    ), line
    assert (
        "false positive: N2 registered-before-forwarding (or node-not-ready: undecided) 80.0-81.0 s"
        in text.splitlines()
    ), text


def test_a_decided_window_is_printed_with_its_class_alone() -> None:
    text = report_of([window("N1", "closed-before-deregistered", 64.5, 70.0, [])])
    line = next(x for x in text.splitlines() if x.startswith("N1 "))
    assert line.endswith("  closed-before-deregistered"), line
    assert "undecided" not in text
