"""`TransitionTracker.adopt`: a stored observation newer than the tracker's own last look
replaces the state a change is compared with; an older one, or one of the same state, changes
nothing (it would only widen a change's bounds: the lab's probe-timeout seed 3 showed a change
bounded by a first look 60 s old after an early version adopted it). Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gapwatch.recorder.sources.kubeproxy.tracker import Look, TargetKey, TransitionTracker

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = TargetKey("ProxyHealth", "n1", "ns", "svc")


def payload(status: int) -> dict[str, Any]:
    body = {"localEndpoints": 1 if status == 200 else 0}
    return {"status": status, "body": body, "error": None, "port": 31805}


def look(at: float, status: int) -> Look:
    return Look(KEY, T0 + timedelta(seconds=at), T0 + timedelta(seconds=at + 0.1), payload(status))


def tracker_at_64() -> TransitionTracker:
    tracker = TransitionTracker(cluster="c", heartbeat_s=60.0)
    assert tracker.see(look(5.0, 503)) is not None  # first
    assert tracker.see(look(64.0, 503)) is None  # unchanged, not stored; it started at 64
    return tracker


def test_an_older_stored_observation_does_not_widen_a_change() -> None:
    tracker = tracker_at_64()
    tracker.adopt(KEY, payload(503), T0 + timedelta(seconds=5.8))  # the other's first look
    change = tracker.see(look(65.0, 200))
    assert change is not None and change.previous_observed_at == T0 + timedelta(seconds=64)


def test_a_newer_stored_change_is_adopted_and_bounds_the_next() -> None:
    tracker = tracker_at_64()
    tracker.adopt(KEY, payload(200), T0 + timedelta(seconds=64.5))  # the other saw it first
    assert tracker.see(look(65.0, 200)) is None  # no change again
    change = tracker.see(look(66.0, 503))
    assert change is not None and change.previous_observed_at == T0 + timedelta(seconds=65)
