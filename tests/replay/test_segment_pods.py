"""The pod lane of a node's segments (replay.segments._pod_samples, counting its pods' states as
they change) equals the plain rule it replaced: at every change, the set of the node's pods'
current states, rescanned: serving if one is ready, else terminating if one is, else gone. A
pod's updates at one instant apply in the order they came (the last one holds)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.replay.fold import FoldState, PodSample, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.segments import _pod_samples

_SVC = ServiceRef("c", "ns", "gw")
_STATES = ["pending", "ready", "terminating", "gone"]


def _rescanned(state: FoldState, node: str) -> list[Sample]:
    changes = [
        (p.at_us, pod, i, p.state, p.event_id)
        for pod, where in state.service_pods.get(_SVC, {}).items()
        if where == node
        for i, p in enumerate(state.pods.get((_SVC.cluster, _SVC.namespace, pod), []))
    ]
    current: dict[str, str] = {}
    out: list[Sample] = []
    rank = {"ready": "serving", "terminating": "terminating"}
    for at, pod, _i, pod_state, eid in sorted(changes):
        current[pod] = pod_state
        states = {rank.get(v, "gone") for v in current.values()}
        best = next(x for x in ("serving", "terminating", "gone") if x in states or x == "gone")
        out.append(Sample(at, None, best, eid))
    return out


@settings(max_examples=300, deadline=None)
@given(
    pods=st.lists(
        st.tuples(
            st.sampled_from(["n1", "n2"]),
            st.lists(st.tuples(st.integers(0, 30), st.sampled_from(_STATES)), max_size=6),
        ),
        max_size=6,
    )
)
def test_counted_pod_lane_equals_the_rescan(pods: list[tuple[str, list[tuple[int, str]]]]) -> None:
    state = FoldState()
    placed = state.service_pods.setdefault(_SVC, {})
    eid = 0
    for i, (node, samples) in enumerate(pods):
        placed[f"p{i}"] = node
        lane = state.pods.setdefault((_SVC.cluster, _SVC.namespace, f"p{i}"), [])
        for at, value in samples:
            eid += 1
            lane.append(PodSample(at, value, None, None, None, eid, None, None))
    for node in ("n1", "n2"):
        assert _pod_samples(state, _SVC, node) == _rescanned(state, node)
        mine = [p for p, n in placed.items() if n == node]
        assert _pod_samples(state, _SVC, node, mine) == _rescanned(state, node)


def test_a_pods_updates_at_one_instant_apply_in_their_order() -> None:
    """A pod's update stamped at the instant of the one before (the fold keeps a pod's lane in
    order: a later update whose own time is earlier is moved up to it) holds after it: ready
    then pending at 0 leaves the lane gone. Before: a pod's updates at one instant were
    ordered by their state's name, and `ready` after `pending` kept the lane serving."""
    state = FoldState()
    state.service_pods[_SVC] = {"p0": "n1"}
    state.pods[(_SVC.cluster, _SVC.namespace, "p0")] = [
        PodSample(0, "ready", None, None, None, 1, None, None),
        PodSample(0, "pending", None, None, None, 2, None, None),
    ]
    assert [s.value for s in _pod_samples(state, _SVC, "n1")][-1] == "gone"
