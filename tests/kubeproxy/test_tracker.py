"""The pure parts: transitions and heartbeats from literal looks, the schedule, settings."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.observation import validate
from gapwatch.recorder.sources.kubeproxy import schedule
from gapwatch.recorder.sources.kubeproxy.settings import ProberSettings, parse_settings
from gapwatch.recorder.sources.kubeproxy.tracker import (
    RESUMED,
    Look,
    TargetKey,
    TransitionTracker,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
KEY = TargetKey("ProxyHealth", "node-1", "default", "nginx")


def _health(status: int | None, local: int = 1, latency: float = 1.0) -> dict[str, Any]:
    body = None
    if status is not None:
        body = {"service": {"namespace": "default", "name": "nginx"}, "localEndpoints": local}
    error = None if status is not None else "refused"
    return {"status": status, "body": body, "error": error, "port": 31805, "latency_ms": latency}


def _look(t: float, payload: dict[str, Any], key: TargetKey = KEY) -> Look:
    start = T0 + timedelta(seconds=t)
    return Look(key, start, start + timedelta(milliseconds=2), payload)


def test_first_change_and_heartbeat() -> None:
    tracker = TransitionTracker(cluster="c1", heartbeat_s=60)
    first = tracker.see(_look(0, _health(200)))
    assert first is not None and first.payload["look"] == "first"
    assert first.previous_observed_at is None
    validate(first)
    # latency is not a change
    assert tracker.see(_look(1, _health(200, latency=9.0))) is None
    change = tracker.see(_look(2, _health(503, local=0)))
    assert change is not None and change.payload["look"] == "change"
    assert change.previous_observed_at == T0 + timedelta(seconds=1)
    assert change.observed_at == T0 + timedelta(seconds=2, milliseconds=2)
    validate(change)
    # a body change with the same status (1 -> 2 local endpoints) is a change too
    tracker.see(_look(3, _health(200)))
    assert tracker.see(_look(4, _health(200, local=2))) is not None
    assert tracker.see(_look(5, _health(200, local=2))) is None
    beat = tracker.see(_look(64.1, _health(200, local=2)))
    assert beat is not None and beat.payload["look"] == "heartbeat"
    # bounded by the look before it (5 s), as a change is: the prober's period, not 60 s
    assert beat.previous_observed_at == T0 + timedelta(seconds=5)
    # stamped when its look began: a repeat claims the state no later than its answer
    assert beat.observed_at == T0 + timedelta(seconds=64.1)
    validate(beat)
    assert tracker.see(_look(65, _health(200, local=2))) is None


def test_node_health_ignores_kube_proxys_own_timestamps() -> None:
    key = TargetKey("ProxyNodeHealth", "node-1", path="/healthz")
    tracker = TransitionTracker(cluster="c1", heartbeat_s=60)

    def healthz(t: float, eligible: bool) -> dict[str, Any]:
        stamp = (T0 + timedelta(seconds=t)).isoformat()
        body = {"lastUpdated": stamp, "currentTime": stamp, "nodeEligible": eligible}
        return {"status": 200 if eligible else 503, "body": body, "error": None, "port": 10256}

    assert tracker.see(_look(0, healthz(0, True), key)) is not None
    assert tracker.see(_look(1, healthz(1, True), key)) is None
    drained = tracker.see(_look(2, healthz(2, False), key))
    assert drained is not None and drained.payload["body"]["nodeEligible"] is False


def test_seeded_state_is_not_a_transition_and_bounds_a_change() -> None:
    tracker = TransitionTracker(cluster="c1", heartbeat_s=60)
    tracker.seed(KEY, _health(200), T0)
    resumed = tracker.see(_look(10, _health(200)))  # where this prober resumed looking
    assert resumed is not None and resumed.payload["look"] == "resume"
    assert resumed.previous_observed_at == T0
    assert tracker.see(_look(11, _health(200))) is None
    other = TransitionTracker(cluster="c1", heartbeat_s=60)
    other.seed(KEY, _health(200), T0)
    change = other.see(_look(10, _health(None)))
    assert change is not None and change.previous_observed_at == T0


def test_a_restarted_probers_first_change_says_it_resumed() -> None:
    # issue 17: its previous_observed_at is the stored look from before the restart (53-58 s
    # back in the lab), not a look of this prober: a reader must not take it for the period
    tracker = TransitionTracker(cluster="c1", heartbeat_s=60)
    tracker.seed(KEY, _health(200), T0)
    change = tracker.see(_look(55, _health(503, local=0)))
    assert change is not None and change.payload["look"] == "change"
    assert change.previous_observed_at == T0 and change.payload[RESUMED] is True
    validate(change)
    # its next change bounds a look of its own: no mark
    later = tracker.see(_look(56, _health(200)))
    assert later is not None and later.payload["look"] == "change"
    assert later.previous_observed_at == T0 + timedelta(seconds=55)
    assert RESUMED not in later.payload
    # a stored payload that carries the mark is the same state (a restart seeds from it)
    again = TransitionTracker(cluster="c1", heartbeat_s=60)
    again.seed(KEY, change.payload, change.observed_at)
    resumed = again.see(_look(70, _health(503, local=0)))
    assert resumed is not None and resumed.payload["look"] == "resume"


def test_a_change_of_a_prober_that_kept_looking_has_no_mark() -> None:
    tracker = TransitionTracker(cluster="c1", heartbeat_s=60)
    tracker.see(_look(0, _health(200)))
    change = tracker.see(_look(1, _health(503, local=0)))
    assert change is not None and RESUMED not in change.payload


@given(st.lists(st.sampled_from([200, 503, None]), min_size=1, max_size=60))
def test_bounds_always_hold_the_true_change(statuses: list[int | None]) -> None:
    """Looks every second; a state changes between two looks: every stored change is bounded
    by the last look that saw the old state and the first that saw the new one."""
    tracker = TransitionTracker(cluster="c1", heartbeat_s=3600)
    stored = [tracker.see(_look(i, _health(s))) for i, s in enumerate(statuses)]
    changes = [i for i in range(1, len(statuses)) if statuses[i] != statuses[i - 1]]
    got = [i for i, o in enumerate(stored) if o is not None and o.payload["look"] == "change"]
    assert got == changes
    for i in got:
        obs = stored[i]
        assert obs is not None and obs.previous_observed_at is not None
        assert obs.previous_observed_at == T0 + timedelta(seconds=i - 1)
        assert obs.observed_at - obs.previous_observed_at < timedelta(seconds=1.01)


def test_schedule_keeps_the_period_and_skips_missed_ticks() -> None:
    assert schedule.next_due(10.0, 1.0, 10.5) == 11.0
    assert schedule.next_due(10.0, 1.0, 13.4) == 14.0  # 11, 12, 13 were missed
    offsets = [schedule.phase(random.Random(i), 1.0, 0.5) for i in range(50)]
    assert all(0 <= o < 0.5 for o in offsets) and len(set(offsets)) > 40
    assert schedule.looks_per_second(500, 0.25) == 2000


def test_settings_defaults_and_errors() -> None:
    s = parse_settings({})
    assert (s.interval_s, s.heartbeat_s, s.healthz_port) == (1.0, 60.0, 10256)
    assert parse_settings({"address_types": ["ExternalIP"]}).address_types == ("ExternalIP",)
    with pytest.raises(ConfigError, match="unknown key 'intervall'"):
        parse_settings({"intervall": 1})
    with pytest.raises(ConfigError, match="interval_s"):
        ProberSettings(interval_s=0.01)
    with pytest.raises(ConfigError, match="heartbeat_s"):
        ProberSettings(interval_s=5, heartbeat_s=1)
    with pytest.raises(ConfigError, match="nodeport"):
        parse_settings({"nodeport": "sometimes"})
    with pytest.raises(ConfigError, match="kube-proxy"):
        parse_settings({"interval_s": "fast"})


def test_stored_heartbeats_show_replay_the_probe_period_not_the_heartbeat() -> None:
    """Issue 17 (the lab's late NODE2 end): heartbeats stored without the look before them made
    replay read the 60 s between stored rows as the probe period, so it assumed a kube-proxy lag
    of 50 s (replay.proxy.proxy_lag_hi) and held a window open that long after the node served
    again. Stored looks every 1 s for 130 s, folded as replay folds them: the period is 1 s."""
    from gapwatch.replay.fold import FoldState, Sample, keep_sample, probe_lane

    tracker = TransitionTracker(cluster="c1", heartbeat_s=60)
    stored = [tracker.see(_look(t, _health(200))) for t in range(131)]
    rows = [o for o in stored if o is not None]
    assert [o.payload["look"] for o in rows] == ["first", "heartbeat", "heartbeat"]
    state = FoldState()
    key = ("health", "c1", "default", "nginx", "node-1")
    lane = probe_lane(state, key)
    for i, o in enumerate(rows):
        prev = o.previous_observed_at
        at_us = int(o.observed_at.timestamp() * 1e6)
        prev_us = None if prev is None else int(prev.timestamp() * 1e6)
        keep_sample(state, key, lane, Sample(at_us, prev_us, "200", i, 1))
    assert state.look_gap[key] <= 1_002_000  # one interval and one answer's latency


def test_forgetting_a_target_gives_its_unstored_last_look() -> None:
    """17,000,089's shape: a node answers 503 (no local endpoint programmed) look after look,
    stored once; the prober stops looking (its Node deleted): the last look is what it answered
    until then, bounded by the look before it, as a heartbeat is."""
    tracker = TransitionTracker(cluster="c1", heartbeat_s=60)
    assert tracker.see(_look(0, _health(503, local=0))) is not None
    for t in range(1, 26):
        assert tracker.see(_look(t, _health(503, local=0, latency=float(t)))) is None
    last = tracker.forget(KEY)
    assert last is not None and last.payload["look"] == "last"
    # its own payload (the latency of the 25th look) and timing
    assert last.payload["latency_ms"] == 25.0 and last.payload["status"] == 503
    # stamped when that look began, as a heartbeat is (tracker.stamp): it repeats a known state
    assert last.observed_at == T0 + timedelta(seconds=25)
    assert last.previous_observed_at == T0 + timedelta(seconds=24)
    assert (last.kind, last.node, last.name) == ("ProxyHealth", "node-1", "nginx")
    validate(last)
    # once: the target is gone
    assert tracker.forget(KEY) is None and KEY not in tracker.known()


def test_forgetting_after_a_stored_look_gives_nothing() -> None:
    tracker = TransitionTracker(cluster="c1", heartbeat_s=60)
    tracker.see(_look(0, _health(200)))
    assert tracker.forget(KEY) is None  # the first look was the last
    tracker.see(_look(0, _health(200)))
    tracker.see(_look(1, _health(200)))
    assert tracker.see(_look(2, _health(503, local=0))) is not None  # a change, stored
    assert tracker.forget(KEY) is None
    tracker.see(_look(0, _health(200)))
    tracker.see(_look(1, _health(200)))
    assert tracker.see(_look(61, _health(200))) is not None  # a heartbeat, stored
    assert tracker.forget(KEY) is None
    # seeded from the store and never looked at: nothing of this prober's to store
    tracker.seed(KEY, _health(200), T0)
    assert tracker.forget(KEY) is None
    tracker.seed(KEY, _health(200), T0)
    assert tracker.see(_look(5, _health(200))) is not None  # resume, stored
    assert tracker.forget(KEY) is None


def test_a_stored_state_adopted_or_restored_drops_the_unstored_look() -> None:
    """The other replica stored a newer state (adopt), or this prober's change was dropped
    (restore): the unstored look saw a state the store has left, and is not the last word."""
    for replace in ("adopt", "restore"):
        tracker = TransitionTracker(cluster="c1", heartbeat_s=60)
        tracker.see(_look(0, _health(200)))
        tracker.see(_look(1, _health(200)))
        getattr(tracker, replace)(KEY, _health(503, local=0), T0 + timedelta(seconds=1.5))
        assert tracker.forget(KEY) is None, replace
