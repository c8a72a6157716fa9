"""Refresh round 13's shortcuts against what they stand for.

`group.rollout_parts` with a memo (kept per Service by replay.node_rows) gives what it gives
without one, whatever moved between calls: a pod's end, node or first instant, a pod added or
gone, a revision new to the workload. `logclock._outside` counts the lines outside the
windows per merged bound as its definition counts them per line."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.replay.group import PartMemo, Pod, pod_order, rollout_parts
from gapwatch.replay.logclock import _outside
from gapwatch.replay.model import ServiceRef

SVC = ServiceRef("c", "ns", "web")

_pod = st.builds(
    Pod,
    name=st.sampled_from([f"p{i}" for i in range(8)]),
    node=st.sampled_from(["n1", "n2", "n3"]),
    revision=st.sampled_from(["a", "b", "c", "d"]),
    workload=st.sampled_from(["Deployment/ns/web", "Deployment/ns/api"]),
    first_us=st.integers(min_value=0, max_value=10),
    gone_us=st.one_of(st.none(), st.integers(min_value=5, max_value=20)),
)


def _pods(raw: list[Pod]) -> list[Pod]:
    """One pod per name, in `pods_of`'s order."""
    return sorted({p.name: p for p in raw}.values(), key=pod_order)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_pod, max_size=8), min_size=2, max_size=6))
def test_parts_kept_in_the_memo_equal_parts_found_afresh(batches: list[list[Pod]]) -> None:
    memo: PartMemo = {}
    for raw in batches:
        pods = _pods(raw)
        assert rollout_parts(SVC, pods, memo) == rollout_parts(SVC, pods)


def test_a_pod_that_ends_moves_its_pairs_and_keeps_the_others() -> None:
    """Same pairs, same lengths, one pod's end moved: the two pairs that read it are found again
    (the later one's end moves), the pair that does not keeps its part (the same object)."""
    w = "Deployment/ns/web"
    a1 = Pod("a1", "n1", "a", w, 0, None)
    b1 = Pod("b1", "n2", "b", w, 5, None)
    c1 = Pod("c1", "n3", "c", w, 9, None)
    d1 = Pod("d1", "n1", "d", w, 11, None)
    memo: PartMemo = {}
    first = rollout_parts(SVC, [a1, b1, c1, d1], memo)
    assert [(p.old, p.new, p.open) for p in first] == [
        ("a", "b", True), ("b", "c", True), ("c", "d", True),
    ]  # fmt: skip
    c1_gone = c1._replace(gone_us=12)
    second = rollout_parts(SVC, [a1, b1, c1_gone, d1], memo)
    assert second[0] is first[0]
    assert second[1] == first[1]
    assert second[2] == first[2]._replace(gone_us=12, open=False)
    assert second == rollout_parts(SVC, [a1, b1, c1_gone, d1])
    b1_node = b1._replace(node="n3")
    third = rollout_parts(SVC, [a1, b1_node, c1_gone, d1], memo)
    assert third[0].nodes == ("n1", "n3")
    assert third == rollout_parts(SVC, [a1, b1_node, c1_gone, d1])


@settings(max_examples=400, deadline=None)
@given(
    times=st.lists(st.integers(min_value=0, max_value=60), max_size=30),
    bounds=st.lists(
        st.tuples(st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=20)),
        max_size=6,
    ),
    slack=st.integers(min_value=0, max_value=3),
)
def test_lines_outside_by_bounds_equal_lines_outside_by_line(
    times: list[int], bounds: list[tuple[int, int]], slack: int
) -> None:
    """`logclock._outside` counts per merged bound what its definition counts per line: lines on
    a bound, repeated lines, bounds that overlap or touch once widened."""
    lines = sorted(times)
    spans = [(a, a + d) for a, d in bounds]
    by_line = sum(not any(a - slack <= t <= b + slack for a, b in spans) for t in lines)
    assert _outside(lines, spans, slack) == by_line
