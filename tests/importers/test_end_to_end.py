"""End to end with ground truth: a simulated rollout written as a Kubernetes audit log, CloudTrail
and an ALB access log imports and gives the same windows, with the same failed-request counts,
as the simulator's own NDJSON. The probes and the LB poller's observations stay NDJSON (no
postmortem format carries kube-proxy's health answers or the target states); without the LB
poller, CloudTrail alone is the LB lane; with the imported formats alone (plus Prometheus'
kube-proxy metrics), no NDJSON at all. The reference run is stored in SQLite, the imports in
each backend."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.importers import load
from gapwatch.recorder.importers.driver import import_format
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.sim.formats import write_format
from gapwatch.recorder.sim.result import Simulation
from gapwatch.recorder.sim.result import Window as TrueWindow
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.timefmt import parse_time, to_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState
from gapwatch.replay.load import fold_stored
from gapwatch.replay.model import Window
from gapwatch.replay.routed import routed_signal

Row = tuple[str, str, int, int, int | None]


def _store(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def _windows(engine: Engine) -> list[Row]:
    projections.refresh(engine)
    return sorted(
        (w.node, w.cls, w.start_us, w.end_us, w.failed_requests) for w in api.windows(engine)
    )


def _write(scenario: str, seed: int, fmt: str, path: Path) -> Path:
    out = io.StringIO()
    write_format(Simulation(load_scenario(scenario), seed), fmt, out)
    path.write_text(out.getvalue())
    return path


def _import_only(engine: Engine, tmp_path: Path, scenario: str, seed: int, fmts: list[str]) -> None:
    for fmt in fmts:
        path = _write(scenario, seed, fmt, tmp_path / f"{fmt}.log")
        report = import_format(engine, load(fmt), [str(path)], cluster="sim", derive=write_facts)
        assert report.report.error_count == 0


POSTMORTEM = ["k8s-audit", "cloudtrail", "elb-access-log"]


def _hold_the_truth(truth: Sequence[TrueWindow], found: Sequence[Window], t0: int) -> None:
    """Every true window lies inside a found window on its node."""
    assert truth
    for true in truth:
        start, end = t0 + true.start_us, t0 + true.end_us
        assert any(
            w.node == true.node and w.start_earliest_us <= start and end <= w.end_latest_us
            for w in found
        ), (true, found)


@pytest.mark.parametrize(("scenario", "seed"), [("seed-3node", 3), ("seed-3node", 2)])
def test_postmortem_formats_give_the_simulators_windows(
    tmp_path: Path, engine: Engine, scenario: str, seed: int
) -> None:
    result = run(load_scenario(scenario), seed)
    direct = _store(tmp_path / "direct.db")
    EventWriter(direct, derive=write_facts).write_all(result.observations)
    expected = _windows(direct)
    assert expected and any(failed for *_rest, failed in expected)

    kept: list[Observation] = [
        o for o in result.observations if o.source not in ("k8s-watch", "elb-access-log")
    ]
    imported = engine  # the imports go to each backend; the reference is SQLite
    EventWriter(imported, derive=write_facts).write_all(kept)
    counts = {}
    for fmt in ("k8s-audit", "cloudtrail", "elb-access-log"):
        path = _write(scenario, seed, fmt, tmp_path / f"{fmt}.log")
        report = import_format(imported, load(fmt), [str(path)], cluster="sim", derive=write_facts)
        assert report.report.error_count == 0
        counts[fmt] = report.stats.kinds
    k8s = sum(1 for o in result.observations if o.source == "k8s-watch")
    assert sum(counts["k8s-audit"].values()) == k8s
    # a real ALB logs every request: the file holds successes too, which count for nothing
    assert counts["elb-access-log"]["LBAccessLog"] > 2 * len(result.truth.requests)
    # the CCM registers every node once at least; CloudTrail has each call
    assert counts["cloudtrail"]["TargetChange"] >= len({w.node for w in result.truth.windows})
    assert _windows(imported) == expected
    failed = sum(f or 0 for *_rest, f in expected)
    assert failed == len(result.truth.requests)


@pytest.mark.parametrize(
    ("scenario", "seed", "counted"),
    # aws-nlb: node-driven, told by the trail registering nodes without endpoints; its failed
    # requests are not tied to windows with or without the trail (not this test's subject)
    [("seed-3node", 3, True), ("seed-3node", 2, True), ("aws-nlb", 4, False)],
)
def test_cloudtrail_alone_gives_the_lb_lane(
    tmp_path: Path, engine: Engine, scenario: str, seed: int, counted: bool
) -> None:
    """Without the LB poller (a cluster that never ran gapwatch: no target states), CloudTrail's
    RegisterTargets / DeregisterTargets are the LB lane. Membership without health cannot prove
    R, and AWS applies a call up to ccm_lag_max_s later, so the windows are wider than the
    truth's and need not be certain; what holds: every true window lies inside a found window on
    its node, the LB side of every window is measured, and every failed request is counted."""
    result = run(load_scenario(scenario), seed)
    t0 = to_micros(parse_time(load_scenario(scenario).start))
    kept = [
        o
        for o in result.observations
        if o.source not in ("k8s-watch", "elb-access-log", "lb-poller")
    ]
    assert not any(o.kind == "TargetHealth" for o in kept)
    EventWriter(engine, derive=write_facts).write_all(kept)
    _import_only(engine, tmp_path, scenario, seed, POSTMORTEM)
    projections.refresh(engine)
    found = api.windows(engine)
    _hold_the_truth(result.truth.windows, found, t0)
    for svc in {w.service for w in found}:
        # one Service's facts, as `gapwatch gaps --service` reads them: the trail's calls
        # name no Service and still come along
        with engine.connect() as conn:
            state = fold_stored(conn, FoldState(), service=svc)
        for w in (w for w in found if w.service == svc):
            assert routed_signal(state, svc, w.node, DEFAULTS)[1], w
    if counted:
        assert sum(w.failed_requests or 0 for w in found) == len(result.truth.requests)


@pytest.mark.parametrize(
    ("scenario", "seed", "counted"),
    [
        ("seed-3node", 3, True),
        ("seed-3node", 2, True),
        ("seed-3node", 7, True),
        ("aws-nlb", 4, False),
    ],
)
def test_imported_formats_alone_without_the_simulators_probes(
    tmp_path: Path, engine: Engine, scenario: str, seed: int, counted: bool
) -> None:
    """A cluster that never ran gapwatch: nothing but its audit log, CloudTrail, the ALB's
    access log (successes included) and Prometheus' kube-proxy metrics; no probe, no LB poller,
    no NDJSON. CloudTrail is the LB lane (membership measured, health inferred) and kube-proxy's
    sync metrics bound F, so every window is measured; without health, windows are possible,
    not proven, and as wide as AWS' assumed registration delay allows on the LB side. What holds:
    every true window lies inside a found window on its node; the metrics never widen a window
    and narrow some (the assumed kube-proxy lag, up to 60 s, gives way to the node's own syncs);
    every failed request is counted and no success is."""
    result = run(load_scenario(scenario), seed)
    t0 = to_micros(parse_time(load_scenario(scenario).start))
    _import_only(engine, tmp_path, scenario, seed, [*POSTMORTEM, "prometheus"])
    projections.refresh(engine)
    found = api.windows(engine)
    _hold_the_truth(result.truth.windows, found, t0)
    assert found and all(w.provenance == "measured" for w in found)

    plain = _store(tmp_path / "no-metrics.db")
    _import_only(plain, tmp_path, scenario, seed, POSTMORTEM)
    projections.refresh(plain)
    without = api.windows(plain)
    assert all(w.provenance == "inferred" for w in without)

    def span(w: Window) -> int:
        return w.end_latest_us - w.start_earliest_us

    for w in found:  # each window lies inside one found without the metrics
        assert any(
            v.node == w.node
            and v.start_earliest_us <= w.start_earliest_us
            and w.end_latest_us <= v.end_latest_us
            for v in without
        ), (w, without)
    assert sum(map(span, found)) < sum(map(span, without))
    if counted:
        assert sum(w.failed_requests or 0 for w in found) == len(result.truth.requests)
