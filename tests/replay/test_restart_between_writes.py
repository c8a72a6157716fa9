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
from gapwatch.replay.facts import write_facts
from tests.replay import builders as b
from tests.replay.test_readiness_loss import _STAMP, kind_pod

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
