"""A refresh that continues from a checkpoint (replay.checkpoint) equals a rebuild, on both
backends: batches split anywhere (a hypothesis property), at the events that open and close
windows, late facts (observed before what is already folded), Pods and Nodes, several Services
sharing a namespace and nodes. And a Pod or Node fact touches only the Services it concerns."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from itertools import count, pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.checkpoint import Checkpoint, cluster_values, touched
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive, write_facts
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.model import ServiceRef
from tests.replay import builders as b
from tests.replay.test_projections import _context, _tables

_clusters = count(1)


def _renamed(obs: Observation, old: str, new: str) -> Observation:
    """The observation of a second Service: every name that carries `old` carries `new`."""
    payload = json.loads(json.dumps(obs.payload).replace(old, new))
    name = obs.name.replace(old, new) if obs.name else obs.name
    return dataclasses.replace(obs, payload=payload, name=name)


def _two_services(cluster: str, seed: int) -> list[Observation]:
    """Two simulated gateways in one namespace on the same nodes, interleaved in time."""
    first = [
        dataclasses.replace(o, cluster=cluster)
        for o in run(load_scenario("aws-nlb"), seed=seed).observations
    ]
    second = [
        _renamed(dataclasses.replace(o, cluster=cluster), "istio-ingressgateway", "other-gw")
        for o in run(load_scenario("aws-nlb"), seed=seed + 1).observations
    ]
    return sorted(first + second, key=lambda o: o.observed_at)


def _write_in(engine: Engine, batches: Sequence[Sequence[Observation]], cp: Checkpoint) -> None:
    writer = EventWriter(engine, derive=write_facts)
    for batch in batches:
        writer.write(list(batch))
        projections.refresh(engine, checkpoint=cp)


def _equals_rebuild(engine: Engine) -> None:
    incremental, context = _tables(engine), _context(engine)
    assert incremental["replay_windows"] and incremental["replay_segments"]
    projections.rebuild(engine)
    assert _tables(engine) == incremental
    assert _context(engine) == context


def test_checkpoint_refresh_equals_rebuild(engine: Engine) -> None:
    observations = _two_services("two", seed=3)
    cp = Checkpoint()
    _write_in(engine, [observations[i : i + 97] for i in range(0, len(observations), 97)], cp)
    assert cp.state is not None and len(lb_facing(cp.state)) == 2
    assert projections.refresh(engine, checkpoint=cp) == 0
    _equals_rebuild(engine)


@pytest.mark.parametrize("late_kinds", [("Pod",), ("Node",), ("Pod", "Node"), ("TargetHealth",)])
def test_checkpoint_after_rebuild_and_late_facts(
    engine: Engine, late_kinds: tuple[str, ...]
) -> None:
    """Pods and Nodes, or the LB poller's samples, arrive after everything else (older
    observed times than what is folded); the checkpoint is the one a rebuild left."""
    observations = _two_services("late", seed=5)
    late = [o for o in observations if o.kind in late_kinds]
    early = [o for o in observations if o.kind not in late_kinds]
    EventWriter(engine, derive=write_facts).write_all(early)
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    before = _tables(engine)
    _write_in(engine, [late[i : i + 40] for i in range(0, len(late), 40)], cp)
    assert _tables(engine) != before
    _equals_rebuild(engine)


def test_batches_split_where_windows_open_and_close(engine: Engine) -> None:
    observations = [
        dataclasses.replace(o, cluster="edges")
        for o in run(load_scenario("aws-nlb"), seed=7).observations
    ]
    facts = [f for i, o in enumerate(observations, 1) for f in derive(i, o)]
    windows = detect(fold(FoldState(), facts))
    assert windows
    # the log's ids are 1..N on a fresh store: split right before and after each edge event
    edges = {i for w in windows for i in (*w.opened_by, *w.closed_by)}
    cuts = sorted({c for i in edges for c in (i - 1, i) if 0 < c < len(observations)})
    bounds = [0, *cuts, len(observations)]
    batches = [observations[lo:hi] for lo, hi in pairwise(bounds)]
    cp = Checkpoint()
    _write_in(engine, batches[:1], cp)
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(id) FROM events")).scalar_one()
    assert first == 1
    _write_in(engine, batches[1:], cp)
    _equals_rebuild(engine)


_SPLITS = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=6)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(splits=_SPLITS, seed=st.integers(min_value=1, max_value=50))
def test_random_batches_refresh_like_a_rebuild(
    engine: Engine, splits: list[float], seed: int
) -> None:
    """A simulated history cut into random batches (each example its own cluster, in the same
    store: the checkpoint keeps going), refreshed batch by batch, equals a rebuild."""
    observations = _two_services(f"h{next(_clusters)}", seed=seed)
    cuts = sorted({round(s * len(observations)) for s in splits})
    bounds = [0, *cuts, len(observations)]
    batches = [observations[lo:hi] for lo, hi in pairwise(bounds)]
    cp = _PROPERTY_CHECKPOINT.setdefault(str(engine.url), Checkpoint())
    _write_in(engine, [x for x in batches if x], cp)
    incremental = _tables(engine)
    projections.rebuild(engine)  # all at once (replay.projections.compute)
    assert _tables(engine) == incremental
    projections.rebuild(engine, checkpoint=cp)  # node by node (replay.node_rows), kept
    assert _tables(engine) == incremental


_PROPERTY_CHECKPOINT: dict[str, Checkpoint] = {}


def _svc(name: str) -> ServiceRef:
    return ServiceRef(b.CLUSTER, b.NS, name)


def _other(obs: Observation) -> Observation:
    return _renamed(obs, b.SVC, "other-gw")


def _state(observations: Sequence[Observation]) -> tuple[FoldState, int]:
    facts = [f for i, o in enumerate(observations, 1) for f in derive(i, o)]
    return fold(FoldState(), facts), len(observations)


def test_a_pod_or_node_touches_only_its_services() -> None:
    """Two Services of one namespace: A's pod runs on n1, B's on n2."""
    history = [
        b.service(0), _other(b.service(0)), b.node(0, "n1"), b.node(0, "n2"),
        b.eps(1, [("a-1", "n1", "ready")]), _other(b.eps(1, [("b-1", "n2", "ready")])),
        b.nodeport(2, None, "n1", "connected"), _other(b.nodeport(2, None, "n2", "connected")),
    ]  # fmt: skip
    state, last = _state(history)
    values = {b.CLUSTER: cluster_values(state, b.CLUSTER, DEFAULTS)}
    a, other = _svc(b.SVC), _svc("other-gw")
    assert set(lb_facing(state)) == {a, other}
    for new, expected in (
        (b.pod(3, "a-1", "n1", "terminating", deleted_at=3), {a}),
        (b.pod(3, "b-1", "n2", "terminating", deleted_at=3), {other}),
        (b.pod(3, "stray", "n2", "ready"), set()),
        (b.node(4, "n2", ready=False), {other}),
        (b.node(4, "n3"), set()),
    ):
        rows = derive(last + 1, new)
        fold(state, rows)
        last += 1
        assert touched(state, rows, values, DEFAULTS) == expected, new.kind


def test_a_changed_cluster_value_touches_every_service_of_the_cluster() -> None:
    """A probe of one Service that moves what detection derives across the cluster (PTE as
    the probes showed it, the observers' clock offsets) touches the others too."""
    history = [
        b.service(0), _other(b.service(0)), b.node(0, "n1"),
        b.eps(1, [("a-1", "n1", "ready")]), _other(b.eps(1, [("b-1", "n1", "ready")])),
    ]  # fmt: skip
    state, last = _state(history)
    a, other = _svc(b.SVC), _svc("other-gw")
    rows = derive(last + 1, b.nodeport(2, None, "n1", "connected"))
    fold(state, rows)
    values = {b.CLUSTER: cluster_values(state, b.CLUSTER, DEFAULTS)}
    assert touched(state, rows, values, DEFAULTS) == {a}
    stale = {b.CLUSTER: ("another verdict",)}
    assert touched(state, rows, stale, DEFAULTS) == {a, other}
    assert stale == values  # what the next refresh compares with


def test_a_failed_refresh_forgets_the_checkpoint(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh's transaction rolls back; a state already holding its facts would be ahead of
    the projections: the checkpoint is dropped and the next refresh builds it again."""
    observations = _two_services("fails", seed=9)
    half = len(observations) // 2
    cp = Checkpoint()
    _write_in(engine, [observations[:half]], cp)
    EventWriter(engine, derive=write_facts).write(observations[half:])

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("store went away")

    monkeypatch.setattr(projections, "_replace", broken)
    with pytest.raises(RuntimeError):
        projections.refresh(engine, checkpoint=cp)
    assert cp.state is None
    monkeypatch.undo()
    assert projections.refresh(engine, checkpoint=cp) > 0
    assert cp.state is not None
    _equals_rebuild(engine)


def _seed3(cluster: str) -> list[Observation]:
    """The seed preset: access-log lines with failed requests, and a rollout."""
    return [
        dataclasses.replace(o, cluster=cluster)
        for o in run(load_scenario("seed-3node"), seed=3).observations
    ]


@pytest.mark.parametrize("late_kinds", [("LBAccessLog",), ("LBAccessLog", "Node")])
def test_late_access_lines_recount_cached_windows(
    engine: Engine, late_kinds: tuple[str, ...]
) -> None:
    """The checkpoint keeps the access-log impact between refreshes: lines arriving after the
    windows they fall in (older than them), and Nodes whose addresses tie lines to lanes, must
    still recount those windows' failed requests."""
    observations = _seed3("impact-" + "-".join(late_kinds))
    late = [o for o in observations if o.kind in late_kinds]
    EventWriter(engine, derive=write_facts).write_all(
        [o for o in observations if o.kind not in late_kinds]
    )
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    counted = "SELECT count(*) FROM replay_windows WHERE failed_requests > 0"
    with engine.connect() as conn:
        assert conn.execute(text(counted)).scalar_one() == 0
    _write_in(engine, [late[i : i + 25] for i in range(0, len(late), 25)], cp)
    with engine.connect() as conn:
        assert conn.execute(text(counted)).scalar_one() > 0
    _equals_rebuild(engine)


def test_a_rollout_that_ends_between_refreshes(engine: Engine) -> None:
    """Batches cut before and after every Pod event: the rollout is open (ending at the end of
    the data) after some refreshes and ends, or grows, after later ones; its stored row is
    rewritten in place each time and the result equals a rebuild."""
    observations = _seed3("rollout-ends")
    pods = [i for i, o in enumerate(observations) if o.kind == "Pod"]
    bounds = sorted({0, len(observations), *pods, *(i + 1 for i in pods)})
    cp = Checkpoint()
    seen: set[tuple[object, ...]] = set()
    writer = EventWriter(engine, derive=write_facts)
    for lo, hi in pairwise(bounds):
        writer.write(observations[lo:hi])
        projections.refresh(engine, checkpoint=cp)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, end_us, windows FROM replay_rollouts")).all()
        assert len(rows) <= 1  # one rollout, never stored twice
        seen.update(tuple(r) for r in rows)
    assert len({r[0] for r in seen}) == 1 and len(seen) > 1  # one id, several versions
    _equals_rebuild(engine)
