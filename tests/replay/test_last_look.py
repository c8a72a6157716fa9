"""A node deleted while it answered, read from the prober's last look (`look: "last"`,
docs/observation.md): 17,000,089's shape in literal observations. The pod p1 is listed ready on
n1, kube-proxy never programs it (the health check answers 503 counting 0 local endpoints, the
NodePort times out); the LB (checking the traffic port: endpoint-driven) registers the node
healthy at once; the node answers 503 look after look until the machine is deleted, 10.6 s into
the window. Stored as changes and heartbeats, the log held no look after -15 s, and replay read
the node down at the window's start (`node-not-ready`); the prober's last look, stored as it
drops the node, shows it up until 0.1 s before its deletion: the gap was kube-proxy's,
`registered-before-forwarding`."""

from __future__ import annotations

import dataclasses

from gapwatch.recorder.observation import Observation
from tests.replay.builders import (
    eps,
    health,
    node,
    node_deleted,
    nodeport,
    pod,
    service,
    target,
    window_on,
)

#: the LB's health check on the traffic port (the NodePort): endpoint-driven
TRAFFIC_PORT = 32999


def _last(obs: Observation) -> Observation:
    return dataclasses.replace(obs, payload={**obs.payload, "look": "last"})


def _log(*, last_looks: bool, heartbeat_at: float | None = None) -> list[Observation]:
    timeout_ms = 1000.0
    stored = [
        service(0),
        node(0, "n1"),
        health(0.001, None, "n1", 0),
        nodeport(1.0, None, "n1", "timeout", latency_ms=timeout_ms),
        health(60.001, 59.5, "n1", 0),  # heartbeats
        nodeport(61.0, 59.5, "n1", "timeout", latency_ms=timeout_ms),
        pod(67.0, "p1", "n1", "ready"),
        eps(67.0, [("p1", "n1", "ready")]),
        target(76.0, 75.0, "n1", "healthy", "ADDED", check_port=TRAFFIC_PORT),
        node_deleted(85.62, "n1"),
        target(91.0, 90.0, "n1", "draining", check_port=TRAFFIC_PORT),
    ]
    if heartbeat_at is not None:  # a heartbeat inside the window, before the deletion
        stored.append(health(heartbeat_at, heartbeat_at - 0.5, "n1", 0))
    if last_looks:  # stored as the prober dropped the node (at 85.62)
        stored += [
            _last(health(85.501, 85.0, "n1", 0)),
            _last(nodeport(85.5, 84.0, "n1", "timeout", latency_ms=timeout_ms)),
        ]
    return stored


def test_the_last_look_shows_the_node_up_until_its_deletion() -> None:
    window = window_on(_log(last_looks=True), "n1")
    assert window.cls == "registered-before-forwarding"


def test_without_it_the_node_reads_down_from_the_start() -> None:
    # what the log held before the prober stored last looks: the same read as before
    window = window_on(_log(last_looks=False), "n1")
    assert window.cls == "node-not-ready"


def test_a_heartbeat_inside_the_window_is_read_as_well() -> None:
    # the same rule: a lane's last run goes on to its newest look, whatever stored it
    window = window_on(_log(last_looks=False, heartbeat_at=80.001), "n1")
    assert window.cls == "registered-before-forwarding"


def test_a_last_look_stored_after_the_deletion_refreshes_to_the_rebuild() -> None:
    """The prober stores a node's last look as the deletion reaches it, so a refresh can fold
    the deletion first and the last look later. The last look repeats its lane's value (the
    lane does not grow: replay.fold.keep_sample), yet it moves what `detect._went_down` reads:
    the node cache re-detects a down node whose newest looks moved, and the refresh gives what
    a rebuild gives."""
    from gapwatch.replay import node_cache
    from gapwatch.replay.assumptions import DEFAULTS
    from gapwatch.replay.detect import detect
    from gapwatch.replay.fold import FoldState, fold, lb_facing
    from tests.replay.builders import facts_of

    log = sorted(_log(last_looks=False), key=lambda o: o.observed_at)
    lasts = _log(last_looks=True)[len(log) :]
    facts = facts_of([*log, *lasts])  # the last looks' events come after the deletion's
    first = facts_of(log)
    state, cache = fold(FoldState(), first), {}  # type: ignore[var-annotated]
    (svc,) = lb_facing(state)
    (before,) = node_cache.windows(state, svc, DEFAULTS, cache)
    assert before.cls == "node-not-ready"
    fold(state, facts[len(first) :])
    (after,) = node_cache.windows(state, svc, DEFAULTS, cache)
    assert [after] == detect(state, [svc], DEFAULTS)
    assert after.cls == "registered-before-forwarding"
