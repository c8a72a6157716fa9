"""A refresh from the checkpoint re-segments a moved lane from where its inputs changed
(replay.segment_tail), not over its whole history, and gets the rows a whole segmentation
gives, row for row: simulated histories (Pods that crash and restart, Nodes, slices, NodePort
or only health-check probes, or none, LB polls) folded in batches, the kept rows carried on
after each and compared with `lane_segments` of the whole state; and through the store, a
refresh that adds one health-check change to a long lane maps the new samples only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.sim.config import from_dict
from gapwatch.recorder.sim.generate import random_scenario
from gapwatch.recorder.timefmt import to_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import podstate, projections, segments
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.checkpoint import Checkpoint, lane_versions
from gapwatch.replay.facts import derive, write_facts
from gapwatch.replay.fold import FoldState, PodSample, fold, lb_facing
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.segment_store import (
    COLUMNS,
    KeptRows,
    NodeSegments,
    apply_tails,
    by_lane,
    segment_rows,
)
from gapwatch.replay.segment_tail import tails
from tests.replay import builders as b
from tests.replay.accuracy import nodeport_fallback
from tests.replay.test_readiness_loss import kind_pod
from tests.replay.test_restart_between_writes import _restarted as restarted
from tests.replay.test_restart_between_writes import pod as restart_pod

_GW = ServiceRef(b.CLUSTER, b.NS, b.SVC)


def _whole(state: FoldState, svc: ServiceRef) -> KeptRows:
    versions = lane_versions(state, svc)
    rows = by_lane(segment_rows(segments.lane_segments(state, svc)))
    return {n: NodeSegments(versions[""], versions[n], rows.get(n, {})) for n in versions if n}


def _lanes(kept: KeptRows) -> dict[str, dict[str, list[tuple[object, ...]]]]:
    return {n: {lane: r for lane, r in k.lanes.items() if r} for n, k in kept.items()}


def _carried(observations: Sequence[Observation], batches: int) -> tuple[int, int]:
    """Fold the observations' facts in `batches`, carrying each Service's kept rows on with
    `tails` after each; every step equals segmenting the whole state. Returns the rows kept
    as they were and those written, over all steps."""
    facts = [f for i, o in enumerate(observations, 1) for f in derive(i, o)]
    ids = sorted({f.event_id for f in facts})
    cuts = [0, *ids[:: max(1, len(ids) // batches)][1:], ids[-1] + 1]
    state, kept = FoldState(), dict[ServiceRef, KeptRows]()
    done = kept_rows = written = 0
    for lo, hi in pairwise(cuts):
        batch = [f for f in facts[done:] if lo <= f.event_id < hi]
        done += len(batch)
        fold(state, batch)
        for svc in lb_facing(state):
            versions = lane_versions(state, svc)
            held = kept.get(svc)
            moved = [n for n in versions if n and (held is None or n not in held
                     or held[n].version != versions[n])]  # fmt: skip
            found = None
            if held is not None and all(n in held for n in moved):
                found = tails(state, svc, moved, held, versions, DEFAULTS)
            if found is None or held is None:
                kept[svc] = _whole(state, svc)
                continue
            for lanes in found.values():
                for tail in lanes.values():
                    kept_rows += tail.keep
                    written += len(tail.rows)
            apply_tails(found, held, versions)
            assert _lanes(held) == _lanes(_whole(state, svc)), (svc, hi)
    assert done == len(facts)
    return kept_rows, written


def _random(seed: int) -> list[Observation]:
    return run(from_dict(random_scenario(seed), f"random scenario {seed}"), seed=seed).observations


@pytest.mark.parametrize("seed", [1, 2, 3, 5, 8, 13, 21, 34])
def test_lanes_carried_on_from_their_cut_equal_a_whole_segmentation(seed: int) -> None:
    """Random scenarios (their rollouts, crashes, node changes) with NodePort probes, with the
    health check alone, and with no probe (the proxy lane inferred from the endpoints), in 40
    batches: the rows carried on equal the whole history's after every batch."""
    observations = _random(seed)
    cases = [
        observations,
        nodeport_fallback(observations),
        [o for o in observations if o.source != "kube-proxy-probe"],
    ]
    for case in cases:
        _kept, written = _carried(case, 40)
        assert written


def _delayed(observations: Sequence[Observation], kinds: set[str], by: int) -> list[Observation]:
    """Every other observation of `kinds` written `by` places later than it came (a late
    look: its own time before looks already folded)."""
    out = list(observations)
    picked = [o for o in observations if o.kind in kinds][::2]
    for o in picked:
        i = out.index(o)
        out.insert(min(len(out), i + by + 1), out.pop(i))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 5])
def test_late_looks_carried_on_equal_a_whole_segmentation(seed: int) -> None:
    """Target polls and probe looks written late, in 40 batches: a look slotted in before
    kept rows moves the cut to it, and an UNKNOWN row kept last (the stretch before a change
    the cut re-reads: segments.looked_between) goes with that change; the rows carried on
    equal the whole history's after every batch."""
    observations = _random(seed)
    looks = {"TargetHealth", "NodePortProbe", "ProxyHealth"}
    for case in (observations, nodeport_fallback(observations)):
        _kept, written = _carried(_delayed(case, looks, 7), 40)
        assert written


def test_a_look_inside_a_stretch_kept_unknown() -> None:
    """Two pollers: one saw n1 healthy at 1 s and 5 s, unhealthy at 10 s (UNKNOWN from 5 s
    to 10 s, kept); the other's look at 7 s, healthy, arrives after: the cut is 7 s, inside
    the kept UNKNOWN row, which goes with the change it preceded (the lane goes on from
    HEALTHY) and equals the whole lane's. The change's own poller last saw healthy at 5 s:
    the stretch is still drawn from there."""
    history = [
        b.service(0),
        b.node(0, "n1"),
        b.eps(1, [("p1", "n1", "ready")]),
        b.target(1, None, "n1", "healthy", "ADDED"),
        b.target(5, 1, "n1", "healthy"),
        b.target(10, 5, "n1", "unhealthy"),
        b.target(20, 10, "n1", "unhealthy"),
        b.target(7, 6, "n1", "healthy"),
    ]
    _kept, written = _carried(history, len(history))
    assert written
    state = fold(FoldState(), b.facts_of(history))
    lb = [(s.state, s.start_us) for s in segments.lane_segments(state, _GW) if s.lane == "lb"]
    assert lb == [
        ("HEALTHY", to_micros(b.at(1))), ("UNKNOWN", to_micros(b.at(5))),
        ("UNHEALTHY", to_micros(b.at(10))),
    ]  # fmt: skip


def test_a_longer_history_carried_on_equals_the_whole() -> None:
    """The aws-nlb preset (25 minutes, rollouts, node changes) in 60 batches: equal to the
    whole history's after each."""
    kept, written = _carried(run(load_scenario("aws-nlb"), seed=5).observations, 60)
    assert kept and written


def _unready_then_restarted() -> list[Observation]:
    """p1 ready on n1 at 1 s, running not ready from 40 s; p2 ready there from 55 s; p1's
    next update, at 62 s, reports its container crashed at 50 s and a new one from 61 s."""
    return [
        b.service(0),
        b.node(0, "n1"),
        restart_pod(1),
        b.eps(1, [("p1", "n1", "ready")]),
        b.target(1, None, "n1", "healthy", "ADDED"),
        kind_pod(40, "unready"),
        restart_pod(55, name="p2"),
        b.eps(55, [("p1", "n1", "ready"), ("p2", "n1", "ready")]),
        restart_pod(62, restart=(50, 61)),
    ]


@pytest.mark.parametrize("history", [restarted, _unready_then_restarted])
def test_a_restart_reported_after_a_cut_is_read_from_its_stop(
    history: Callable[[], list[Observation]],
) -> None:
    """A pod's update that reports a crash and restart names the old container's finishedAt,
    before the update itself and (the second history) before p2's start, which the rows kept
    from the batch before hold: the pod lane is carried on from the stop, equal to a whole
    segmentation, cut at every event. Carried on from the update's own time instead, the
    kept rows stayed: no stop (the first), or p2's start kept after the unready stretch (the
    second)."""
    observations = history()
    state = fold(FoldState(), b.facts_of(observations))
    pods = [s for s in segments.lane_segments(state, _GW) if s.lane == "pod"]
    gap = (to_micros(b.at(50)), to_micros(b.at(61 if history is restarted else 55)))
    assert ("gone", *gap) in [(s.state, s.start_us, s.end_us) for s in pods]
    _kept, written = _carried(observations, len(observations))
    assert written


def _health_history(changes: int) -> list[Observation]:
    """One node whose health check alternates 200 and 503 every 2 s, `changes` times."""
    obs = [
        b.service(0),
        b.node(0, "n1"),
        b.eps(1, [("p1", "n1", "ready")]),
        b.target(1, None, "n1", "healthy", "ADDED"),
    ]
    prev = None
    for i in range(changes):
        t = 2 + 2 * i
        obs.append(b.health(t, prev, "n1", 1 if i % 2 == 0 else 0))
        prev = t
    return obs


def test_a_refresh_maps_only_the_new_samples_of_a_long_lane(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A health-check lane of 400 changes, refreshed from the checkpoint with 2 more: the
    proxy lane's value is read for the new samples only, and the stored rows equal a
    rebuild (SQLite and PostgreSQL). Before: every refresh read the lane's 402 samples."""
    history = _health_history(402)
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(history[:-2])
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    projections.refresh(engine, checkpoint=cp)
    calls: list[str] = []
    health = segments._proxy_health

    def counted(value: str) -> str:
        calls.append(value)
        return health(value)

    monkeypatch.setattr(segments, "_proxy_health", counted)
    writer.write(history[-2:])
    assert projections.refresh(engine, checkpoint=cp) == 2
    assert 0 < len(calls) <= 4, len(calls)
    refreshed = _stored(engine)
    # 402 changes, each after the first drawn with the UNKNOWN between its two looks
    assert sum(1 for r in refreshed if r[1] == "proxy") == 402 + 401
    projections.rebuild(engine)
    assert _stored(engine) == refreshed


def _stored(engine: Engine) -> list[tuple[object, ...]]:
    columns = ", ".join(COLUMNS)
    with engine.connect() as conn:
        # every column in the order: rows of several Services share (node, lane, seq), and
        # PostgreSQL returns such ties in heap order, which a rebuild changes
        rows = conn.execute(text(f"SELECT {columns} FROM replay_segments ORDER BY {columns}"))
        return [tuple(r) for r in rows]


_POD_STATES = ["pending", "ready", "unready", "terminating", "gone"]
_SAMPLE = st.tuples(
    st.integers(0, 40),  # time
    st.sampled_from(_POD_STATES),
    st.one_of(st.none(), st.tuples(st.integers(0, 40), st.integers(0, 40))),  # restart
)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["n1", "n2"]), st.lists(_SAMPLE, max_size=3)),
        min_size=1,
        max_size=12,
    )
)
def test_a_pod_lane_carried_on_equals_the_whole(
    steps: list[tuple[int, str, list[tuple[int, str, tuple[int, int] | None]]]],
) -> None:
    """Pods placed on n1 or n2 (and moved between them), their updates arriving batch by
    batch in any time order, some marked restarted: after each batch the pod lanes carried on
    from their cut equal a whole segmentation."""
    state = FoldState()
    state.service_nodes[_GW] = {"n1", "n2"}
    placed = state.service_pods.setdefault(_GW, {})
    kept: KeptRows | None = None
    eid = 0
    for pod_no, node, samples in steps:
        pod = f"p{pod_no}"
        placed[pod] = node
        lane = state.pods.setdefault((_GW.cluster, _GW.namespace, pod), [])
        for at, value, restart in samples:
            eid += 1
            finished, started = restart if restart else (None, None)
            lane.append(PodSample(at, value, None, None, None, eid, None, None, finished))
            if started is not None and len(lane) > 1:
                lane[-1] = podstate.restarted(lane, started)
        state.memo.clear()
        versions = lane_versions(state, _GW)
        if kept is None:
            kept = _whole(state, _GW)
            continue
        moved = [n for n in ("n1", "n2") if kept[n].version != versions[n]]
        found = tails(state, _GW, moved, kept, versions, DEFAULTS)
        assert found is not None
        apply_tails(found, kept, versions)
        assert _lanes(kept) == _lanes(_whole(state, _GW))
