"""Properties of the fold: chunked equals whole; equal-time events from different sources may
arrive in any order. Random small clusters from hypothesis, checked through detection, lags and
lane segments (everything derived from the folded state)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.facts import Fact, derive
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.lags import lag_samples
from gapwatch.replay.segments import lane_segments
from tests.replay import builders as b

NODES = ("n1", "n2", "n3")
TIMES = st.integers(min_value=0, max_value=40).map(lambda t: t / 2)  # many equal times


@st.composite
def source_streams(draw: st.DrawFn) -> dict[str, list[Observation]]:
    """Per source, observations in the order that source emits them."""
    streams: dict[str, list[Observation]] = {"watch": [b.service(0)], "probe": [], "lb": []}
    for node in NODES:
        streams["watch"].append(b.node(0, node))
    watch_times = sorted(draw(st.lists(TIMES, max_size=8)))
    for t in watch_times:
        eps = [
            (f"p-{node}-{i}", node, draw(st.sampled_from(["ready", "terminating", "stopped"])))
            for node in draw(st.lists(st.sampled_from(NODES), unique=True, max_size=3))
            for i in range(draw(st.integers(1, 2)))
        ]
        slice_name = draw(st.sampled_from(["gw-a", "gw-b"]))  # a Service may have several
        streams["watch"].append(b.eps(t, eps, name=slice_name))
    for node in NODES:
        prev: float | None = None
        for t in sorted(set(draw(st.lists(TIMES, max_size=6)))):
            result = draw(st.sampled_from(["connected", "timeout", "refused"]))
            streams["probe"].append(b.nodeport(t, prev, node, result))
            prev = t
        prev = None
        for t in sorted(set(draw(st.lists(TIMES, max_size=4)))):
            state = draw(st.sampled_from(["healthy", "draining", "unhealthy", "initial"]))
            streams["lb"].append(b.target(t, prev, node, state))
            prev = t
    return streams


def _numbered(streams: dict[str, list[Observation]]) -> dict[str, list[tuple[int, Observation]]]:
    out: dict[str, list[tuple[int, Observation]]] = {}
    next_id = 1
    for name in sorted(streams):
        out[name] = []
        for obs in streams[name]:
            out[name].append((next_id, obs))
            next_id += 1
    return out


def _merge(numbered: dict[str, list[tuple[int, Observation]]], rank: list[str]) -> list[Fact]:
    """All events by time; equal times ordered by source `rank`, each source's order kept."""
    keyed = [
        (obs.observed_at, rank.index(name), i, event_id, obs)
        for name, items in numbered.items()
        for i, (event_id, obs) in enumerate(items)
    ]
    facts: list[Fact] = []
    for *_key, event_id, obs in sorted(keyed, key=lambda k: k[:3]):
        facts.extend(derive(event_id, obs))
    return facts


def _outcome(state: FoldState) -> tuple[Any, ...]:
    services = lb_facing(state)
    return (
        detect(state),
        lag_samples(state),
        [lane_segments(state, svc) for svc in services],
    )


@settings(max_examples=60, deadline=None)
@given(source_streams(), st.permutations(["watch", "probe", "lb"]), st.data())
def test_chunked_equals_whole(
    streams: dict[str, list[Observation]], rank: list[str], data: st.DataObject
) -> None:
    facts = _merge(_numbered(streams), rank)
    whole = fold(FoldState(), facts)
    event_starts = [i for i, f in enumerate(facts) if f.seq == 0]
    cuts = sorted(data.draw(st.lists(st.sampled_from(event_starts or [0]), max_size=5)))
    chunked = FoldState()
    for lo, hi in zip([0, *cuts], [*cuts, len(facts)], strict=True):
        chunked = fold(chunked, facts[lo:hi])
    assert _outcome(chunked) == _outcome(whole)


@settings(max_examples=60, deadline=None)
@given(source_streams(), st.permutations(["watch", "probe", "lb"]))
def test_equal_time_order_across_sources_does_not_matter(
    streams: dict[str, list[Observation]], rank: list[str]
) -> None:
    numbered = _numbered(streams)
    baseline = _outcome(fold(FoldState(), _merge(numbered, ["watch", "probe", "lb"])))
    assert _outcome(fold(FoldState(), _merge(numbered, rank))) == baseline
