"""The pods kept pod by pod between refreshes (replay.pod_index) give what grouping reads from the
whole state (`group.pods_of`, `group.pod_changes`), batch after batch, late Pods and workloads
included; and only the pods whose samples grew are found again."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gapwatch.replay import pod_index
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.group import Pod, pod_changes, pods_of
from tests.replay.test_node_cache import _facts

PRESETS = ("seed-3node", "aws-nlb")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    preset=st.sampled_from(PRESETS),
    seed=st.integers(min_value=1, max_value=40),
    splits=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=8),
    late=st.sampled_from([(), ("Pod",), ("ReplicaSet", "Deployment"), ("EndpointSlice",)]),
    patch=st.booleans(),
)
def test_batch_by_batch_the_index_gives_what_the_state_gives(
    preset: str, seed: int, splits: list[float], late: tuple[str, ...], patch: bool
) -> None:
    """`patch`: each call given what the one before returned (the pods found again moved in
    its sorted list, only their keys' changes sorted again), as replay.node_rows calls it."""
    events = _facts(preset, seed, late)
    cuts = sorted({round(s * len(events)) for s in splits})
    state = FoldState()
    indexes: dict[object, pod_index.PodIndex] = {}
    last: dict[object, tuple[list[Pod], pod_index.Changes]] = {}
    for lo, hi in pairwise([0, *cuts, len(events)]):
        fold(state, [f for e in events[lo:hi] for f in e])
        for svc in lb_facing(state):
            index = indexes.setdefault(svc, {})
            found = pod_index.pods_and_changes(state, svc, index, last.get(svc) if patch else None)
            last[svc] = found
            pods, changes = found
            assert pods == pods_of(state, svc)
            assert changes == pod_changes(state, svc)


def test_only_pods_whose_samples_grew_are_found_again(monkeypatch: pytest.MonkeyPatch) -> None:
    events = _facts("seed-3node", 3)
    pod_events = [i for i, e in enumerate(events) if e and e[0].fact == "pod"]
    cut = pod_events[len(pod_events) // 2]
    state = fold(FoldState(), [f for e in events[:cut] for f in e])
    svc = lb_facing(state)[0]
    index: pod_index.PodIndex = {}
    pod_index.pods_and_changes(state, svc, index)
    assert len(index) > 1
    found: list[str] = []
    real = pod_index.pod_of  # type: ignore[attr-defined]

    def counted(*args: object) -> object:
        found.append(str(args[2]))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pod_index, "pod_of", counted)
    pod_index.pods_and_changes(state, svc, index)
    assert found == []  # nothing moved
    fold(state, events[cut])
    pods, changes = pod_index.pods_and_changes(state, svc, index)
    assert (pods, changes) == (pods_of(state, svc), pod_changes(state, svc))
    named = {f.name for f in events[cut] if f.fact == "pod"}
    assert set(found) <= named


def test_a_key_no_pod_holds_any_more_leaves_the_patched_changes() -> None:
    """Pods a and b of Deployment/gw, a alone on n1; a found again on n2 (its slice moved it):
    the patched result has no (workload, n1) key any more, a sits where its order puts it,
    and the changes equal those found from the pods at once."""

    def entry(pod: Pod) -> pod_index.PodEntry:
        return pod_index.PodEntry([], 0, pod.node, None, None, pod, [(pod.first_us, "r1")])

    a1, b = (
        Pod("a", "n1", "r1", "Deployment/gw", 10, None),
        Pod("b", "n2", "r1", "Deployment/gw", 5, None),
    )
    a2 = a1._replace(node="n2")
    before = {"a": entry(a1), "b": entry(b)}
    last = ([b, a1], pod_index._changes([b, a1], before))
    index = {"a": entry(a2), "b": before["b"]}
    patched = pod_index._patched(last, [(before["a"], index["a"])], index)
    assert patched == ([b, a2], {("Deployment/gw", "n2"): [(5, "r1"), (10, "r1")]})
    assert patched[1] == pod_index._changes([b, a2], index)
