"""Detection node by node with reused windows (replay.node_cache) gives what `detect` gives:
on whole simulated histories, and after every batch folded into a state whose cache holds the
windows of the batches before (late facts included)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gapwatch.recorder.sim import load_scenario, run
from gapwatch.replay import detect as detect_module
from gapwatch.replay import node_cache
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.context import nodes_of
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import Fact, derive
from gapwatch.replay.fold import FoldState, Sample, fold, lb_facing
from tests.replay import builders as b

PRESETS = ("aws-nlb", "seed-3node")


def _facts(preset: str, seed: int, late: tuple[str, ...] = ()) -> list[list[Fact]]:
    observations = run(load_scenario(preset), seed=seed).observations
    ordered = [o for o in observations if o.kind not in late] + [
        o for o in observations if o.kind in late
    ]
    return [list(derive(i, o)) for i, o in enumerate(ordered, 1)]


def _cached(state: FoldState, cache: node_cache.Cache) -> list[object]:
    return [w for svc in lb_facing(state) for w in node_cache.windows(state, svc, DEFAULTS, cache)]


@pytest.mark.parametrize("preset", PRESETS)
def test_whole_history_without_and_with_an_empty_cache(preset: str) -> None:
    state = fold(FoldState(), [f for e in _facts(preset, 3) for f in e])
    expected = detect(state, lb_facing(state), DEFAULTS)
    assert expected
    assert _cached(state, {}) == sorted(expected, key=lambda w: (w.start_us, w.service, w.node))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    preset=st.sampled_from(PRESETS),
    seed=st.integers(min_value=1, max_value=40),
    splits=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=8),
    late=st.sampled_from(
        [(), ("Pod",), ("Node",), ("TargetHealth",), ("NodePortProbe",), ("Event",)]
    ),
)
# a node kept whole while a NodePort look repeating its timeout (no lane grew) made its looks
# show DROP, so detect no longer names a refusal's IPVS reading (node_cache.readings_read)
@example(preset="aws-nlb", seed=1, splits=[0.1875, 0.203125], late=("Pod",))
def test_batch_by_batch_the_cache_gives_what_detect_gives(
    preset: str, seed: int, splits: list[float], late: tuple[str, ...]
) -> None:
    """Each batch folded, then the cached detection (reusing the nodes whose inputs stayed)
    compared with a plain detect of the same state."""
    events = _facts(preset, seed, late)
    cuts = sorted({round(s * len(events)) for s in splits})
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    for lo, hi in pairwise([0, *cuts, len(events)]):
        fold(state, [f for e in events[lo:hi] for f in e])
        expected = detect(state, lb_facing(state), DEFAULTS)
        assert _cached(state, cache) == expected


def _lanes_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The nodes whose lanes node_cache computes from now on (one entry per computation)."""
    return calls_counted(monkeypatch, "lanes")


def calls_counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """The nodes node_cache calls its `name` (a function of state, Service, node, ...) for
    from now on (one entry per call)."""
    calls: list[str] = []
    real = getattr(node_cache, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(str(args[2]))
        return real(*args, **kwargs)

    monkeypatch.setattr(node_cache, name, counted)
    return calls


def test_reused_nodes_are_not_recomputed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing moved since the cache was filled: no node's lanes are computed again; one probe
    batch later, only nodes it moved are."""
    events = _facts("aws-nlb", 3)
    probes = [i for i, e in enumerate(events) if e and e[0].fact == "nodeport"]
    cut = probes[len(probes) // 2]
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    fold(state, [f for e in events[:cut] for f in e])
    _cached(state, cache)
    calls = _lanes_counted(monkeypatch)
    assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)
    assert calls == []  # nothing moved: every node reused
    fold(state, events[cut])
    assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)
    svc = lb_facing(state)[0]
    assert len(set(calls)) < len(nodes_of(state, svc))


@pytest.mark.parametrize("polled", [True, False])
def test_a_late_event_re_detects_only_where_the_lb_is_not_polled(
    monkeypatch: pytest.MonkeyPatch, polled: bool
) -> None:
    """service-controller Events stand in for the LB's polls (replay.lanes): arriving late for
    a Service whose LB is polled they move no node; without polls every node is found again.
    Either way the cache gives what detect gives."""
    observations = [
        o
        for o in run(load_scenario("aws-nlb"), seed=3).observations
        if polled or o.kind != "TargetHealth"
    ]
    ordered = [o for o in observations if o.kind != "Event"] + [
        o for o in observations if o.kind == "Event"
    ]
    events = [list(derive(i, o)) for i, o in enumerate(ordered, 1)]
    late = sum(1 for o in ordered if o.kind == "Event")
    assert late
    state, cache = FoldState(), {}  # type: ignore[var-annotated]
    fold(state, [f for e in events[:-late] for f in e])
    _cached(state, cache)
    calls = _lanes_counted(monkeypatch)
    fold(state, [f for e in events[-late:] for f in e])
    assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)
    svc = lb_facing(state)[0]
    if polled:
        assert calls == []
    else:
        assert set(calls) == set(nodes_of(state, svc))


def test_a_window_open_at_the_end_follows_the_end_of_the_data() -> None:
    """n1 is routed and refuses from t=10 on; later looks repeat both values (no lane grows)
    while the end of the data moves: the open window must end at the new end, not the old."""
    history = [
        b.service(0), b.node(0, "n1"), b.node(0, "n2"),
        b.eps(1, [("a-1", "n1", "ready"), ("a-2", "n2", "ready")]),
        b.target(2, None, "n1", "healthy"), b.target(2, None, "n2", "healthy"),
        b.nodeport(3, None, "n1", "connected"), b.nodeport(3, None, "n2", "connected"),
        b.nodeport(10, 3, "n1", "refused"),
    ]  # fmt: skip
    facts = b.facts_of(history)
    state, cache = fold(FoldState(), facts), {}  # type: ignore[var-annotated]
    first = _cached(state, cache)
    assert first and first == detect(state, lb_facing(state), DEFAULTS)
    last = facts[-1].event_id
    for i, t in enumerate((40.0, 70.0), 1):
        more = [b.nodeport(t, t - 30, "n1", "refused"), b.nodeport(t, t - 30, "n2", "connected")]
        fold(state, [f._replace(event_id=last + i * 10 + f.event_id) for f in b.facts_of(more)])
        assert _cached(state, cache) == detect(state, lb_facing(state), DEFAULTS)
    assert _cached(state, cache) != first  # the open window grew


_EPS = st.lists(
    st.tuples(st.integers(1, 40), st.sampled_from(["ready", "not-ready", "terminating", "gone"])),
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(eps=_EPS, at=st.integers(0, 450), lags=st.tuples(st.integers(0, 120), st.integers(0, 120)))
def test_a_drop_lag_moved_past_no_loss_decides_the_same(
    eps: list[tuple[int, str]], at: int, lags: tuple[int, int]
) -> None:
    """`detect._dropped` compares the drop lag only with the node's not-ready stretches
    (`node_cache.losses`): when no stretch lies between the old and the new lag
    (`lag_moves` False) it answers the same at every instant, and when one does, some
    instant tells them apart."""
    lane: list[Sample] = []
    t = 0
    for step, value in eps:
        t += step
        lane.append(Sample(t, None, value, len(lane) + 1))
    before, after = lags
    kept = node_cache.losses(lane)
    moves = node_cache.lag_moves(kept, before, after)
    differs = [
        x
        for x in range(0, t + 2)
        if detect_module._dropped(lane, x, before) != detect_module._dropped(lane, x, after)
    ]
    if not moves:
        assert detect_module._dropped(lane, at, before) == detect_module._dropped(lane, at, after)
        assert differs == []
    else:
        assert differs


def test_a_moved_drop_lag_re_detects_only_the_nodes_it_can_reclass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cache holds windows classed with one drop lag; the Service's median moves: only the
    nodes with a not-ready stretch between the two lags are detected again, and the windows
    equal `detect` with the new lag."""
    state = fold(FoldState(), [f for e in _facts("aws-nlb", 3) for f in e])
    svc = lb_facing(state)[0]
    scout: node_cache.Cache = {}
    node_cache.windows(state, svc, DEFAULTS, scout)
    stretches = sorted({d for nw in scout[svc].nodes.values() for d in nw.losses})
    assert len(stretches) >= 2
    old = stretches[0]  # a lag just below one stretch, then just above it
    # the cache classed with a measured lag of old - 1 (not the preset's unmeasured one: the
    # floor a node-driven LB takes then would class other stretches than old - 1 does)
    monkeypatch.setattr(node_cache, "lb_drop_lag", lambda *_a: old - 1)
    monkeypatch.setattr(detect_module, "lb_drop_lag", lambda *_a: old - 1)
    cache: node_cache.Cache = {}
    assert node_cache.windows(state, svc, DEFAULTS, cache) == detect(state, [svc], DEFAULTS)
    kept = cache[svc]
    assert kept.drop_lag == old - 1
    moved = [n for n, nw in kept.nodes.items() if node_cache.lag_moves(nw.losses, old - 1, old)]
    monkeypatch.setattr(node_cache, "lb_drop_lag", lambda *_a: old)
    monkeypatch.setattr(detect_module, "lb_drop_lag", lambda *_a: old)
    calls = _lanes_counted(monkeypatch)
    assert node_cache.windows(state, svc, DEFAULTS, cache) == detect(state, [svc], DEFAULTS)
    assert sorted(set(calls)) == sorted(moved)
    assert 0 < len(moved) < len(kept.nodes)
