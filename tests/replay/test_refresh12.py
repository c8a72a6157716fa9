"""Refresh round 12 (issue 15): the shortcuts on a moved node's path, each against what it
stands for.

- replay.context.endpoint_steps: `eps_steps` of a node's endpoints lane, kept in the fold's memo
  (four readers of a node's lanes share it): equal to `eps_steps` of the lane as it is now, after
  a fold that grew it, after a sample appended without a fold, and whatever a caller did to a
  list it got before.
- replay.checkpoint.lane_versions (node_cache.node_key's) count the EndpointSlices' listings of
  the local pods as ready: a
  version that lists the replacement of a pod that died without changing the node's
  endpoints lane (the dead pod still listed ready) moves the window's end (replay.deaths reads
  the listing), and the node is found again (main kept its windows: they differed from
  `detect`).
- replay.unseen.death_ranges / pod_deaths, kept in the memo across folds while the node's
  local pods' sample lists are the same lists, as long: equal to what the samples give now
  after a fold that killed a pod, after a sample appended without a fold, with a pod new to
  the node, and whatever a caller did to a list it got before.
- replay.node_cache.Found.find: a node found again keeps F (`lanes.serves_signal`) and its
  local pods' lane while what F reads of it stands (`node_cache.serves_key`): its LB polls alone
  moved it. Refreshed batch by batch against `detect`: polls alone keep F (the same object), a
  NodePort refusal with them finds F again (a key without the NodePort lane's length keeps
  the stale F and misses the window).
- replay.lags._scan: a node whose LB poll lane alone grew keeps kube-proxy's lags and finds the
  LB's again; against the lags of the same state folded afresh (no memo), with polls alone,
  then with an endpoints change and kube-proxy's health check reacting to it.
- detect.windows_from reads only the candidates `from_us` and `proven_only` leave (bisected in
  `candidates_of`, kept with a node's lanes): the windows are those `windows_from` finds with the
  same proofs whose candidate ends at or after `from_us` and that hold a proof (its definition),
  on the history of tests/replay/test_suffix.py with generated gaps, proofs and instants (on the
  gap's bounds too).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay import node_cache
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.context import endpoint_steps, eps_steps
from gapwatch.replay.detect import candidates_of, detect, windows_from
from gapwatch.replay.facts import Fact
from gapwatch.replay.fold import FoldState, Sample, fold, horizon, lb_facing
from gapwatch.replay.lags import LagSample, lag_samples
from gapwatch.replay.lanes import lanes
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.proxy import proxy_lag_hi
from gapwatch.replay.signals import Iv, Tri
from gapwatch.replay.unseen import _death_ranges, _pod_deaths, death_ranges, pod_deaths
from tests.replay.builders import (
    at,
    eps,
    facts_of,
    health,
    node,
    nodeport,
    pod,
    service,
    target,
)
from tests.replay.test_suffix import _history

ACCEPTS = [("ready",), ("ready", "serving-terminating")]


def history_then(
    later: list[Observation],
) -> tuple[list[Fact], int, FoldState, ServiceRef]:
    """The facts of test_suffix's history and then `later`, where `later`'s begin (`split`),
    and a state of the history's alone with its one Service: the fold a refresh continues."""
    history = _history()
    facts = facts_of([*history, *later])
    split = len(facts_of(history))
    state = fold(FoldState(), facts[:split])
    (svc,) = lb_facing(state)
    return facts, split, state, svc


def test_endpoint_steps_follow_the_lane_through_folds_and_appends() -> None:
    # the last slice (n1's endpoint gone at 4,100 s) folded apart from the rest
    facts, split, state, svc = history_then([eps(4100, [("p2", "n2", "ready")])])
    lane = state.endpoints[(svc, "n1")]
    first = {a: endpoint_steps(state, svc, "n1", a) for a in ACCEPTS}
    for a in ACCEPTS:
        assert first[a] == eps_steps(lane, a)
        first[a].clear()  # the caller's own list: the next reader gets the steps whole
        assert endpoint_steps(state, svc, "n1", a) == eps_steps(lane, a)
    before = eps_steps(lane, ("ready",))
    fold(state, facts[split:])
    grown = state.endpoints[(svc, "n1")]
    assert eps_steps(grown, ("ready",)) != before  # the fold moved n1's steps
    for a in ACCEPTS:
        assert endpoint_steps(state, svc, "n1", a) == eps_steps(grown, a)
    # a sample appended without a fold (the memo not cleared): found again from the lane
    last = grown[-1]
    grown.append(Sample(last.at_us + 10_000_000, None, "ready", last.event_id + 1))
    for a in ACCEPTS:
        assert endpoint_steps(state, svc, "n1", a) == eps_steps(grown, a)
    # another list in the lane's place, as long: found from that list
    state.endpoints[(svc, "n1")] = [s._replace(value="serving-terminating") for s in grown]
    for a in ACCEPTS:
        assert endpoint_steps(state, svc, "n1", a) == eps_steps(state.endpoints[(svc, "n1")], a)


def test_pod_deaths_follow_the_pods_through_folds_and_appends() -> None:
    later = [pod(3000, "p1", "n1", "gone", finished=2999), pod(3001, "p3", "n1", "ready")]
    later += [eps(3002, [("p3", "n1", "ready"), ("p2", "n2", "ready")])]
    later += [pod(3100, "p3", "n1", "gone")]
    facts, split, state, svc = history_then(later)

    def check() -> None:
        for clock in (None, 2_000_000):
            assert death_ranges(state, svc, "n1", clock) == _death_ranges(state, svc, "n1", clock)
        assert pod_deaths(state, svc, "n1") == _pod_deaths(state, svc, "n1")

    check()
    assert pod_deaths(state, svc, "n1") == []
    pod_deaths(state, svc, "n1").append(1)  # the caller's own list
    check()
    fold(state, facts[split:])  # p1 dies, p3 comes to n1 and dies
    assert len(pod_deaths(state, svc, "n1")) == 2
    check()
    # a sample appended without a fold (the memo is kept by folds anyway): found again
    lane = state.pods[(svc.cluster, svc.namespace, "p1")]
    lane.append(lane[-2]._replace(at_us=lane[-1].at_us + 1, event_id=lane[-1].event_id + 1))
    lane.append(lane[-2]._replace(at_us=lane[-1].at_us + 2, event_id=lane[-1].event_id + 1))
    assert len(pod_deaths(state, svc, "n1")) == 3
    check()


def _replaced(listed: float, seen: float) -> tuple[list[Observation], list[Observation]]:
    """n1's pod p1 (ready, listed) dies at 104.4 s (seen at 105 s) after p2 (in the slice,
    not ready) turned Ready at 104.8 s; the health check answers 200 every 5 s up to 240 s.
    Then, in a second batch, the slice version listing p2 ready at `listed` (p1 still listed
    ready: the node's endpoints stay ready) and the one dropping p1 1.2 s later; the looks
    after `seen` come with them (`seen` past the window's end: they arrive late)."""
    first = [
        service(0), node(0, "n1"), pod(1, "p1", "n1", "ready"), eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"), pod(50, "p2", "n1", "pending"),
        eps(50.3, [("p1", "n1", "ready"), ("p2", "n1", "stopped")]),
        pod(104.8, "p2", "n1", "ready"),
        pod(105, "p1", "n1", "gone", deleted_at=100, finished=104.4),
    ]  # fmt: skip
    second = [eps(listed, [("p1", "n1", "ready"), ("p2", "n1", "ready")])]
    second += [eps(listed + 1.2, [("p2", "n1", "ready")]), target(240, 235, "n1", "healthy")]
    looks = [health(2 + 5 * i, 2 + 5 * (i - 1) if i else None, "n1", 1) for i in range(48)]
    return (
        sorted(
            first + [h for h in looks if h.observed_at <= at(seen)], key=lambda o: o.observed_at
        ),
        second + [h for h in looks if h.observed_at > at(seen)],
    )


def test_a_slice_listing_the_replacement_finds_the_node_again() -> None:
    # the listing before the window's end, in time (105 s) and late (after 200 s of looks)
    ends = []
    for listed, seen in [(105.1, 105), (108.0, 105), (110.0, 105), (105.1, 200), (110.0, 200)]:
        first, second = _replaced(listed, seen)
        facts = facts_of(first + second)
        split = len(facts_of(first))
        state = fold(FoldState(), facts[:split])
        (svc,) = lb_facing(state)
        cache: node_cache.Cache = {}
        node_cache.windows(state, svc, DEFAULTS, cache)
        versions = cache[svc].nodes["n1"].key[0]
        fold(state, facts[split:])
        found = node_cache.windows(state, svc, DEFAULTS, cache)
        now = cache[svc].nodes["n1"].key[0]
        assert now[:-2] == versions[:-2]  # the lanes' lengths did not move
        assert now[-2] == versions[-2] + 1  # p2 listed ready once more (so its ready count
        # moved too: the last, FoldState.ready_counts)
        assert found == detect(state, [svc], DEFAULTS)
        (window,) = found
        ends.append(window.end_latest_us)
    assert ends[:3] == sorted(set(ends[:3])) and ends[3:] == [ends[0], ends[2]]  # each read
    # from when p2 was listed


def _polls_then_refusal() -> list[Observation]:
    """test_suffix's history with n1's LB target unhealthy at 2,040-2,050 s (R moves, F does
    not) and n1's NodePort refusing at 2,070-2,080 s (F moves)."""
    out = []
    for obs in _history():
        t = (obs.observed_at - at(0)).total_seconds()
        if obs.kind == "TargetHealth" and obs.node == "n1" and 2040 <= t < 2050:
            obs = target(t, t - 10, "n1", "unhealthy")
        elif obs.kind == "NodePortProbe" and obs.node == "n1" and 2070 <= t < 2080:
            obs = nodeport(t, t - 5, "n1", "refused")
        out.append(obs)
    return out


def test_a_node_moved_by_its_polls_alone_keeps_f() -> None:
    facts = facts_of(_polls_then_refusal())
    lo, hi = to_micros(at(2000)), to_micros(at(2100))
    polls = [f for f in facts if lo < f.at_us <= hi and f.fact == "target" and f.node == "n1"]
    rest = [f for f in facts if lo < f.at_us <= hi and f not in polls]
    state = fold(FoldState(), [f for f in facts if f.at_us <= lo])
    (svc,) = lb_facing(state)
    cache: node_cache.Cache = {}
    node_cache.windows(state, svc, DEFAULTS, cache)
    before = cache[svc].nodes["n1"].found
    assert before is not None and before.served is not None
    fold(state, polls)
    assert node_cache.windows(state, svc, DEFAULTS, cache) == detect(state, [svc], DEFAULTS)
    polled = cache[svc].nodes["n1"].found
    assert polled is not None and polled is not before  # n1 found again (its R moved) ...
    assert polled.served is before.served  # ... with the F it had
    assert polled.alive is before.alive  # and the local pods' lane
    fold(state, rest)
    found = node_cache.windows(state, svc, DEFAULTS, cache)
    assert found == detect(state, [svc], DEFAULTS)
    refused = cache[svc].nodes["n1"].found
    assert refused is not None and refused.served is not polled.served
    assert any(
        w.node == "n1" and w.start_earliest_us <= to_micros(at(2075)) <= w.end_latest_us
        for w in found
    )


def lag_batches(lost: float = 2060) -> tuple[list[Fact], list[Fact], list[Fact]]:
    """n1's endpoint not ready at `lost`-2,070 s, its health check answering 0 at 2,065-2,075 s:
    the facts up to 2,000 s, n1's LB polls of 2,000-2,100 s, and the rest of them."""
    obs = []
    for o in _polls_then_refusal():
        t = (o.observed_at - at(0)).total_seconds()
        if o.kind == "ProxyHealth" and o.node == "n1" and 2065 <= t < 2075:
            o = health(t, t - 5, "n1", 0)
        obs.append(o)
    obs += [eps(lost, [("p1", "n1", "stopped"), ("p2", "n2", "ready")])]
    obs += [eps(2070, [("p1", "n1", "ready"), ("p2", "n2", "ready")])]
    facts = facts_of(sorted(obs, key=lambda o: o.observed_at))
    lo, hi = to_micros(at(2000)), to_micros(at(2100))
    polls = [f for f in facts if lo < f.at_us <= hi and f.fact == "target" and f.node == "n1"]
    rest = [f for f in facts if lo < f.at_us <= hi and f not in polls]
    return [f for f in facts if f.at_us <= lo], polls, rest


def test_a_node_moved_by_its_polls_alone_keeps_kube_proxys_lags() -> None:
    done, polls, rest = lag_batches()
    state = fold(FoldState(), done)
    (svc,) = lb_facing(state)

    def proxy_lags() -> list[list[LagSample]]:
        return [v[2] for k, v in state.memo.lane_lags.items() if k[1] == "n1"]

    lag_samples(state, [svc], DEFAULTS)
    (before,) = proxy_lags()
    for batch in (polls, rest):
        fold(state, batch)
        done += batch
        assert lag_samples(state, [svc], DEFAULTS) == lag_samples(
            fold(FoldState(), done), [svc], DEFAULTS
        )
        if batch is polls:
            assert proxy_lags() == [before] and proxy_lags()[0] is before  # kept
    (after,) = proxy_lags()
    assert len(after) > len(before)  # the health check's reaction measured


_STATE = fold(FoldState(), facts_of(_history()))
(_SVC,) = lb_facing(_STATE)
_LAG_HI = proxy_lag_hi(_STATE, _SVC, DEFAULTS)
_LANES = lanes(_STATE, _SVC, "n1", DEFAULTS, _LAG_HI)
_END = horizon(_STATE, _SVC)
_LO = _LANES.eps[0].at_us
_SPAN = _END - _LO


@st.composite
def _gaps(draw: st.DrawFn) -> Tri:
    """Sorted disjoint possible stretches over the history (the last may stay open), each
    with a definite part or none."""
    cuts = sorted(set(draw(st.lists(st.integers(0, 400), min_size=2, max_size=24))))
    possible, definite = [], []
    for k, (a, b) in enumerate(zip(cuts[::2], cuts[1::2], strict=False)):
        start, end = _LO + a * _SPAN // 400, _LO + b * _SPAN // 400
        if draw(st.booleans()) and k == len(cuts) // 2 - 1:
            end = 2**62  # still open at the end of the data
        possible.append(Iv(start, end, k + 1, k + 100))
        if draw(st.booleans()):
            lo = draw(st.integers(start, min(end, _END) - 1))
            hi = draw(st.integers(lo + 1, min(end, _END)))
            definite.append(Iv(lo, hi, k + 1, k + 100))
    return Tri(possible, definite)


_instants = st.integers(_LO - _SPAN // 20, _END + _SPAN // 20)


def _holds(w: Window, proof: tuple[int, int]) -> bool:
    return all(w.start_earliest_us <= p <= w.end_latest_us for p in proof)


@settings(max_examples=200, deadline=None)
@given(_gaps(), st.data())
def test_proven_only_and_from_us_give_the_windows_of_their_definition(
    gap: Tri, data: st.DataObject
) -> None:
    # instants anywhere, and on the gap's own bounds (a proof or a cut at a candidate's edge)
    edges = sorted({x for iv in gap.possible for x in (iv.start, iv.end) if x < 2**62})
    instant = _instants | st.sampled_from(edges) if edges else _instants
    proofs = data.draw(st.lists(st.tuples(instant, instant), max_size=6))
    since = data.draw(st.none() | instant)

    def found(**kw: object) -> list[Window]:
        return windows_from(
            _STATE, _SVC, "n1", _LANES, _END, settings=DEFAULTS, relists=False, gap=gap,
            proven=proofs, **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    every = found()
    # from_us: the windows of the candidates ending at or after it (one still open: all)
    ends = {c.start: c.end for c in candidates_of(gap).spans}
    late = [w for w in every if since is None or ends[w.start_earliest_us] >= since]
    assert found(from_us=since) == late
    assert found(from_us=since, proven_only=True) == [
        w for w in late if any(_holds(w, p) for p in proofs)
    ]
    assert found(proven_only=True, merged=candidates_of(gap)) == [
        w for w in every if any(_holds(w, p) for p in proofs)
    ]
