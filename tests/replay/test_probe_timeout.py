"""A health-check look that timed out is unknown, not "node down" (issue 17, the lab's
`probe-timeout` fault), and a sure start's class is read over its whole range (the seed-3node
NODE2 class flake). Literal observations in the shapes the prober, the LB poller and the watch
store (tests/replay/builders.py); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.fold import Sample
from gapwatch.replay.model import Window
from gapwatch.replay.proxy import silent_stretches, unconfirmed_carried
from gapwatch.replay.signals import HI, Iv
from tests.replay.builders import at, eps, health, node, pod, target, windows_of
from tests.replay.builders import one_node as real_world_node


def _us(seconds: float) -> int:
    return to_micros(at(seconds))


#: seed-3node's kube-proxy 1.25 runs with ProxyTerminatingEndpoints off, stated: on 1.25 the gate
#: may have been enabled, and a 503 over a terminating pod alone leaves the window possible
#: (tests/replay/test_gate_doubt.py)
PTE_OFF = DetectSettings(proxy_terminating_endpoints=False)


def _windows(obs: list[Observation], settings: DetectSettings = DEFAULTS) -> list[Window]:
    return windows_of(obs, settings)


def _one_node(version: str = "v1.25.16") -> list[Observation]:
    """test_real_world's node (one ready pod on n1, healthy in the LB), answering 200 at 2 s."""
    return [*real_world_node(version), health(2, None, "n1", 1)]


def test_a_hung_health_server_on_a_ready_node_is_no_window() -> None:
    # kube-proxy's health server hangs from 50 s to 80 s (the lab's probe-timeout fault): the
    # prober stores a timeout at 51 s and the 200 when it answers again. The Node stays Ready,
    # the LB keeps it healthy, nothing changes in the EndpointSlice: the rules kept forwarding.
    # Before, the timeouts were read as the node down: a certain node-not-ready window 50-80 s.
    obs = [*_one_node(), health(51, 50, "n1", None), health(81, 80, "n1", 1)]
    assert _windows(obs) == []


def test_a_crash_confirmed_by_the_node_going_not_ready_is_node_not_ready() -> None:
    # The machine stops at 100 s: the health check times out from 101 s and never answers
    # again; the node controller marks the Node NotReady 45 s later (within node_grace_s).
    obs = [
        *_one_node(),
        health(101, 96, "n1", None),
        node(145, "n1", ready=False, version="v1.25.16"),
        eps(146, []),
        target(150, 146, "n1", "draining"),
    ]
    (window,) = _windows(obs)
    assert window.cls == "node-not-ready" and window.certain
    assert window.start_earliest_us == _us(96) and window.start_latest_us <= _us(101)


def test_a_pod_leaving_inside_a_hang_opens_at_most_from_its_endpoint_change() -> None:
    # The health server hangs from 50 s to 80 s; the only pod starts terminating at 60 s
    # (kube-proxy 1.25, no ProxyTerminatingEndpoints: its rules drop it after a lag) and the LB
    # drains the node at 75 s. Whether kube-proxy had dropped the pod before the LB is unknown
    # (no look answered): a window from 60 s at the earliest, never the node down.
    going = [
        pod(60, "p1", "n1", "terminating", deleted_at=60),
        eps(60, [("p1", "n1", "terminating")]),
        target(75, 74, "n1", "draining"),
    ]
    obs = [*_one_node(), health(51, 50, "n1", None), *going, health(81, 80, "n1", 0)]
    windows = _windows(obs)
    assert windows, "the pod left while the LB routed: a window is possible"
    assert all(w.cls != "node-not-ready" for w in windows)
    assert min(w.start_earliest_us for w in windows) >= _us(60)


def _look(t: float, prev: float | None, value: str) -> Sample:
    return Sample(_us(t), None if prev is None else _us(prev), value, 0, 0)


def test_silent_stretches_are_down_only_where_the_node_status_agrees() -> None:
    looks = [
        _look(2, None, "200"),
        _look(51, 50, "timeout"),
        _look(60, 59, "timeout"),
        _look(81, 80, "200"),
        _look(101, 96, "timeout"),
    ]
    grace = 50_000_000
    ready = [_look(0, None, "Ready")]
    assert silent_stretches(looks, ready, grace) == (
        [],
        [Iv(_us(50), _us(81)), Iv(_us(96), HI)],
    )
    # NotReady 45 s into the second stretch: that one is the node down, the first is not
    not_ready = [*ready, _look(141, None, "NotReady")]
    assert silent_stretches(looks, not_ready, grace) == (
        [Iv(_us(96), HI)],
        [Iv(_us(50), _us(81))],
    )
    # NotReady within the grace after a stretch that ended: the silence was its start
    late = [*ready, _look(120, None, "NotReady")]
    assert silent_stretches(looks[:4], late, grace)[0] == [Iv(_us(50), _us(81))]
    # a refused port is an answer (kube-proxy restarting), not a silence
    refused = [_look(2, None, "200"), _look(51, 50, "refused"), _look(81, 80, "200")]
    assert silent_stretches(refused, ready, grace) == ([], [])


def test_unconfirmed_silent_looks_carry_the_last_answer() -> None:
    looks = [_look(51, 50, "timeout"), _look(52, None, "503"), _look(60, 59, "timeout")]
    carried = unconfirmed_carried(looks, [Iv(_us(50), _us(52)), Iv(_us(59), HI)])
    assert [s.value for s in carried] == ["unknown", "503", "503"]
    assert unconfirmed_carried(looks, [Iv(_us(59), HI)])[0].value == "timeout"


def _replacement(p2_ready_at: float, late_503_at: float) -> list[Observation]:
    """seed-3node's NODE2 (kube-proxy 1.25, the LB healthy throughout): the old pod stops being
    ready at 62.9 s, kube-proxy answers 503 from 64.2 s (the look before it, at 64.8 s, still
    got 200), the replacement's endpoint is ready at 66.9 s, the old pod is gone at 68.2 s,
    the next look answers 200 at 70.0 s. The 503 look is stored at `late_503_at` (a look
    that ended late on a loaded machine), the replacement's ready Pod update at
    `p2_ready_at`."""
    return [
        *_one_node(),
        pod(62.9, "p1", "n1", "terminating", deleted_at=62.9),
        pod(62.9, "p2", "n1", "pending", revision="bbb"),
        eps(62.9, [("p1", "n1", "terminating")]),
        health(64.8, 63.8, "n1", 1),
        health(late_503_at, 64.8, "n1", 0),
        eps(66.9, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(p2_ready_at, "p2", "n1", "ready", revision="bbb"),
        pod(68.2, "p1", "n1", "gone", deleted_at=62.9),
        health(70.0, 69.0, "n1", 1),
    ]


def test_a_late_503_look_keeps_the_closing_cause() -> None:
    # The 503 look ends 1.5 s late (67.3 s), after the replacement's endpoint turned ready:
    # kube-proxy closed somewhere in 64.8-67.3 s, and the endpoints were not ready over part of
    # that range: an endpoint leaving explains the closing. Was registered-before-forwarding.
    (window,) = _windows(_replacement(p2_ready_at=66.9, late_503_at=67.3), PTE_OFF)
    assert window.certain and window.cls == "closed-before-deregistered"


def test_a_replacement_pod_update_seen_late_is_no_pod_gone() -> None:
    # The same, the 503 look ending at 67.8 s and the replacement's ready Pod update seen
    # 1.4 s late (68.3 s), after the old pod's end: for 0.1 s no local pod looks alive, but the
    # endpoint kube-proxy could forward to then is the replacement's, ready since 66.9 s.
    # Was pod-gone-before-deregistered (the CLASS_FLAKE seen in CI).
    (window,) = _windows(_replacement(p2_ready_at=68.3, late_503_at=67.8), PTE_OFF)
    assert window.certain and window.cls == "closed-before-deregistered"
    # on time, the same class
    (window,) = _windows(_replacement(p2_ready_at=66.9, late_503_at=65.8), PTE_OFF)
    assert window.certain and window.cls == "closed-before-deregistered"
