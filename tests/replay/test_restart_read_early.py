"""A restarting kube-proxy may have read an EndpointSlice change before the recorder did
(replay.proxy.restart_carried `early_us`): random 25,000,491 node-002's shape, without NodePort
probes. kube-proxy 1.24 (ProxyTerminatingEndpoints off) restarted: its health port answered
200 at one look and refused the next; between them the slice listed the node's only pod
serving-terminating, which the restarted kube-proxy programmed (closed) 25 ms before the
recorder's watch delivered that version. F was read unknown only from the watch time, so the
window began 25 ms after the true one and it went unreported."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import eps, health, node, pod, service, target, windows_of
from tests.replay.test_pod_death_time import _us
from tests.replay.test_restart_listing import _refused


def _closing(listed: float) -> list[Window]:
    """n1 (kube-proxy 1.24) with p1 ready; p1 deleted at 20 s, listed serving-terminating at
    `listed`; the health check answers 200 counting 1 at 30 s, refuses at 30.5 s (a restart),
    answers 503 counting none at 33 s. The LB (checking the traffic port: endpoint-driven),
    polled every 2 s, routes to n1 until 40 s."""
    obs: list[Observation] = [
        service(0),
        node(0, "n1", version="v1.24.17"),
        health(0.5, None, "n1", 1),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED", check_port=32999),
        *[target(t, t - 2, "n1", "healthy", check_port=32999) for t in range(3, 40, 2)],
        target(41, 39, "n1", "draining", check_port=32999),
        pod(20, "p1", "n1", "terminating", deleted_at=20),
        health(30, 29.5, "n1", 1),
        eps(listed, [("p1", "n1", "terminating")]),
        _refused(30.5, 30),
        health(33, 32.5, "n1", 0),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_the_close_may_precede_the_watch_time_of_its_change() -> None:
    # listed at 30.3 s: kube-proxy may have had that version up to the watch skew (0.5 s)
    # before, after its 200 at 30 s: the window may begin right after that look
    (window,) = _closing(30.3)
    assert _us(30) <= window.start_earliest_us <= _us(30.05)


def test_a_change_listed_well_after_the_last_answer_keeps_its_start() -> None:
    # the control: listed at 31.5 s, inside the refusals and a second after the 200: the close
    # came no earlier than the change less the watch skew
    (window,) = _closing(31.5)
    assert window.start_earliest_us >= _us(30.95)
