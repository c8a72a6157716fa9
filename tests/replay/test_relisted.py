"""Replay over a stretch a watch relist passed over (replay.relisted, docs/semantics.md).

Literal observations in real shapes: a node on kube-proxy 1.29 (ProxyTerminatingEndpoints on)
probed every second on its healthCheckNodePort, its target polled in the LB, and an apiserver
outage with compaction from 20 s to 50 s: the Kubernetes lanes then only show the relist's diff
at 50 s, while the probes and the LB poller kept looking (they do not go through the apiserver).
"""

from __future__ import annotations

from collections.abc import Callable

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.k8s.relist_gap import MAX_CHANGED, gap_observation
from gapwatch.replay import node_cache
from gapwatch.replay.assumptions import DEFAULTS, seconds_us
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.relisted import stretches, unknown_over
from gapwatch.replay.signals import Iv, Tri
from tests.replay.builders import (
    CLUSTER,
    NS,
    SVC,
    at,
    eps,
    facts_of,
    health,
    node,
    pod,
    service,
    target,
)

SINCE, UNTIL = 20.0, 50.0


def _us(seconds: float) -> int:
    return int(at(seconds).timestamp() * 1_000_000)


def _relist(
    kind: str = "EndpointSlice",
    namespace: str | None = None,
    changed: list[tuple[str, str]] | None = None,
) -> Observation:
    return gap_observation(
        cluster=CLUSTER,
        kind=kind,
        namespace=namespace,
        since=at(SINCE),
        until=at(UNTIL),
        from_rv="900",
        to_rv="990",
        reason="410 Gone: too old resource version",
        changed=changed,
    )


def _probes(answer: Callable[[int], int]) -> list[Observation]:
    """Health looks every second from 2 s to 70 s, stored as changes with their previous look;
    `answer(t)` is localEndpoints at t (0: 503)."""
    out, last = [], None
    for t in range(2, 71):
        local = answer(t)
        if local != last:
            out.append(health(float(t), float(t - 1) if t > 2 else None, "n1", local))
        last = local
    return out


def _base() -> list[Observation]:
    return [
        service(0),
        node(0, "n1"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
    ]


def _rollout_during_outage(*relists: Observation) -> list[Window]:
    """p1 terminates at 25 s (kube-proxy answers 503 from 26 s: the LB still routes), p2 is
    ready at 32 s (200 from 34 s). The watch saw none of it: the relist at 50 s says p1 is
    gone and p2 ready, the EndpointSlice holds p2."""
    obs = _base() + _probes(lambda t: 0 if 26 <= t < 34 else 1)
    obs += [
        pod(UNTIL, "p1", "n1", "deleted", deleted_at=25),
        pod(UNTIL, "p2", "n1", "ready", revision="bbb"),
        eps(UNTIL, [("p2", "n1", "ready")]),
        *relists,
    ]
    return detect(fold(FoldState(), facts_of(obs)))


def test_a_window_the_relist_passed_over_is_uncertain_bounded_and_classed_as_measured() -> None:
    # without the record the window is missed: the stale endpoints lane (p1 ready until the
    # relist) says kube-proxy kept a serving endpoint under ProxyTerminatingEndpoints
    assert _rollout_during_outage() == []
    (w,) = _rollout_during_outage(_relist())
    assert not w.certain
    # the true window [25 or 26, 34) lies inside its bounds
    assert w.start_earliest_us <= _us(25) and w.end_latest_us >= _us(34)
    # kube-proxy answered 503 while the LB routed: what the probes and the poller measured
    assert w.cls == "closed-before-deregistered"


def test_an_excursion_no_probe_saw_inside_the_stretch_is_covered_by_an_uncertain_window() -> None:
    """Every look answered 200 and the relist shows the same EndpointSlice: an endpoint that
    left and came back between two looks is invisible, and possible."""
    obs = _base() + _probes(lambda t: 1)
    assert detect(fold(FoldState(), facts_of(obs))) == []
    windows = detect(fold(FoldState(), facts_of([*obs, _relist("Pod")])))
    assert len(windows) == 1 and not windows[0].certain
    skew = seconds_us(DEFAULTS.watch_skew_s)
    assert windows[0].start_earliest_us <= _us(SINCE) - skew
    assert windows[0].end_latest_us >= _us(UNTIL)


def test_only_the_services_namespace_and_the_lanes_kinds_count() -> None:
    plain = _rollout_during_outage()
    assert _rollout_during_outage(_relist("Node")) == plain
    assert _rollout_during_outage(_relist("EndpointSlice", "other")) == plain
    changed = _rollout_during_outage(_relist("EndpointSlice", NS))
    assert changed != plain and not any(w.certain for w in changed)


def test_only_a_stretch_in_which_the_services_slices_or_pods_changed_counts() -> None:
    plain = _rollout_during_outage()
    slice_name = SVC + "-abc"  # tests.replay.builders.eps
    other = [(NS, "another-service-xyz"), ("other", slice_name)]
    assert _rollout_during_outage(_relist(changed=other)) == plain
    assert _rollout_during_outage(_relist(changed=[])) == plain
    (mine,) = _rollout_during_outage(_relist(changed=[*other, (NS, slice_name)]))
    assert not mine.certain and mine.cls == "closed-before-deregistered"
    (pods,) = _rollout_during_outage(_relist("Pod", changed=[(NS, "p1")]))
    assert pods == mine
    # past MAX_CHANGED the record names none: any object may have changed
    many = [(NS, f"pod-{i}") for i in range(MAX_CHANGED + 1)]
    assert _relist("Pod", changed=many).payload["changed"] is None
    assert _rollout_during_outage(_relist("Pod", changed=many)) == [mine]


def test_a_window_before_the_stretch_keeps_its_certainty_and_class() -> None:
    """The pod stops at 5 s (503 from 6 s), the new one serves from 12 s: seen live, long
    before the outage; the relist changes nothing of it."""
    obs = _base() + _probes(lambda t: 0 if 6 <= t < 12 else 1)
    obs += [
        pod(5, "p1", "n1", "gone", deleted_at=5),
        eps(5, [("p1", "n1", "stopped")]),
        pod(10, "p2", "n1", "ready", revision="bbb"),
        eps(10, [("p2", "n1", "ready")]),
    ]
    plain = detect(fold(FoldState(), facts_of(obs)))
    relisted = detect(fold(FoldState(), facts_of([*obs, _relist()])))
    early = [w for w in plain if w.end_latest_us < _us(SINCE) - seconds_us(DEFAULTS.watch_skew_s)]
    assert early and early[0].certain
    assert early == [w for w in relisted if w.end_latest_us < _us(SINCE)]


def test_stretches_are_merged_and_start_the_watch_skew_early() -> None:
    state = fold(FoldState(), facts_of([service(0), _relist("Pod"), _relist("EndpointSlice")]))
    svc = ServiceRef(CLUSTER, NS, SVC)
    skew = seconds_us(DEFAULTS.watch_skew_s)
    assert [(iv.start, iv.end) for iv in stretches(state, svc, DEFAULTS)] == [
        (_us(SINCE) - skew, _us(UNTIL))
    ]


def test_unknown_over_makes_a_signal_unknown_only_there() -> None:
    sure = Tri([Iv(0, 100)], [Iv(0, 100)])
    never = Tri([], [])
    over = [Iv(40, 60)]
    assert unknown_over(sure, over, possible=False) == Tri([Iv(0, 100)], [Iv(0, 40), Iv(60, 100)])
    assert unknown_over(never, over, possible=True) == Tri([Iv(40, 60)], [])
    assert unknown_over(never, over, possible=False) == never
    assert unknown_over(sure, [], possible=True) is sure


def test_a_refresh_that_folds_the_relist_later_equals_a_rebuild() -> None:
    """replay.node_cache keeps a node's windows while its inputs did not move: a relist record
    arriving later moves every node of the Services it concerns."""
    facts = facts_of(_base() + _probes(lambda t: 0 if 26 <= t < 34 else 1) + [_relist()])
    svc = ServiceRef(CLUSTER, NS, SVC)
    state = fold(FoldState(), [f for f in facts if f.fact != "relist"])
    cache: node_cache.Cache = {}
    before = node_cache.windows(state, svc, DEFAULTS, cache)
    fold(state, [f for f in facts if f.fact == "relist"])  # the newest event: folded last
    after = node_cache.windows(state, svc, DEFAULTS, cache)
    assert after == detect(state, [svc]) != before
