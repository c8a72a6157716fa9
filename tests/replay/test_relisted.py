"""Replay over a stretch a watch relist passed over (replay.relisted, docs/semantics.md).

Literal observations in real shapes: a node on kube-proxy 1.29 (ProxyTerminatingEndpoints on)
probed every second on its healthCheckNodePort, its target polled in the LB, and an apiserver
outage with compaction from 20 s to 50 s: the Kubernetes lanes then only show the relist's diff
at 50 s, while the probes and the LB poller kept looking (they do not go through the apiserver).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.k8s.relist_gap import MAX_CHANGED, gap_observation
from gapwatch.replay import node_cache
from gapwatch.replay.assumptions import DEFAULTS, seconds_us
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.relisted import node_stretches, stretches, unknown_over
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
    # without the record the stale endpoints lane (p1 ready until the relist) says kube-proxy
    # kept a serving endpoint under ProxyTerminatingEndpoints; the 503s counting none, with no
    # pod seen terminating, leave that only possible (replay.uncounted): a possible window
    (unrecorded,) = _rollout_during_outage()
    assert not unrecorded.certain
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
    assert _rollout_during_outage(_relist("Service")) == plain
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


def _replaced_live(stop: float, ready: float) -> list[Observation]:
    """p1 stops at `stop` (503 from a second later), p2 is ready at `ready` (200 from two
    seconds later), all watched live."""
    obs = _base() + _probes(lambda t: 0 if stop + 1 <= t < ready + 2 else 1)
    return [
        *obs,
        pod(stop, "p1", "n1", "gone", deleted_at=stop),
        eps(stop, [("p1", "n1", "stopped")]),
        pod(ready, "p2", "n1", "ready", revision="bbb"),
        eps(ready, [("p2", "n1", "ready")]),
    ]


def test_a_window_before_the_stretch_keeps_its_certainty_and_class() -> None:
    """The pod stops at 5 s (503 from 6 s), the new one serves from 12 s: seen live, long
    before the outage; the relist changes nothing of it."""
    obs = _replaced_live(5, 10)
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
    _refresh_equals_rebuild(_base() + _probes(lambda t: 0 if 26 <= t < 34 else 1) + [_relist()])


def _refresh_equals_rebuild(obs: list[Observation]) -> None:
    """The relist records of `obs` folded last (the newest events): the cached windows then
    equal a rebuild's, and differ from those before them."""
    facts = facts_of(obs)
    svc = ServiceRef(CLUSTER, NS, SVC)
    state = fold(FoldState(), [f for f in facts if f.fact != "relist"])
    cache: node_cache.Cache = {}
    before = node_cache.windows(state, svc, DEFAULTS, cache)
    fold(state, [f for f in facts if f.fact == "relist"])
    after = node_cache.windows(state, svc, DEFAULTS, cache)
    assert after == detect(state, [svc]) != before


def _two_nodes() -> list[Observation]:
    """Two Ready nodes, a ready pod on each, no prober (F inferred from the endpoints, the pods
    and the Node), both targets polled every 10 s and healthy throughout."""
    obs = [
        service(0),
        node(0, "n1"),
        node(0, "n2"),
        pod(1, "p1", "n1", "ready"),
        pod(1, "p2", "n2", "ready"),
        eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        target(1, None, "n2", "healthy", "ADDED"),
    ]
    for t in range(11, 80, 10):
        obs += [target(t, t - 10, "n1", "healthy"), target(t, t - 10, "n2", "healthy")]
    return obs


def _windows(obs: list[Observation]) -> list[Window]:
    return detect(fold(FoldState(), facts_of(obs)))


def test_a_node_relist_leaves_the_changed_nodes_readiness_unknown_there() -> None:
    """n1 went NotReady and back inside the outage, unseen: the relist shows it Ready again and
    names it as changed. Without a prober its serving rested on that Ready condition: over the
    stretch it may not have served while the LB routed (an uncertain window covering it), never
    surely. n2, not named, keeps its lanes; a record that names none leaves both unknown."""
    obs = _two_nodes()
    assert _windows(obs) == []
    named = _windows([*obs, node(UNTIL, "n1"), _relist("Node", changed=[("", "n1")])])
    (w,) = named
    assert w.node == "n1" and not w.certain
    # its class comes from the stale lanes (the LB routing to a node whose endpoints were
    # ready); the NotReady the relist may have hidden is the other reading, named in `also`
    assert w.cls != "node-not-ready" and "node-not-ready" in w.also
    skew = seconds_us(DEFAULTS.watch_skew_s)
    assert w.start_earliest_us <= _us(SINCE) - skew and w.end_latest_us >= _us(UNTIL)
    (other,) = _windows([*obs, _relist("Node", changed=[("", "n2")])])
    assert other.node == "n2" and not other.certain
    unnamed = _windows([*obs, _relist("Node")])
    assert {x.node for x in unnamed} == {"n1", "n2"} and not any(x.certain for x in unnamed)
    # a relist in which no Node changed passed over nothing
    assert _windows([*obs, _relist("Node", changed=[])]) == []


def test_a_node_seen_not_ready_at_the_relist_is_a_window_but_not_a_certain_one() -> None:
    """The relist shows n1 NotReady while the LB still routes to it: a node-not-ready window,
    certain when the Node was watched live; after a relist that passed over its fall, when it
    fell is unseen and the window is uncertain, with the same class and bounds."""
    obs = [*_two_nodes(), node(UNTIL, "n1", ready=False)]
    (live,) = _windows(obs)
    assert live.certain and live.cls == "node-not-ready"
    (relisted,) = _windows([*obs, _relist("Node", changed=[("", "n1")])])
    assert relisted == replace(live, certain=False)


def test_a_probed_node_keeps_its_measured_windows_and_classes_only_uncertain() -> None:
    """With a prober, F is measured without the Node: a rollout seen live inside a Node relist
    stretch keeps its window, bounds and class (the slices and pods were watched), but not its
    certainty, and a node-not-ready that may hide there is named in `also` (replay.undecided:
    a NotReady in the stretch may have opened it); the other node's windows are untouched."""
    obs = _replaced_live(25, 30)
    plain = _windows(obs)
    assert plain and all(w.certain for w in plain)
    assert all(w.cls != "node-not-ready" and "node-not-ready" not in w.also for w in plain)
    relisted = _windows([*obs, _relist("Node", changed=[("", "n1")])])
    assert relisted == [replace(w, certain=False, also=(*w.also, "node-not-ready")) for w in plain]
    assert _windows([*obs, _relist("Node", changed=[("", "n9")])]) == plain


def test_node_stretches_name_only_the_changed_nodes() -> None:
    rows = [_relist("Node", changed=[("", "n1")]), _relist("Pod")]
    state = fold(FoldState(), facts_of([service(0), *rows]))
    skew = seconds_us(DEFAULTS.watch_skew_s)
    assert [(iv.start, iv.end) for iv in node_stretches(state, CLUSTER, "n1", DEFAULTS)] == [
        (_us(SINCE) - skew, _us(UNTIL))
    ]
    assert node_stretches(state, CLUSTER, "n2", DEFAULTS) == []
    assert node_stretches(state, "other", "n1", DEFAULTS) == []


def test_a_refresh_that_folds_a_node_relist_later_equals_a_rebuild() -> None:
    """replay.node_cache: a Node relist arriving later moves the windows of the node it names."""
    _refresh_equals_rebuild([*_two_nodes(), _relist("Node", changed=[("", "n1")])])


def test_a_window_opened_before_a_node_relist_does_not_name_a_hidden_not_ready() -> None:
    """A rollout window that opened at 5 s, before the Node relist stretch (20-50 s, the watch
    skew before it), had its cause seen while the Node was watched: it touches the stretch
    (uncertain) but names no hidden NotReady; one opening inside the stretch does."""
    early = [replace(w, certain=False) for w in _windows(_replaced_live(5, 30))]
    assert early and all(w.start_latest_us < _us(SINCE) - seconds_us(DEFAULTS.watch_skew_s)
                         for w in early)  # fmt: skip
    relisted = _windows([*_replaced_live(5, 30), _relist("Node", changed=[("", "n1")])])
    assert relisted == early
