"""What a refresh keeps of the Services its new facts leave alone (session 26): their lane
versions (checkpoint.lane_versions), which `Checkpoint.advance` reads for every LB-facing Service
before each fold. Kept across the fold for a Service none of whose own facts came and no fact
of its cluster naming no Service (a Node, a Pod); found again otherwise. Checked on two Services
of one cluster sharing their nodes (tests/replay/test_suffix.py's history, and the same in a
second namespace), refreshed from a checkpoint, on both backends, against a rebuild. And the
context rows a refresh moves are stored with its position, in one round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import projections
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.checkpoint import Checkpoint, _lane_versions
from gapwatch.replay.facts import write_facts
from gapwatch.replay.model import ServiceRef
from tests.pgtrace import engine_trace
from tests.replay.builders import CLUSTER, NS, SVC, at, health, node, pod
from tests.replay.test_projections import _tables
from tests.replay.test_suffix import _history

OTHER = "other-ns"
GW, GW2 = ServiceRef(CLUSTER, NS, SVC), ServiceRef(CLUSTER, OTHER, SVC)


def _elsewhere(obs: Observation) -> Observation:
    """The same observation of the gateway's namespace, in OTHER."""
    payload = json.loads(json.dumps(obs.payload).replace(f'"{NS}"', f'"{OTHER}"'))
    return dataclasses.replace(obs, namespace=OTHER, payload=payload)


def _two_services(cut_s: float) -> list[Observation]:
    """Both Services' history up to `cut_s` (the Nodes once: the second Service shares them)."""
    history = _history()
    both = history + [_elsewhere(o) for o in history if o.namespace == NS]
    return sorted((o for o in both if o.observed_at <= at(cut_s)), key=lambda o: o.observed_at)


def _rebuilt(engine: Engine, cut_s: float) -> tuple[Checkpoint, EventWriter]:
    first = _two_services(cut_s)
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(first)
    checkpoint = Checkpoint()
    projections.rebuild(engine, checkpoint=checkpoint)
    projections.refresh(engine, checkpoint=checkpoint)  # nothing new: the memo as a refresh
    return checkpoint, writer


def _equals_a_rebuild(engine: Engine) -> None:
    refreshed = _tables(engine)
    projections.rebuild(engine)
    assert _tables(engine) == refreshed


def test_a_service_the_new_facts_leave_alone_keeps_its_lane_versions(engine: Engine) -> None:
    """A probe of the first Service's n1: the second Service's versions are the ones read
    before the fold (the same object, not walked again) and what its lanes give now."""
    checkpoint, writer = _rebuilt(engine, 300)
    assert checkpoint.state is not None
    kept = checkpoint.state.memo.versions[(GW2, DEFAULTS)]
    writer.write([health(302, 300, "n1", 1)])
    assert projections.refresh(engine, checkpoint=checkpoint) == 1
    state = checkpoint.state
    assert state.memo.versions.get((GW2, DEFAULTS)) is kept
    assert kept == _lane_versions(state, GW2)
    _equals_a_rebuild(engine)


def test_a_node_or_pod_fact_moves_the_versions_of_every_service_of_its_cluster(
    engine: Engine,
) -> None:
    """A Node turning NotReady names no Service, nor does a Pod of the second namespace: the
    second Service's versions are found again (its n1 Node lane grew; its pod's samples)."""
    checkpoint, writer = _rebuilt(engine, 300)
    assert checkpoint.state is not None
    kept = checkpoint.state.memo.versions[(GW2, DEFAULTS)]
    writer.write([node(303, "n1", ready=False)])
    projections.refresh(engine, checkpoint=checkpoint)
    now = checkpoint.state.memo.versions.get((GW2, DEFAULTS)) or _lane_versions(
        checkpoint.state, GW2
    )
    assert now == _lane_versions(checkpoint.state, GW2) != kept
    assert now["n1"] != kept["n1"] and now["n2"] == kept["n2"]
    _equals_a_rebuild(engine)
    kept = _lane_versions(checkpoint.state, GW2)
    checkpoint.state.memo.versions[(GW2, DEFAULTS)] = kept
    writer.write([_elsewhere(pod(304, "p2", "n2", "terminating"))])
    projections.refresh(engine, checkpoint=checkpoint)
    now = checkpoint.state.memo.versions.get((GW2, DEFAULTS)) or _lane_versions(
        checkpoint.state, GW2
    )
    assert now == _lane_versions(checkpoint.state, GW2)
    assert now["n2"] != kept["n2"] and now["n1"] == kept["n1"]
    _equals_a_rebuild(engine)


def _context_and_position(engine: Engine) -> dict[str, int]:
    query = "SELECT key, value FROM replay_state WHERE key LIKE 'ctx:%' OR key = 'last_event_id'"
    with engine.connect() as conn:
        return {key: int(value) for key, value in conn.execute(text(query))}


@pytest.mark.postgres
def test_a_refresh_stores_its_moved_context_with_its_position_in_one_round_trip(
    pg_url: str,
) -> None:
    """A probe moves some of the Service's context rows (replay.scope): they are written with
    the projections' new position, in one round trip (main wrote them, waited, then wrote the
    position); the rows equal a rebuild's."""
    engine = make_engine(pg_url)
    checkpoint, writer = _rebuilt(engine, 300)
    before = _context_and_position(engine)
    writer.write([health(302, 300, "n1", 1)])
    fresh = make_engine(pg_url)  # a connection of its own: no statement of it prepared yet
    with engine_trace(fresh) as lines:
        assert projections.refresh(fresh, checkpoint=checkpoint) == 1
    fresh.dispose()
    after = _context_and_position(engine)
    moved = {key for key, value in after.items() if before.get(key) != value}
    assert "last_event_id" in moved and len(moved) > 1
    # the moved context's rows and the position go in one round trip: no answer between them
    binds = [i for i, line in enumerate(lines) if "\tBind\t" in line]
    first = min(i for i in binds if "'ctx:" in lines[i])
    position = max(i for i in binds if "'last_event_id'" in lines[i])
    assert first < position
    assert not any("ReadyForQuery" in line for line in lines[first:position])
    projections.rebuild(engine)
    assert _context_and_position(engine) == after
    engine.dispose()
