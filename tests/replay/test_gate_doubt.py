"""A health check's 503 over a serving-terminating pod on kube-proxy 1.22-1.25, without
NodePort probes (the recorder's default for a LoadBalancer Service): the health-check node port
never counts terminating endpoints, so it answers 503 whether or not ProxyTerminatingEndpoints
(alpha from 1.22, KEP-1669; off by default before 1.26, and may have been enabled) keeps the
pod forwarded. Nothing but a NodePort probe tells the two apart, so such a window is possible,
never certain; when it is there, kube-proxy closed at the 503 (the gate off): it is classed
there. Shaped like random 154 node-001, 170 node-002 and 117 node-003 (certain false windows
before, `accuracy.py --without-nodeport`); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD
from tests.replay.builders import at, eps, health, one_node, pod, target, windows_of


def _rollout(version: str, *more: Observation) -> list[Window]:
    """n1 (kube-proxy `version`), its target healthy at every 10 s poll; p1 deleted at 20 s
    and serving-terminating in the slice from 20.4 s, its replacement p2 ready at 23 s and
    listed at 23.3 s, p1's stop seen at 24 s (finishedAt 24 s). The health check, every second,
    answers 503 counting no ready endpoint at 21-23 s and 200 from 24 s."""
    polls = [target(t, t - 10, "n1", "healthy", "OBSERVED") for t in (11, 21, 31, 41)]
    obs = [
        *one_node(version),
        *polls,
        health(2, None, "n1", 1),
        pod(20, "p1", "n1", "terminating", deleted_at=20),
        eps(20.4, [("p1", "n1", "terminating")]),
        pod(20.5, "p2", "n1", "pending"),
        health(21, 20, "n1", 0),
        pod(23, "p2", "n1", "ready"),
        eps(23.3, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        health(24, 23, "n1", 1),
        pod(24, "p1", "n1", "gone", deleted_at=20, finished=24),
        eps(24.2, [("p2", "n1", "ready")]),
        health(40, 39, "n1", 1),
        *more,
    ]
    return windows_of(obs)


def test_a_gate_that_may_be_on_leaves_the_503_a_possible_window() -> None:
    # 1.24: the gate exists and may be on; the 503 says only that no ready endpoint was counted
    (window,) = _rollout("v1.24.17")
    assert not window.certain
    assert window.cls == CBD


def test_before_the_gate_existed_the_503_is_kube_proxy_closed() -> None:
    # 1.21: no ProxyTerminatingEndpoints at all: kube-proxy dropped the terminating endpoint
    (window,) = _rollout("v1.21.14")
    assert window.certain
    assert window.cls == CBD


def _terminating_only(version: str) -> list[Window]:
    """n1 (kube-proxy `version`), its target healthy at every 10 s poll; p1 deleted at 20 s
    and serving-terminating in the slice from 20.4 s, no replacement; the health check answers
    503 counting none from 21 s; p1 stops at 50 s (seen at 50.5 s) and the slice drops it."""
    polls = [target(t, t - 10, "n1", "healthy", "OBSERVED") for t in (11, 21, 31, 41)]
    obs = [
        *one_node(version),
        *polls,
        health(2, None, "n1", 1),
        pod(20, "p1", "n1", "terminating", deleted_at=20),
        eps(20.4, [("p1", "n1", "terminating")]),
        health(21, 20, "n1", 0),
        pod(50.5, "p1", "n1", "gone", deleted_at=20, finished=50),
        eps(50.6, []),
        target(51, 41, "n1", "draining"),
    ]
    return windows_of(obs)


def test_a_gate_on_by_default_may_have_been_turned_off() -> None:
    # 1.27: on by default, but the gate can be off: kube-proxy may have closed at the 503
    # while the LB kept routing; nothing shows either way
    windows = _terminating_only("v1.27.8")
    assert windows and not any(w.certain for w in windows)
    assert windows[0].start_earliest_us <= to_micros(at(21))


def test_no_gate_from_1_28() -> None:
    # 1.29: ProxyTerminatingEndpoints GA: kube-proxy forwarded to p1 until it stopped
    assert all(w.start_earliest_us >= to_micros(at(49)) for w in _terminating_only("v1.29.3"))
