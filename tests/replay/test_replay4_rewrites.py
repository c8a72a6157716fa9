"""Replay round 3's exact rewrites (benchmarks/README.md, "Replay", "Round 3"): what each one
skips or reads once is shown to give what the full reading gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.recorder.observation import Observation
from gapwatch.replay import factrow as F
from gapwatch.replay import proxy as proxy_module
from gapwatch.replay.copyfold import _ranked
from gapwatch.replay.fold import FoldState, Sample, fold
from gapwatch.replay.foldbulk import _lane_order
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import _lane_evidence, _pte_evidence
from gapwatch.replay.signals import HI
from gapwatch.replay.unseen import listed_at
from tests.replay.builders import eps, facts_of, nodeport, service
from tests.replay.test_pte_evidence import _slice, _state, _terminating

_TIMES = st.integers(0, 8)
_NUMS = st.none() | st.integers(0, 2)


def _lane(values: tuple[str, ...]) -> st.SearchStrategy[list[Sample]]:
    sample = st.builds(Sample, _TIMES, st.none() | _TIMES, st.sampled_from(values), _NUMS, _NUMS)
    return st.lists(sample, max_size=10).map(lambda lane: sorted(lane, key=lambda s: s.at_us))


@settings(max_examples=1500, deadline=None)
@given(
    _lane(("connected", "timeout", "refused")),
    _lane(("200", "503", "timeout")),
    _lane(("ready", "none")),
    st.integers(0, 3),
    st.booleans(),
)
def test_endpoints_never_serving_terminating_give_no_pte_evidence(
    nodeport: list[Sample], health: list[Sample], eps: list[Sample], settle: int, inferred: bool
) -> None:
    """What makes `_pte_evidence`'s skip exact: `_lane_evidence` reads only the stretches where
    the node's endpoints were serving-terminating."""
    assert _lane_evidence(nodeport, health, eps, settle, inferred) is None


def test_pte_evidence_reads_only_lanes_that_list_serving_terminating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """n1's endpoints turn serving-terminating, n2's never do: only n1's lane is read, and the
    verdict is the one read from it: n1's NodePort times out long after (PTE off). Fails
    without the skip: n2's lane read too."""
    obs = [*_terminating("v1.26.3", "n1", "p1"), *_terminating("v1.26.3", "n2", "p2")]
    obs += [_slice(1, ("p1", "n1", "ready"), ("p2", "n2", "ready")),
            _slice(20, ("p1", "n1", "terminating"), ("p2", "n2", "ready")),
            *_looks("n1", "timeout"), *_looks("n2", "connected")]  # fmt: skip
    state = _state(obs)
    read: list[list[Sample]] = []

    def counted(*args: object) -> bool | None:
        read.append(args[2])  # type: ignore[arg-type]
        return _lane_evidence(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(proxy_module, "_lane_evidence", counted)
    assert _pte_evidence(state, "c1", 60_000_000) is False
    assert [[s.value for s in lane] for lane in read] == [["ready", "serving-terminating"]]


def _looks(name: str, result: str) -> list[Observation]:
    """The NodePort on `name` every 5 s from 85 s to 100 s, each with `result`."""
    return [nodeport(float(t), float(t - 5) if t > 85 else None, name, result)
            for t in range(85, 101, 5)]  # fmt: skip


_SERVICES = st.sampled_from([ServiceRef("c1", "ns", "a"), ServiceRef("c1", "ns", "b")])
_EPS_LANES = st.dictionaries(
    st.tuples(_SERVICES, st.sampled_from(["n1", "n2", "n3"])),
    st.lists(st.builds(Sample, _TIMES, st.none(), st.just("ready"), _NUMS), max_size=3),
)


@settings(max_examples=500, deadline=None)
@given(_EPS_LANES, _SERVICES)
def test_listed_at_found_in_one_pass_is_each_services_first_listing(
    endpoints: dict[tuple[ServiceRef, str], list[Sample]], svc: ServiceRef
) -> None:
    """The one pass over every Service's lanes gives what a pass over the Service's own gives
    (empty lanes and Services without lanes too)."""
    state = FoldState()
    state.endpoints.update(endpoints)
    firsts = [lane[0].at_us for (s, _n), lane in endpoints.items() if s == svc and lane]
    assert listed_at(state, svc) == min(firsts, default=HI)


def test_listed_at_is_found_again_after_a_fold() -> None:
    """Kept until the next fold: a Service listed by a later fold is read from it (fails with
    the memo not cleared by the fold: still 'never listed')."""
    facts = facts_of([service(0), eps(5, [("p1", "n1", "ready")])])
    split = next(i for i, f in enumerate(facts) if f[F.FACT] == "slice")
    state = fold(FoldState(), facts[:split])
    svc = next(iter(state.services))
    assert listed_at(state, svc) == HI
    fold(state, facts[split:])
    assert listed_at(state, svc) == state.endpoints[(svc, "n1")][0].at_us < HI


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=60), st.integers(0, 30))
def test_ranked_codes_are_what_unique_and_searchsorted_give(codes: list[int], more: int) -> None:
    """The lanes' codes ranked from a table of their space (no larger than the codes) or by a
    sort (larger): the distinct codes in order and each one's index among them, either way
    (fails with the table's ranks off by one, or a code past the table's end)."""
    array = np.array(codes, dtype=np.int64)
    space = (max(codes) + 1 if codes else 0) + more
    unique, rank = _ranked(array, space)
    assert unique.tolist() == np.unique(array).tolist()
    assert rank.tolist() == np.searchsorted(np.unique(array), array).tolist()


def _lane_order_defined(lane_of: np.ndarray, event_id: np.ndarray) -> np.ndarray:
    order = np.argsort(lane_of, kind="stable")
    grouped, ids = lane_of[order], event_id[order]
    if np.any((ids[1:] <= ids[:-1]) & (grouped[1:] == grouped[:-1])):
        order = np.lexsort((event_id, lane_of))
    return order


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 30)), max_size=40), st.booleans())
def test_lane_order_is_the_stable_sort_or_the_lexsort_it_replaced(
    rows: list[tuple[int, int]], rising: bool
) -> None:
    """The probe rows' order (ids rising, or not: repeats, steps back, in one lane or across
    lanes) is the permutation the sort by lane, checked and redone by lane and id, gave (fails
    with the sort by lane alone taken for rows whose ids do not rise)."""
    lanes = np.array([lane for lane, _ in rows], dtype=np.int64)
    ids = np.array([i for _, i in rows], dtype=np.int64)
    if rising:
        ids = np.cumsum(ids + 1)
    assert _lane_order(lanes, ids).tolist() == _lane_order_defined(lanes, ids).tolist()
