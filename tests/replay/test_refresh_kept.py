"""What a refresh keeps besides the windows (round 8 of issue 15): each node's lane segment rows
as stored (replay.segment_store.write_nodes: diffed in memory, not read back), and the values
found once per fold (the probe period, the lags of a Service's nodes as one map), and a moved
node's windows whose owners no span change can move keep their grouping. Each is
checked by a refresh in two steps at a cut inside a window's look-back (tests/replay/
test_suffix.py's history: the Node turns NotReady after the crash window closed) against a
rebuild, on both backends, and by folding in two steps against one fold."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections
from gapwatch.replay.assumptions import DEFAULTS, seconds_us
from gapwatch.replay.checkpoint import Checkpoint, lane_versions
from gapwatch.replay.facts import derive, write_facts
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.group import assign
from gapwatch.replay.lags import lag_samples, node_lags
from gapwatch.replay.model import Rollout, ServiceRef, Window
from gapwatch.replay.node_rows import reassigned
from gapwatch.replay.proxy import probe_period
from gapwatch.replay.segment_store import COLUMNS
from gapwatch.replay.segments import lane_segments, moved_lanes
from gapwatch.replay.span_changes import span_changes
from tests.replay.builders import (
    CLUSTER,
    NS,
    SVC,
    at,
    facts_of,
    health,
    service,
    simulated_halves,
)
from tests.replay.test_projections import _tables
from tests.replay.test_suffix import NOT_READY, _history

_SEGMENT_COLUMNS = ", ".join(COLUMNS)
GW = ServiceRef(CLUSTER, NS, SVC)


def _stored_segments(engine: Engine) -> Counter[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {_SEGMENT_COLUMNS} FROM replay_segments"))
        return Counter(tuple(r) for r in rows)


def _kept_segments(cp: Checkpoint) -> Counter[tuple[object, ...]]:
    return Counter(row for kept in cp.rows.values() for node in kept.segments.values()
                   for rows in node.lanes.values() for row in rows)  # fmt: skip


def _two_steps(engine: Engine, cut_s: float) -> tuple[Checkpoint, EventWriter, list[Observation]]:
    """The history up to `cut_s` written and rebuilt with a checkpoint; the rest returned."""
    history = _history()
    first = [o for o in history if o.observed_at <= at(cut_s)]
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(first)
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    return cp, writer, history[len(first) :]


def test_segments_kept_per_node_equal_the_store_and_a_rebuild(engine: Engine) -> None:
    """The rebuild leaves every node's segment rows kept; a refresh at a cut inside the crash
    window's look-back (the NotReady moves n1's Node lane) diffs the moved node's rows with
    them in memory: the store equals a rebuild and the kept rows equal the store."""
    cp, writer, rest = _two_steps(engine, NOT_READY - 5)
    assert _kept_segments(cp) == _stored_segments(engine) != Counter()
    writer.write(rest)
    projections.refresh(engine, checkpoint=cp)
    refreshed, kept = _tables(engine), _kept_segments(cp)
    assert kept == _stored_segments(engine)
    assert any(r[1] == "node" and r[3] == "NotReady" for r in kept)
    projections.rebuild(engine)
    assert _tables(engine) == refreshed


def test_kept_segments_the_store_does_not_hold_are_diffed_against_the_store(
    engine: Engine,
) -> None:
    """Kept rows that are not what the store holds (here a row made up in n1's Node lane, the
    lane the refresh moves): the rows are diffed against the store instead, and equal a
    rebuild."""
    cp, writer, rest = _two_steps(engine, NOT_READY - 5)
    (kept,) = cp.rows.values()
    real = kept.segments["n1"].lanes["node"][-1]
    made_up = (*real[:3], "MADE-UP", *real[4:])
    kept.segments["n1"].lanes["node"][-1] = made_up
    writer.write(rest)
    projections.refresh(engine, checkpoint=cp)
    refreshed = _tables(engine)
    assert made_up not in _kept_segments(cp)
    assert _kept_segments(cp) == _stored_segments(engine)
    projections.rebuild(engine)
    assert _tables(engine) == refreshed


def test_the_probe_period_is_found_again_after_a_fold() -> None:
    """Looks every second, then one 201 s apart: after the second fold the period is 201 s,
    as one fold of everything gives (the memo kept it for the first fold only)."""
    first = [service(0), *(health(float(t), float(t - 1), "n1", 1) for t in range(2, 30))]
    later = [health(230.0, 29.0, "n1", 1)]
    state = fold(FoldState(), facts_of(first))
    (svc,) = lb_facing(state)
    assert probe_period(state, svc) == 1.0
    fold(state, facts_of(first + later)[len(facts_of(first)) :])
    assert (
        probe_period(state, svc)
        == 201.0
        == probe_period(fold(FoldState(), facts_of(first + later)), svc)
    )


def test_the_lags_of_a_services_nodes_are_found_again_after_a_fold() -> None:
    """The lags as one map per Service are kept for one fold: folded in two steps, the lags
    after the second are those one fold of everything gives (not the first step's)."""
    facts, half = simulated_halves("aws-nlb", 3)
    state = fold(FoldState(), facts[:half])
    svc = lb_facing(state)[0]
    early = lag_samples(state, [svc], DEFAULTS)
    fold(state, facts[half:])
    whole = fold(FoldState(), facts)
    assert lag_samples(state, [svc], DEFAULTS) == lag_samples(whole, [svc], DEFAULTS) != early
    assert node_lags(state, svc, DEFAULTS) == node_lags(whole, svc, DEFAULTS)


def _window(start_s: float) -> Window:
    us = int(start_s * 1e6)
    return Window(GW, "n1", "pod-gone-before-deregistered", us, us + 2_000_000, us, us,
                  us + 2_000_000, us + 2_000_000, "measured")  # fmt: skip


def _disruption(start_s: float, end_s: float) -> Rollout:
    return Rollout("d1", GW, "node-disruption", "", None, None, int(start_s * 1e6),
                   int(end_s * 1e6), nodes=("n1",))  # fmt: skip


def test_a_moved_nodes_windows_keep_the_owners_no_span_change_can_move() -> None:
    """n1's windows at 10, 100 and 200 s, assigned when a node disruption spanned 90-110 s;
    the disruption now spans 90-210 s. The window at 100 s keeps its assigned self (no span
    change reaches its start), those at 10 and 200 s are assigned again: the one at 200 s now
    belongs to the disruption. The result is `assign` over all of them; keeping every owner
    (or none of the assigned selves) would not be."""
    settle = seconds_us(DEFAULTS.settle_s)
    ordered = [_window(10), _window(100), _window(200)]
    old_spans, new_spans = [_disruption(90, 110)], [_disruption(90, 210)]
    before = dict(zip(ordered, assign(ordered, old_spans, {}, settle), strict=True))
    assert [w.rollout for w in before.values()] == [None, "d1", None]
    moved = span_changes(old_spans, new_spans)
    assert moved is not None
    got = reassigned(ordered, before, moved, new_spans, {}, settle)
    assert got == assign(ordered, new_spans, {}, settle)
    assert [w.rollout for w in got] == [None, "d1", "d1"]
    assert got[1] is before[ordered[1]]


def _by_lane(state: FoldState, svc: ServiceRef) -> dict[tuple[str, str], list[object]]:
    out: dict[tuple[str, str], list[object]] = {}
    for s in lane_segments(state, svc):
        out.setdefault((s.node, s.lane), []).append(s)
    return out


def test_a_lane_not_moved_keeps_its_segments() -> None:
    """A simulated gateway (Pods, Nodes, probes, LB polls) folded in 40 batches: after each,
    every lane `moved_lanes` leaves out of a node's moved lanes has the segments it had, and
    some lanes of moved nodes are left out (what a refresh then neither computes nor diffs)."""
    observations = run(load_scenario("aws-nlb"), seed=5).observations
    facts = [f for i, o in enumerate(observations, 1) for f in derive(i, o)]
    state = FoldState()
    cuts = sorted({f.event_id for f in facts[:: max(1, len(facts) // 40)]})
    done, left_out = 0, 0
    for cut in [*cuts, facts[-1].event_id + 1]:
        batch = [f for f in facts[done:] if f.event_id < cut]
        if not batch:
            continue
        svcs = lb_facing(state)
        before = {svc: (dict(lane_versions(state, svc)), _by_lane(state, svc)) for svc in svcs}
        fold(state, batch)
        done += len(batch)
        for svc, (versions, old) in before.items():
            now, after = lane_versions(state, svc), _by_lane(state, svc)
            if now[""] != versions[""]:
                continue  # the first LB poll moved: every node (Checkpoint.changed_nodes)
            for node, version in versions.items():
                if not node or node not in now or now[node] == version:
                    continue
                moved = moved_lanes(version, now[node])
                for lane in {"endpoints", "proxy", "lb", "pod", "node"} - moved:
                    left_out += 1
                    assert after.get((node, lane)) == old.get((node, lane)), (node, lane)
    assert done == len(facts) and left_out
