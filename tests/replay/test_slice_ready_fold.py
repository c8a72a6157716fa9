"""The fold's ready pods per EndpointSlice version (replay/fold.py `_apply_slice`): each node's
ready set over the Service's slices (`ready_sets`, read by replay.held), each slice's own
(`slice_ready_on`) and the pods that entered it ready (`ready_listed`, `slice_ready`), for one
slice and for several, with deletions, folded one version at a time from literal observations
(tests/replay/builders.py shapes). The one-slice case reads its version's own rows instead of
uniting the slices (`_ready_on`): the same sets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.recorder.observation import Observation
from gapwatch.replay.fold import FoldState, _ready_on, fold
from gapwatch.replay.model import ServiceRef
from tests.replay.builders import CLUSTER, NS, SVC, _k8s, eps, facts_of, service

_NODES = ("n1", "n2", "n3")
_STATES = ("ready", "terminating", "stopped", "unready")

#: one EndpointSlice version: which slice, deleted or not, its endpoints (pod -> node, state)
#: a drawn version (`_VERSION`)
Version = tuple[int, bool, dict[str, tuple[str, str]]]

_VERSION = st.tuples(
    st.integers(0, 2),
    st.sampled_from([False, False, False, True]),
    st.dictionaries(
        st.sampled_from([f"p{i}" for i in range(6)]),
        st.tuples(st.sampled_from(_NODES), st.sampled_from(_STATES)),
        max_size=5,
    ),
)


def _deleted(t: float, name: str) -> Observation:
    meta = {"name": name, "namespace": NS, "labels": {"kubernetes.io/service-name": SVC}}
    return _k8s(t, "EndpointSlice", "DELETED", {"metadata": meta, "endpoints": []})


def _version(t: float, drawn: Version) -> Observation:
    which, deleted, endpoints = drawn
    name = f"{SVC}-s{which}"
    if deleted:
        return _deleted(t, name)
    return eps(t, [(pod, node, state) for pod, (node, state) in endpoints.items()], name=name)


def _check(state: FoldState, svc: ServiceRef, drawn: Version) -> None:
    which, deleted, endpoints = drawn
    name = f"{SVC}-s{which}"
    own = state.slice_ready_on[(svc, name)]
    want = {} if deleted else {
        node: frozenset(p for p, (n, s) in endpoints.items() if n == node and s == "ready")
        for node, _ in endpoints.values()
    }  # fmt: skip
    assert own == want
    assert state.ready_listed[(svc, name)] == frozenset().union(*want.values())
    slices = state.slices[svc]
    for (where, node), sets in state.ready_sets.items():
        if where != svc:
            continue
        on = _ready_on(state, svc, slices, node)
        ready = sum(per_node.get(node, (0, 0, ""))[0] for per_node in slices.values())
        assert sets[-1][1] == (None if on is None or len(on) != ready else on)


@settings(max_examples=200, deadline=None)
@given(versions=st.lists(_VERSION, min_size=1, max_size=12), one=st.booleans())
def test_ready_sets_are_the_slices_union(versions: list[Version], one: bool) -> None:
    """After every version folded (one slice, or up to three), each node's last ready set is
    the union of the slices' last versions' ready pods on it (`_ready_on`), and each slice's
    own sets and listed pods are its last version's ready endpoints."""
    if one:
        versions = [(0, deleted, endpoints) for _, deleted, endpoints in versions]
    state = FoldState()
    fold(state, facts_of([service(0)]))
    svc = next(iter(state.services))
    assert svc == ServiceRef(CLUSTER, NS, SVC)
    for k, drawn in enumerate(versions, start=1):
        fold(state, [f._replace(event_id=f.event_id + k) for f in facts_of([_version(k, drawn)])])
        _check(state, svc, drawn)


def test_a_slice_row_that_counts_ready_pods_unnamed() -> None:
    """A slice fact derived before the ready pods were named (SLICE_READY_PODS NULL with ready
    endpoints counted): the node's set is unknown (None) and no pod entered the slice ready;
    a later version naming them sets both."""
    state = FoldState()
    fold(state, facts_of([service(0)]))
    svc = next(iter(state.services))
    listed = facts_of([eps(1, [("p1", "n1", "ready")])])
    unnamed = [f._replace(event_id=2, text3=None if f.node else f.text3) for f in listed]
    fold(state, unnamed)
    assert state.ready_sets[(svc, "n1")][-1][1] is None
    assert state.slice_ready_on[(svc, f"{SVC}-abc")] == {"n1": None}
    assert (svc, "p1") not in state.slice_ready
    fold(state, [f._replace(event_id=3) for f in facts_of([eps(2, [("p1", "n1", "ready")])])])
    assert state.ready_sets[(svc, "n1")][-1][1] == frozenset({"p1"})
    assert len(state.slice_ready[(svc, "p1")]) == 1
