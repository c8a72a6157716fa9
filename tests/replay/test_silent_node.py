"""A node that stopped answering its health-check node port, its Node later marked NotReady by
the node controller, served nothing from its first silent look, without NodePort probes (the
recorder's default for a LoadBalancer Service), whatever its EndpointSlice still listed: under
ProxyTerminatingEndpoints F also reads the forwardable endpoints shifted by kube-proxy's lag
(the terminating ones the health check never counts), which say nothing of a node that is down
(replay.lanes._silent_down). Shaped like random 34 node-002 (missed before, `accuracy.py
--without-nodeport --misses`); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import NNR
from tests.replay.builders import at, eps, health, node, pod, service, target, windows_of


def _crash(version: str) -> list[Window]:
    """n1 (kube-proxy `version`) with one ready pod p1, the LB (checking the traffic port: an
    endpoint-driven CCM) polled every 10 s; the health check answers 200 every 2 s until n1
    crashes at 30 s, then times out (the prober's look at 31 s, 33 s, ...). The node controller
    marks n1 NotReady at 70 s (its grace period), p1 not ready then, and the slice drops it;
    the LB is seen draining n1 at 80 s."""
    polls = [
        target(t, t - 10 if t > 1 else None, "n1", "healthy", check_port=32999)
        for t in (1, 11, 21, 31, 41, 51, 61, 71)
    ]
    obs = [
        service(0),
        node(0, "n1", version=version),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        *polls,
        *[health(t, t - 2 if t > 1 else None, "n1", 1) for t in range(1, 30, 2)],
        health(31, 29, "n1", None),
        node(70, "n1", ready=False, version=version),
        pod(70, "p1", "n1", "pending"),
        eps(70.1, []),
        target(81, 71, "n1", "draining", check_port=32999),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_node_that_stopped_answering_serves_nothing_under_pte() -> None:
    # kube-proxy 1.29: PTE GA; the endpoint stayed listed until 70 s, the node was down from 30 s
    (window,) = _crash("v1.29.3")
    assert window.certain and window.cls == NNR
    assert window.start_earliest_us <= to_micros(at(30)) <= window.start_latest_us + 2_000_000


def test_the_same_without_pte_was_found_before() -> None:
    (window,) = _crash("v1.21.14")
    assert window.certain and window.cls == NNR
