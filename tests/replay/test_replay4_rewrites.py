"""Replay round 3's exact rewrites (benchmarks/README.md, "Replay", "Round 3"): what each one
skips or reads once is shown to give what the full reading gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.recorder.observation import Observation
from gapwatch.replay import proxy as proxy_module
from gapwatch.replay.fold import Sample
from gapwatch.replay.proxy import _lane_evidence, _pte_evidence
from tests.replay.builders import nodeport
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
