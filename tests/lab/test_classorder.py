"""The lab's verdict on an undecided class (issue 17, CLASS_FLAKE): a window that names its true
class only in `also` is matched-undecided when the stored rows leave the order of kube-proxy's
close and the pod's death open, and a problem when they order it (recorder/lab/classorder.py).

The rows are NODE2's, as a lab run stored them (`gapwatch lab --speed 10 --duration 90`, sim
seed 1, load 15, 2026-12-03): the old pod terminating (written at 63 s, seen 65.7 s), its
replacement ready at 66-67 s, the old pod's container finished at 67 s (seen gone 68.4 s); the
prober's looks 200 at 63.152 s, 503 at 67.657 s, 200 at 71.38 s; the LB healthy throughout.
Replay read `pod-gone-before-deregistered (or closed-before-deregistered: undecided)`, uncertain,
63.15-71.38 s; the truth: closed-before-deregistered 64.16-69.92 s (kube-proxy closed at
64.16 s, the pod died at 67 s)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from gapwatch.recorder.lab.classorder import (
    PodRow,
    death_ranges,
    judge_order,
    order_open,
)
from gapwatch.recorder.lab.cli import render
from gapwatch.recorder.lab.compare import CLASS_PROBLEM, Pair, score, verdict
from gapwatch.recorder.lab.run import LabReport
from gapwatch.recorder.lab.session import LabSettings
from gapwatch.replay.facts import FACT_COLUMNS, Fact, insert_facts
from tests.lab.test_compare import ORIGIN, SVC, recorded, true

CBD, PGBD = "closed-before-deregistered", "pod-gone-before-deregistered"
CLUSTER = "lab-seed-3node-s1-x"
OLD, NEW = "istio-ingressgateway-wbq4jr6bvk-mbr9w", "istio-ingressgateway-hhvkb7jwwk-b77lk"
_BASE_US = round(ORIGIN.timestamp() * 1e6)

#: (at, prev, src, fact, op, name, state, finishedAt, text2), seconds; NODE2's stored facts
ROWS: list[tuple[Any, ...]] = [
    (14.613, None, 13.0, "slice", "ADDED", "istio-ingressgateway", "ADDED", None, OLD),
    (18.572, None, None, "health", "OBSERVED", "istio-ingressgateway", "200", None, None),
    (20.755, None, 20.0, "pod", "ADDED", OLD, "ready", None, None),
    (63.152, 62.1, None, "health", "OBSERVED", "istio-ingressgateway", "200", None, None),
    (65.667, None, 63.0, "pod", "MODIFIED", OLD, "terminating", None, None),
    (66.448, None, 63.0, "pod", "ADDED", NEW, "pending", None, None),
    (67.538, None, 66.0, "pod", "MODIFIED", NEW, "ready", None, None),
    (67.546, None, 66.0, "slice", "MODIFIED", "istio-ingressgateway", "MODIFIED", None,
     f"{NEW},{OLD}"),
    (67.657, 63.152, None, "health", "OBSERVED", "istio-ingressgateway", "503", None, None),
    (68.414, None, 68.0, "pod", "MODIFIED", OLD, "gone", 67.0, None),
    (69.229, None, None, "pod", "DELETED", OLD, "gone", 67.0, None),
    (71.38, 66.474, None, "health", "OBSERVED", "istio-ingressgateway", "200", None, None),
]  # fmt: skip


def _us(seconds: float | None) -> int | None:
    return None if seconds is None else _BASE_US + round(seconds * 1e6)


def _store(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    facts = []
    for eid, (at, prev, src, fact, op, name, state, finished, pods) in enumerate(rows, 1):
        values: dict[str, Any] = dict.fromkeys(FACT_COLUMNS)
        values.update(
            event_id=eid, seq=0, cluster=CLUSTER, at_us=_us(at), prev_us=_us(prev),
            src_us=_us(src), fact=fact, op=op, namespace="istio-system", name=name,
            node="NODE2", state=state, num4=_us(finished), text2=pods,
        )  # fmt: skip
        facts.append(Fact(**values))
    with engine.begin() as conn:
        insert_facts(conn, facts)


def _pair(cls: str, also: tuple[str, ...], start: tuple[float, float]) -> Pair:
    bounds = (start[0], start[1], 69.2, 71.38)
    return Pair("NODE2", CBD, 64.16, 69.92, cls, 65.2, 69.3, bounds, False, also, service=SVC)


def test_death_ranges_from_the_stored_pod_rows() -> None:
    rows = [
        PodRow(OLD, 20.755, "ready", None),
        PodRow(OLD, 64.0, "terminating", None),  # written at 63 s: up as of 64 s at the latest
        PodRow(OLD, 68.414, "gone", 67.0),
        PodRow(OLD, 69.229, "gone", 67.0),  # the DELETED: no second death
    ]
    assert death_ranges(rows, 1.0) == [(66.0, 68.414)]  # finishedAt 67 s, node clock 1 s
    assert death_ranges(rows, 0.0) == [(67.0, 68.0)]
    unreported = [r._replace(finished_s=None) for r in rows]
    assert death_ranges(unreported, 1.0) == [(64.0, 68.414)]  # the updates alone
    # a crash (pending again) is a death too; a pod never seen up has none
    crash = [PodRow("p", 10.0, "ready", None), PodRow("p", 12.0, "pending", None)]
    assert death_ranges(crash, 1.0) == [(10.0, 12.0)]
    assert death_ranges([PodRow("q", 5.0, "pending", None)], 1.0) == []


def test_a_readiness_loss_keeps_the_pod_alive() -> None:
    """A pod row `unready` (not Ready, its container running: replay.podstate) after it was up
    is no death, and the pod stays up through it: a stop after it lies after the `unready` row.
    With a finishedAt newer than before, the container stopped in between: a death. Before: the
    `unready` row ended the pod's up stretch, and the crash after it was no death."""
    loss = [
        PodRow("p", 10.0, "ready", 5.0),
        PodRow("p", 20.0, "unready", 5.0),
        PodRow("p", 30.0, "pending", 29.0),
    ]
    assert death_ranges(loss, 1.0) == [(28.0, 30.0)]
    restarted = [*loss[:1], PodRow("p", 20.0, "unready", 18.0)]
    assert death_ranges(restarted, 1.0) == [(17.0, 20.0)]
    starting = [PodRow("q", 5.0, "unready", None), PodRow("q", 8.0, "pending", None)]
    assert death_ranges(starting, 1.0) == []


def test_order_is_open_only_where_a_death_meets_the_close() -> None:
    assert order_open((63.152, 67.657), [(66.0, 68.414)])
    assert not order_open((64.366, 65.375), [(66.0, 68.414)])  # closed before the death
    assert not order_open((68.5, 70.0), [(66.0, 68.414)])  # closed after it
    assert not order_open((63.0, 67.0), [])


def test_the_captured_rows_leave_the_order_open(engine: Engine) -> None:
    _store(engine, ROWS)
    # the window's start range runs to its end (uncertain); the first 503 bounds the close
    judged = judge_order(_pair(PGBD, (CBD,), (63.152, 71.38)), engine, CLUSTER, ORIGIN, 1.0)
    assert judged.order_open is True and judged.undecided_open
    # a decided wrong class, or another pair of causes, is not judged
    wrong = _pair(PGBD, (), (63.152, 71.38))
    assert judge_order(wrong, engine, CLUSTER, ORIGIN, 1.0).order_open is None


def test_a_503_before_the_death_orders_the_causes(engine: Engine) -> None:
    # the same rows with the prober's 503 at 65.375 s (the look before at 64.366 s), as another
    # run of the same load stored it: kube-proxy had closed before the pod's earliest death
    early = [r for r in ROWS if not (r[3] == "health" and r[0] > 63)]
    early += [
        (64.366, 63.35, None, "health", "OBSERVED", "istio-ingressgateway", "200", None, None),
        (65.375, 64.366, None, "health", "OBSERVED", "istio-ingressgateway", "503", None, None),
        (70.363, 69.319, None, "health", "OBSERVED", "istio-ingressgateway", "200", None, None),
    ]
    _store(engine, early)
    judged = judge_order(_pair(PGBD, (CBD,), (64.366, 70.363)), engine, CLUSTER, ORIGIN, 1.0)
    assert judged.order_open is False and not judged.undecided_open


TRUTH = [true("NODE2", CBD, 64.16, 69.92)]
BASELINE = score(TRUTH, [recorded("NODE2", CBD, 65.0, 70.0)], ORIGIN, 2.0)


def _lab(order: bool | None) -> Any:
    window = {**recorded("NODE2", PGBD, 65.2, 69.3, width=4.0), "also": [CBD]}
    lab = score(TRUTH, [window], ORIGIN, 2.0)
    lab.pairs = [p.__class__(**{**_fields(p), "order_open": order}) for p in lab.pairs]
    return lab


def _fields(p: Pair) -> dict[str, Any]:
    return {f: getattr(p, f) for f in Pair.__dataclass_fields__}


def test_the_verdict_accepts_an_open_order_as_matched_undecided() -> None:
    lab = _lab(True)
    assert verdict(lab, BASELINE, 2.0) == []
    assert lab.matched_undecided == 1 and lab.same_class == 0  # never a plain match
    assert lab.as_dict()["matched_undecided"] == 1


def test_the_verdict_keeps_a_closed_or_unjudged_order_a_problem() -> None:
    (closed,) = verdict(_lab(False), BASELINE, 2.0)
    assert closed.startswith(f"{CLASS_PROBLEM}0, baseline 1: NODE2 true {CBD}")
    assert closed.endswith("(the stored samples order the causes)")
    (unjudged,) = verdict(_lab(None), BASELINE, 2.0)
    assert unjudged.startswith(f"{CLASS_PROBLEM}0, baseline 1")
    assert _lab(False).matched_undecided == _lab(None).matched_undecided == 0


def test_the_report_counts_matched_undecided_apart() -> None:
    report = LabReport(LabSettings())
    report.lab, report.baseline = _lab(True), BASELINE
    report.problems = verdict(report.lab, report.baseline, 2.0)
    lines = render(report).splitlines()
    assert lines[-1] == "MATCH (undecided)"
    assert "class agreement 0/1 (matched-undecided 1)" in lines[-4], lines
    report.lab = _lab(False)
    report.problems = verdict(report.lab, report.baseline, 2.0)
    assert render(report).splitlines()[-1] == "DIFFERENT"
