"""Observer clock offsets estimated from causality (replay.clocks), from literal observations in
the shapes the real sources produce: kube-proxy's health-check-node-port answers stamped by a
prober whose clock is behind the recorder's, against EndpointSlices on the recorder's watch."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.clocks import best_offset, clock_offset
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from tests.replay.builders import at, eps, facts_of, health, node, pod, service, target

CYCLES = 6
#: the estimate is opt-in (the default clock_offset_max_s 0 turns it off): search up to 30 s;
#: kube-proxy 1.25 with ProxyTerminatingEndpoints stated off (on 1.25 the gate may have been
#: enabled: a 503 over a terminating pod alone leaves a window possible, test_gate_doubt.py)
ON = DetectSettings(clock_offset_max_s=30, proxy_terminating_endpoints=False)


def _rollouts(offset_s: float, lag_s: float = 1.5, late_batch: bool = False) -> list[Observation]:
    """One node; every 45 s its pod goes (the EndpointSlice says terminating) and a new one is
    ready 5 s later. kube-proxy follows each change `lag_s` later; the health check is probed
    every second by a prober whose clock reads `offset_s` off. `late_batch`: no offset, but
    the watch delivered one cycle's EndpointSlice changes 6 s late."""
    obs = [
        service(0),
        node(0, "n1", version="v1.25.0"),
        pod(0, "p0", "n1", "ready"),
        eps(0, [("p0", "n1", "ready")]),
        target(0, None, "n1", "healthy", "ADDED"),
    ]
    down: list[tuple[float, float]] = []
    for k in range(CYCLES):
        base = 40.0 + 45 * k
        late = 6.0 if late_batch and k == 2 else 0.0
        obs += [
            pod(base, f"p{k}", "n1", "terminating", deleted_at=base),
            eps(base + late, [(f"p{k}", "n1", "terminating")]),
            pod(base + 5, f"p{k + 1}", "n1", "ready"),
            eps(base + 5 + late, [(f"p{k + 1}", "n1", "ready")]),
        ]
        down.append((base + lag_s, base + 5 + lag_s))
    for t in range(1, 45 * CYCLES + 40):
        local = 0 if any(a <= t < b for a, b in down) else 1
        obs.append(health(t + offset_s, t - 1 + offset_s, "n1", local))
    return sorted(obs, key=lambda o: o.observed_at)


def _state(obs: list[Observation]) -> FoldState:
    return fold(FoldState(), facts_of(obs))


def _offset(obs: list[Observation], settings: DetectSettings = ON) -> float:
    return clock_offset(_state(obs), "c1", "prober", settings) / 1e6


def _windows(obs: list[Observation], settings: DetectSettings = ON) -> list[Window]:
    return detect(_state(obs), settings=settings)


def _covered(windows: list[Window], lag_s: float = 1.5) -> int:
    """How many of the true windows (kube-proxy closed `lag_s` after each pod went, until
    `lag_s` after the new pod was ready; the LB never let go) lie inside a reported window's
    bounds."""
    t0 = at(0).timestamp() * 1e6
    out = 0
    for k in range(CYCLES):
        start = t0 + (40.0 + 45 * k + lag_s) * 1e6
        end = start + 5e6
        out += any(w.start_earliest_us <= start and end <= w.end_latest_us for w in windows)
    return out


def test_a_prober_behind_the_recorder_is_estimated_and_corrected() -> None:
    # Every 503 is stamped before the EndpointSlice change that caused it: the prober is at
    # least 4 - 1.5 - 1 = 1.5 s behind (kube-proxy's lag and the 1 s probe hide the rest: the
    # estimate is a lower bound).
    assert -4.0 <= _offset(_rollouts(-4.0)) <= -1.5
    # without the estimate the windows are placed 4 s early and most miss their true one;
    # shifted, and widened by as much, every true window is inside the bounds
    raw = _windows(_rollouts(-4.0), DEFAULTS)
    # (uncorrected, the last 503s come before the last return: an excursion no sample saw,
    # possible from a probe period before that return; it may add an uncertain window)
    assert len(raw) >= CYCLES and _covered(raw) < CYCLES // 2
    fixed = _windows(_rollouts(-4.0))
    assert len(fixed) == CYCLES and _covered(fixed) == CYCLES
    # a synchronized prober: every window certain, classed, inside its bounds
    synced = _windows(_rollouts(0.0))
    assert _covered(synced) == CYCLES
    assert {(w.cls, w.certain) for w in synced} == {("closed-before-deregistered", True)}


def test_synchronized_and_ahead_clocks_and_a_late_watch_batch_move_nothing() -> None:
    assert _offset(_rollouts(0.0)) == 0
    # a clock ahead looks like a slower kube-proxy: causality cannot tell
    assert _offset(_rollouts(3.0)) == 0
    # one cycle's EndpointSlice changes seen 6 s late: a few reactions close together
    assert _offset(_rollouts(0.0, late_batch=True)) == 0
    assert _offset(_rollouts(-4.0), DEFAULTS) == 0


def test_best_offset_prefers_the_smallest_shift_that_explains_the_most() -> None:
    s = 1_000_000
    # three reactions: two explained from -3 s on, one only at 0 .. -1 s
    allowed = [[(-10 * s, -3 * s)], [(-10 * s, -3 * s)], [(-1 * s, 5 * s)]]
    assert best_offset(allowed, 30 * s) == (-3 * s, 2, 1)
    # bounds: (lo, hi] excludes lo
    assert best_offset([[(-2 * s, -1 * s)], [(-3 * s, -2 * s)]], 30 * s)[0] == -1 * s
    assert best_offset([], 30 * s) == (0, 0, 0)
