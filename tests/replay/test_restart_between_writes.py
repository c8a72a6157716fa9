"""A container that crashed and restarted between two of its kubelet's status writes: no Pod
update says the pod was down, the next one reports the stop (`restartCount` +1,
`lastState.terminated.finishedAt`) beside the new container's `state.running.startedAt`, and
the pod Ready (replay.podstate.restarted). The process was gone from the old container's
finishedAt until the new one started; kube-proxy kept the endpoint (Ready never written False),
so the node forwarded to a closed port.

The Pod is a real one (tests/fixtures/k8s/k9s-pod-sidecar-kind.json: kind, containerd), renamed
onto the Service's node; the restart changes only what the kubelet writes, as the API
reference's ContainerStatus describes it (random seed 22,000,370 node-001's shape)."""

from __future__ import annotations

import copy

from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay import api, projections
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.facts import write_facts
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.load import load_state
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.scope import range_rows
from gapwatch.replay.unseen import reported_stops
from tests.replay import builders as b
from tests.replay.test_projections import _tables
from tests.replay.test_readiness_loss import _STAMP, PGBD, kind_pod

_ROWS = text(
    "SELECT event_id, fact, name, node, state, num1, num2, num3 FROM facts"
    " WHERE fact IN ('pod', 'restart') ORDER BY event_id, seq"
)


def pod(t: float, restart: tuple[float, float] | None = None, name: str = "p1") -> Observation:
    """The real Pod on node n1 at `t`, Ready, its container running from 0 s; with `restart`
    (stopped, started) that container crashed at the first and a new one runs from the second
    (restartCount 1, lastState.terminated: test_readiness_loss.kind_pod), ready again."""
    payload = copy.deepcopy(dict(kind_pod(t, "ready", restart and restart[0], name).payload))
    started = b.at(restart[1] if restart else 0).strftime(_STAMP)
    payload["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": started}}
    return b._k8s(t, "Pod", "MODIFIED", payload, node="n1")


def test_the_restart_fact_carries_the_stop_and_the_new_start(engine: Engine) -> None:
    """Through the writer into the store (SQLite and PostgreSQL): a `restart` row beside the
    `pod` row of the update that reports it, none for the update before. Before: no row."""
    EventWriter(engine, derive=write_facts).write_all([pod(1), pod(62, restart=(50, 61))])
    with engine.connect() as conn:
        rows = conn.execute(_ROWS).all()
    assert [(r[1], r[4]) for r in rows] == [
        ("pod", "ready"),
        ("pod", "ready"),
        ("restart", "ready"),
    ]
    assert rows[2][0] == rows[1][0] != rows[0][0]  # the second update's
    assert tuple(rows[2][2:]) == ("p1", "n1", "ready", to_micros(b.at(50)), to_micros(b.at(61)), 1)


def _restarted(beside: bool = False, looks: bool = True) -> list[Observation]:
    """p1, the only pod on n1 (`beside`: p2 too, up throughout), crashed at 50 s and ran
    again from 61 s; the kubelet's next write, seen at 62 s, says Ready (restartCount 1). The
    slice lists the pods ready throughout, the health check answers 200 counting them every
    3 s (`looks`: else no probe at all), the LB keeps the target healthy."""
    obs = [
        b.service(0),
        b.node(0, "n1"),
        pod(1),
        b.eps(1, [("p1", "n1", "ready"), *([("p2", "n1", "ready")] if beside else [])]),
        b.target(1, None, "n1", "healthy", "ADDED"),
        pod(62, restart=(50, 61)),
        *([pod(1, name="p2")] if beside else []),
    ]
    prev = None
    for t in range(2, 120 if looks else 0, 3):
        obs.append(b.health(t, prev, "n1", 2 if beside else 1))
        prev = t
    return sorted(obs, key=lambda o: o.observed_at)


def test_the_restart_is_a_stop_in_the_pod_lane() -> None:
    """The update that reports the restart reads as a stop after the one before (its
    finishedAt the death's time). Before: no stop."""
    state = fold(FoldState(), b.facts_of(_restarted()))
    svc = ServiceRef(b.CLUSTER, b.NS, b.SVC)
    (stop,) = reported_stops(state, svc, "n1")
    assert stop[1:] == (to_micros(b.at(62)), to_micros(b.at(50)))


def test_a_restart_between_two_writes_is_a_window() -> None:
    """The node forwarded to p1's closed port from its crash to its new container: a window,
    surely false from the stop's second plus the node clock's allowance to the start's less
    it (50 + 1 + 1 to 61 - 1 s), the pod gone before the LB deregistered. Before: none."""
    (window,) = b.windows_of(_restarted())
    assert (window.node, window.cls, window.certain) == ("n1", PGBD, True)
    assert window.start_earliest_us >= to_micros(b.at(49))
    assert window.start_latest_us <= to_micros(b.at(52))
    assert window.end_earliest_us >= to_micros(b.at(60))
    assert window.end_latest_us <= to_micros(b.at(62))


def test_a_restart_beside_a_live_local_pod_is_no_window() -> None:
    """kube-proxy forwards to p2 as well, which lived throughout: the node forwarded to a live
    pod, no window (as before)."""
    assert b.windows_of(_restarted(beside=True)) == []


def test_without_any_probe_the_restart_is_a_window_too() -> None:
    """F inferred from the pods (unseen.pod_serves): p1 down from its crash (50 s within the
    node clock's allowance) until its new container started (61 s less it), the window the
    same as with the health check. Before: none."""
    (window,) = b.windows_of(_restarted(looks=False))
    assert (window.node, window.cls) == ("n1", PGBD)
    assert to_micros(b.at(49)) <= window.start_earliest_us <= window.start_latest_us
    assert window.start_latest_us <= to_micros(b.at(52))
    assert to_micros(b.at(60)) <= window.end_earliest_us <= window.end_latest_us
    assert window.end_latest_us <= to_micros(b.at(62))


def test_one_services_reads_of_the_store_keep_the_restart(engine: Engine) -> None:
    """The Service's own fold (load_state with `service`: `gapwatch gaps --service`) and its
    range read (scope.range_rows: what-if, advice, the timeline by range) read the restart row
    with the Pod's (SQLite and PostgreSQL). Before: both read the `pod` rows only, so the
    restart was seen by the whole store's fold and by neither of them."""
    EventWriter(engine, derive=write_facts).write_all(_restarted())
    svc = ServiceRef(b.CLUSTER, b.NS, b.SVC)
    started = to_micros(b.at(61))
    state = load_state(engine, service=svc)
    assert [p.started_us for p in state.pods[(b.CLUSTER, b.NS, "p1")]] == [None, started]
    with engine.connect() as conn:
        rows = range_rows(conn, svc, to_micros(b.at(0)), to_micros(b.at(120)))
    ranged = fold(FoldState(), rows)
    assert [p.started_us for p in ranged.pods[(b.CLUSTER, b.NS, "p1")]] == [None, started]


def _pod_at(engine: Engine, t: float) -> str:
    (seg,) = [s for s in api.state_at(engine, GW, b.at(t)) if s.lane == "pod"]
    return seg.state


GW = ServiceRef(b.CLUSTER, b.NS, b.SVC)


def test_the_dashboards_pod_lane_shows_the_restart_and_a_refresh_across_it_equals_a_rebuild(
    engine: Engine,
) -> None:
    """The segments projection (the dashboard's timeline and `state_at`) shows p1's node with
    no pod up from the crash to the new container (50 to 61 s), as the detector's alive lane
    does, on SQLite and PostgreSQL. The history is written up to 61 s and rebuilt with a
    checkpoint, then the update that reports the restart (at 62 s, naming 50 s) arrives and
    is refreshed from the checkpoint: the rows equal a rebuild's. Before: the pod lane read
    serving straight through the restart."""
    history = _restarted()
    first = [o for o in history if o.observed_at < b.at(62)]
    writer = EventWriter(engine, derive=write_facts)
    writer.write_all(first)
    cp = Checkpoint()
    projections.rebuild(engine, checkpoint=cp)
    assert _pod_at(engine, 55) == "serving"  # no update has said otherwise yet
    writer.write(history[len(first) :])
    projections.refresh(engine, checkpoint=cp)
    assert [_pod_at(engine, t) for t in (49, 50, 55, 60.9, 61, 70)] == [
        "serving", "gone", "gone", "gone", "serving", "serving",
    ]  # fmt: skip
    refreshed = _tables(engine)
    projections.rebuild(engine)
    assert _tables(engine) == refreshed
