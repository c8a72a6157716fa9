"""A refresh re-detects a moved node only from the instant its new samples can move detection
at (replay.suffix): the windows before it are kept, and the result is what a rebuild gives.
Literal observations (tests/replay/builders.py shapes)."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay import suffix
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.model import Window
from tests.replay import builders
from tests.replay.builders import at, eps, facts_of, health, node, nodeport, pod, service, target

CRASH = 4000.0  # n1 stops answering
NOT_READY = 4040.0  # the node controller marks it NotReady (within node_grace_s of the crash)


def _history() -> list[Observation]:
    """n1 and n2 with one local pod each, probed every 5 s, their LB targets polled every
    10 s: on n1 kube-proxy refuses for a moment at 100 s (a window), then at 4,000 s the node
    stops answering; the LB's health checks take it out by 4,020 s, the Node turns NotReady
    at 4,040 s."""
    obs = [service(0), node(0, "n1"), node(0, "n2"), pod(1, "p1", "n1", "ready")]
    obs += [pod(1, "p2", "n2", "ready"), eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")])]
    prev = None
    for i in range(1, 822):
        t = 5.0 * i
        up = t < CRASH
        obs.append(nodeport(t, prev, "n1", "refused" if 100 <= t < 110 else
                            "connected" if up else "timeout"))  # fmt: skip
        obs += [health(t, prev, "n1", 1 if up else None), nodeport(t, prev, "n2", "connected")]
        if i % 2 == 0:
            polled = t - 10 if t > 10 else None
            obs.append(target(t, polled, "n1", "healthy" if t < CRASH + 20 else "unhealthy"))
            obs.append(target(t, polled, "n2", "healthy"))  # the LB does not fail open
        prev = t
    obs.append(node(NOT_READY, "n1", ready=False))
    return sorted(obs, key=lambda o: o.observed_at)


def _refreshed(cut: float) -> tuple[list[Window], list[Window], list[Window]]:
    return builders.refreshed_at(_history(), cut)


def test_a_fact_inside_a_windows_look_back_re_detects_it() -> None:
    # cut after the crash window closed (4,020 s) and before the NotReady (4,040 s): the
    # NotReady comes after the window's end but within node_grace_s of its start, so it
    # turns the window into node-not-ready (detect.classify: went down at the start)
    before, after, rebuilt = _refreshed(NOT_READY - 5)
    assert after == rebuilt
    early, crash = (w for w in before if w.node == "n1")
    assert crash.end_latest_us < to_micros(at(NOT_READY))
    assert crash.cls != "node-not-ready"
    assert rebuilt[-1].cls == "node-not-ready"
    # the window at 100 s lies before the look-back: kept as it was, not found again
    assert next(w for w in after if w.node == "n1") is early


def test_without_the_look_back_the_refresh_would_keep_a_stale_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cut above lies inside the crash window's look-back: an instant taken from the new
    samples' times alone (no look-back, no stretch read as one span) keeps its old class."""
    monkeypatch.setattr(suffix, "look_back_us", lambda *_args: 0)
    monkeypatch.setattr(suffix, "_floor", lambda _lane, at_us, _stretch: at_us)
    _before, after, rebuilt = _refreshed(NOT_READY - 5)
    assert after != rebuilt
    assert after[-1].cls != rebuilt[-1].cls == "node-not-ready"


@pytest.mark.parametrize("cut", [CRASH - 30, CRASH + 10, CRASH + 30, NOT_READY + 20])
def test_every_cut_around_the_crash_refreshes_to_the_rebuild(cut: float) -> None:
    _before, after, rebuilt = _refreshed(cut)
    assert after == rebuilt


def test_every_assumption_in_seconds_widens_the_look_back() -> None:
    """The look-back is the sum of every duration detection moves an instant by: each
    assumption in seconds (replay.assumptions) and the LB's checks widen it."""
    state = fold(FoldState(), facts_of(_history()))
    (svc,) = lb_facing(state)
    base = suffix.look_back_us(state, svc, DEFAULTS, 0)
    assert base > 0
    named = [f.name for f in fields(DEFAULTS) if f.name.endswith("_s")]
    assert "node_grace_s" in named and "pod_status_s" in named
    for name in [*named, "hc_interval_s", "hc_unhealthy_threshold", "hc_healthy_threshold"]:
        wider = replace(DEFAULTS, **{name: getattr(DEFAULTS, name) + 10})
        assert suffix.look_back_us(state, svc, wider, 0) > base, name
    assert suffix.look_back_us(state, svc, DEFAULTS, 7_000_000) == base + 7_000_000
