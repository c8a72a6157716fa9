"""A refresh that redoes a Service's rows node by node (replay.node_rows) equals a rebuild that
computes them all at once (replay.projections.compute), on both backends: a rebuild that seeds
the checkpoint, late Pods older than a stored rollout, a lag changed by a late probe, batches
cut at every window edge and Pod event, a store that does not hold what the checkpoint kept.
And the rule that keeps a node's rollout owners while spans end elsewhere, as a property."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim import load_scenario, run
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import derive, write_facts
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.group import assign
from gapwatch.replay.impact import access_impact
from gapwatch.replay.model import Rollout, ServiceRef, Window
from gapwatch.replay.span_changes import owners_hold, span_changes
from tests.replay.test_refresh_checkpoint import _equals_rebuild, _write_in


def _sim(preset: str, seed: int, cluster: str) -> list[Observation]:
    return [
        dataclasses.replace(o, cluster=cluster)
        for o in run(load_scenario(preset), seed=seed).observations
    ]


def _refresh_in(engine: Engine, batches: Sequence[Sequence[Observation]], cp: Checkpoint) -> None:
    _write_in(engine, [batch for batch in batches if batch], cp)


@pytest.mark.parametrize("preset", ["seed-3node", "aws-nlb"])
def test_a_rebuild_that_keeps_the_rows_node_by_node(engine: Engine, preset: str) -> None:
    EventWriter(engine, derive=write_facts).write_all(_sim(preset, 3, f"seeded-{preset}"))
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    assert cp.rows  # it went node by node
    _equals_rebuild(engine)


def test_late_pods_older_than_a_stored_rollout(engine: Engine) -> None:
    """The new revision's pods and the old one's deletions arrive after the rollout was stored
    from the first pods: the kept pods are forgotten, the rollout and its windows' owners are
    found again."""
    observations = _sim("seed-3node", 3, "late-pods")
    pods = [i for i, o in enumerate(observations) if o.kind == "Pod"]
    held = set(pods[len(pods) // 2 :])
    cp = Checkpoint()
    _refresh_in(engine, [[o for i, o in enumerate(observations) if i not in held]], cp)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT id, end_us, windows FROM replay_rollouts")).all()
    assert before
    late = [observations[i] for i in sorted(held)]
    _refresh_in(engine, [late[:1], late[1:]], cp)
    with engine.connect() as conn:
        after = conn.execute(text("SELECT id, end_us, windows FROM replay_rollouts")).all()
    assert after != before
    _equals_rebuild(engine)


@pytest.mark.parametrize("late_kind", ["ProxyHealth", "EndpointSlice", "TargetHealth"])
def test_a_lag_changed_by_a_late_fact(engine: Engine, late_kind: str) -> None:
    """The probes (or endpoints, or LB polls) but their first few arrive after everything
    else: lags kept per node are measured again where the lanes grew."""
    observations = _sim("aws-nlb", 5, f"late-lag-{late_kind}")
    half = len(observations) // 2
    late = [o for o in observations if o.kind == late_kind][5:]
    early = [o for o in observations if o not in late]
    cp = Checkpoint()
    _refresh_in(engine, [early[:half], early[half:]], cp)
    lags = "SELECT node, lag, at_us, seconds FROM replay_lags ORDER BY 1, 2, 3, 4"
    with engine.connect() as conn:
        before = conn.execute(text(lags)).all()
    _refresh_in(engine, [late[i : i + 30] for i in range(0, len(late), 30)], cp)
    with engine.connect() as conn:
        assert conn.execute(text(lags)).all() != before
    _equals_rebuild(engine)


def test_batches_cut_at_every_window_edge_and_pod_event(engine: Engine) -> None:
    """A fact at a boundary: batches end right before and right after each event that opens
    or closes a window and each Pod event (a rollout starts, its old pods go)."""
    observations = _sim("seed-3node", 3, "edges-pods")
    facts = [f for i, o in enumerate(observations, 1) for f in derive(i, o)]
    edges = {i for w in detect(fold(FoldState(), facts)) for i in (*w.opened_by, *w.closed_by)}
    edges |= {i + 1 for i, o in enumerate(observations) if o.kind == "Pod"}
    cuts = sorted({c for i in edges for c in (i - 1, i) if 0 < c < len(observations)})
    bounds = [0, *cuts, len(observations)]
    cp = Checkpoint()
    _refresh_in(engine, [observations[lo:hi] for lo, hi in pairwise(bounds)], cp)
    _equals_rebuild(engine)


def test_a_store_that_lost_what_the_checkpoint_kept(engine: Engine) -> None:
    """Rows changed behind the checkpoint's back (another writer, a manual fix): a stale row
    not found by content makes the Service's rows a diff against the store again."""
    observations = _sim("seed-3node", 3, "tampered")
    cut = len(observations) * 3 // 4
    cp = Checkpoint()
    _refresh_in(engine, [observations[:cut]], cp)
    with engine.begin() as conn:
        conn.execute(text("UPDATE replay_windows SET failed_requests = 999"))
        conn.execute(text("UPDATE replay_lags SET seconds = seconds + 1"))
    _refresh_in(engine, [observations[cut:]], cp)
    _equals_rebuild(engine)


_SVC = ServiceRef("c", "ns", "gw")
_KINDS: list[Literal["rollout", "node-disruption"]] = ["rollout", "node-disruption"]


def _window(start: int, node: str = "n1") -> Window:
    return Window(
        _SVC,
        node,
        "closed-before-deregistered",
        start,
        start + 5,
        start,
        start,
        start + 5,
        start + 5,
        "measured",
    )


_span_args = st.tuples(
    st.sampled_from(_KINDS),
    st.integers(0, 100),
    st.integers(0, 60),
    st.sampled_from(["same", "end", "gone", "revision", "nodes"]),
    st.integers(0, 160),
)


@settings(max_examples=500, deadline=None)
@given(
    starts=st.lists(st.integers(0, 120), min_size=1, max_size=8),
    spans=st.lists(_span_args, min_size=1, max_size=6),
    changes=st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["a", "b"])), max_size=6),
    settle=st.integers(0, 30),
)
def test_owners_hold_when_the_rule_says_so(
    starts: list[int],
    spans: list[tuple[Literal["rollout", "node-disruption"], int, int, str, int]],
    changes: list[tuple[int, str]],
    settle: int,
) -> None:
    """Whenever `owners_hold` keeps a node's owners, assigning them again with the changed
    spans (an end moved, a span gone or new, another revision, other nodes) gives the same
    owners."""
    old: list[Rollout] = []
    new: list[Rollout] = []
    for i, (kind, start, length, how, other) in enumerate(spans):
        nodes = ("n1",) if kind == "node-disruption" else ("n1", "n2")
        span = Rollout(
            f"s{i}", _SVC, kind, "Deployment/ns/gw", "a", "b", start, start + length, (), nodes
        )
        if how == "end":
            moved = dataclasses.replace(span, end_us=max(start, other))
        elif how == "revision":
            moved = dataclasses.replace(span, revision_from="c")
        elif how == "nodes":
            moved = dataclasses.replace(span, nodes=("n2",))
        else:
            moved = span
        if how != "gone" or other % 2:
            old.append(span)
        if how != "gone" or not other % 2:
            new.append(moved)
    old.sort(key=lambda r: (r.start_us, r.id))
    new.sort(key=lambda r: (r.start_us, r.id))
    windows = sorted((_window(s) for s in starts), key=lambda w: w.start_us)
    by_node = {("Deployment/ns/gw", "n1"): sorted(changes)}
    moved_spans = span_changes(old, new)
    assert moved_spans is not None
    if owners_hold(moved_spans, min(starts), max(starts), settle):
        assert assign(windows, new, by_node, settle) == assign(windows, old, by_node, settle)


def _impact_batches(splits: list[float], late: tuple[str, ...]) -> int:
    """Fold seed-3node in batches, checking the impact with each batch's lines added against
    the impact of the whole state; how many batches added lines that way."""
    observations = _sim("seed-3node", 3, "impact")
    ordered = [o for o in observations if o.kind not in late] + [
        o for o in observations if o.kind in late
    ]
    facts = [list(derive(i, o)) for i, o in enumerate(ordered, 1)]
    cuts = sorted({round(s * len(facts)) for s in splits})
    state = FoldState()
    kept = access_impact(state)
    added = 0
    for lo, hi in pairwise([0, *cuts, len(facts)]):
        had = {key: len(lines) for key, lines in state.access.items()}
        ties = (dict(state.node_addresses), dict(state.node_ports))
        fold(state, [f for e in facts[lo:hi] for f in e])
        whole = access_impact(state)
        if ties == (state.node_addresses, state.node_ports):
            before = kept
            kept = access_impact(state, kept, had)
            assert kept._replace(grown=None) == whole  # grown: what the update added
            added += kept != before
        else:
            kept = whole
    assert state.access and whole.lanes
    return added


@settings(max_examples=20, deadline=None)
@given(
    splits=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=6),
    late=st.sampled_from([(), ("LBAccessLog",), ("Node",)]),
)
def test_access_impact_added_line_by_line(splits: list[float], late: tuple[str, ...]) -> None:
    """The impact kept by the checkpoint, with each batch's new access lines added to it
    (replay.impact.access_impact with `since`), equals the impact computed from the whole
    state, batch after batch, while no Node address or NodePort moved."""
    _impact_batches(splits, late)


def test_access_lines_late_are_added_to_the_kept_impact() -> None:
    assert _impact_batches([0.6, 0.7, 0.8, 0.9], ("LBAccessLog",)) >= 3
