"""A gap the LB's return opened on a node whose EndpointSlice listed a ready endpoint at every
version for longer than kube-proxy's lag bound, with the health check counting one at every
look, is `pod-gone-before-deregistered`, not `registered-before-forwarding`: kube-proxy
programs whole slice versions and forwards to every ready endpoint, so whatever version it held
gave it rules for the node, and a gap there had rules with no live pod behind them
(replay.detect `_held_rules`; F read from the health check, no NodePort probe). Shaped like
random 673 node-002 (`accuracy.py --without-nodeport`: the EndpointSlice controller behind,
the dead pod's ready endpoint swapped for its replacement's in one write; read
`registered-before-forwarding` with nothing named, truth `pod-gone-before-deregistered`).

Literal observations: kube-proxy 1.29, an endpoint-driven LB (it checks the NodePort) polled
every 2 s, the health check every second. Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD, RBF
from tests.replay import builders as b


def _swap(health_503_at: float | None) -> Window:
    """p1 on n1 is ready from 0.5 s; it is deleted at 100 s and its container stops at 101.4 s
    (seen gone 0.3 s later), while the EndpointSlice controller, behind, still lists it ready
    until one write at 106.5 s lists its replacement p2 (Ready at 103 s) in its place. The LB
    drains n1 at the termination (seen from the poll at 101 s) and routes to it again (seen at
    107 s). The health check counts one ready local endpoint at every look, but where
    `health_503_at` is set, that look answers 503 counting none. The window the LB's return
    opened (the drain's own, at 100-101 s, aside)."""
    obs: list[Observation] = b.unlisted_swap(100, 101.4, 100.2, 103, 106.5)
    prev: float | None = None
    for t in range(1, 131, 2):
        state = "draining" if 101 <= t <= 105 else "healthy"
        obs.append(b.target(t, prev, "n1", state, "ADDED" if prev is None else "MODIFIED",
                            check_port=32999))  # fmt: skip
        prev = t
    prev = None
    for t in range(1, 131):
        obs.append(b.health(t, prev, "n1", 0 if t == health_503_at else 1))
        prev = t
    back = to_micros(b.at(105))
    (window,) = [w for w in b.windows_of(obs) if w.start_earliest_us <= back <= w.start_latest_us]
    return window


def test_a_return_to_rules_that_were_never_dropped_met_a_dead_pod() -> None:
    window = _swap(None)
    assert not window.certain
    assert window.cls == PGBD


def test_a_look_that_counted_nothing_leaves_the_unprogrammed_reading() -> None:
    # a 503 counting no ready endpoint in the span: kube-proxy held no ready endpoint there
    # (its lag past the bound), so it may have had no rules when the LB came back
    window = _swap(106.0)
    assert window.cls == RBF
