"""Session 25's reuse in the Node/Pod batch refresh:

- replay.context's local pods' changes (`alive_steps`, `ready_pod_steps`), kept in the memo
  across folds while the node's local pods' sample lists are the same lists, as long
  (`context.kept_by_pods`): equal to what the same facts folded afresh give, after a fold
  that killed a pod and brought a new one to the node, after a sample appended without a
  fold, and whatever a caller did to a list it got before. A node moved by its LB polls
  alone reads them from the memo (routed.routed_signal, endpoint-driven).
- replay.context.local_pods' index, kept across folds: the fold moves a pod in it where a slice
  puts it on another node, and adds one new to the Service; equal to a fresh fold's.
- replay.lags.proxy_extent (kube-proxy's lag bound): each node's count and largest lag kept
  while its lags are the same list; a slower lag measured after a batch of polls alone (which
  keeps the node's lags) moves the bound as a fresh fold does.
"""

from __future__ import annotations

import dataclasses

from gapwatch.replay import context
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.context import alive_steps, local_pods, ready_pod_steps
from gapwatch.replay.facts import Fact
from gapwatch.replay.fold import FoldState, fold, lb_facing
from gapwatch.replay.lags import lag_samples, proxy_extent
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import proxy_lag_hi
from gapwatch.replay.routed import routed_signal
from gapwatch.replay.signals import Step
from tests.replay.builders import eps, pod, target
from tests.replay.test_refresh12 import history_then, lag_batches

SKEW = 700_000


Lanes = tuple[list[Step], list[Step]]


def _afresh(facts: list[Fact], svc: ServiceRef, node: str) -> Lanes:
    """The local pods' lanes of `node` from `facts` folded into a new state (no memo)."""
    state = fold(FoldState(), facts)
    return alive_steps(state, svc, node), ready_pod_steps(state, svc, node, SKEW)


def test_local_pods_changes_follow_the_pods_through_folds_and_appends() -> None:
    later = [pod(3000, "p1", "n1", "gone", finished=2999), pod(3001, "p3", "n1", "ready")]
    later += [eps(3002, [("p3", "n1", "ready"), ("p2", "n2", "ready")])]
    later += [pod(3100, "p3", "n1", "terminating")]
    facts, split, state, svc = history_then(later)

    def mine() -> Lanes:
        return alive_steps(state, svc, "n1"), ready_pod_steps(state, svc, "n1", SKEW)

    before = mine()
    assert before == _afresh(facts[:split], svc, "n1")
    alive_steps(state, svc, "n1").clear()  # the caller's own list
    ready_pod_steps(state, svc, "n1", SKEW).clear()
    assert mine() == before
    fold(state, facts[split:])  # p1 dies, p3 comes to n1, goes terminating
    after = mine()
    assert after != before
    assert after == _afresh(facts, svc, "n1")
    # a sample appended without a fold (the memo is kept by folds anyway): found again
    lane = state.pods[(svc.cluster, svc.namespace, "p3")]
    lane.append(lane[-1]._replace(at_us=lane[-1].at_us + 1_000_000, state="ready"))
    alive, ready = mine()
    assert alive != after[0] and alive[-1].value is True
    assert ready != after[1] and ready[-1].value is True


def test_a_node_moved_by_its_polls_alone_reads_its_ready_pods_from_the_memo() -> None:
    facts, split, state, svc = history_then([target(3500, None, "n1", "healthy", "MODIFIED")])
    settings = dataclasses.replace(DEFAULTS, ccm_mode="endpoint")
    routed_signal(state, svc, "n1", settings)
    fold(state, facts[split:])
    found: list[str] = []
    was = context._pods_changes

    def counting(*args: object) -> object:
        found.append(str(args[2]))
        return was(*args)  # type: ignore[arg-type]

    context._pods_changes = counting  # type: ignore[assignment]
    try:
        routed = routed_signal(state, svc, "n1", settings)
    finally:
        context._pods_changes = was
    assert found == []  # its pods' samples did not move
    fresh = fold(FoldState(), facts)
    assert routed == routed_signal(fresh, svc, "n1", settings)


def test_the_local_pods_follow_a_pod_the_slices_move_to_another_node() -> None:
    later = [eps(3002, [("p1", "n1", "ready"), ("p2", "n1", "ready"), ("p4", "n2", "ready")])]
    later += [eps(3003, [("p1", "n2", "ready"), ("p2", "n1", "ready"), ("p4", "n2", "ready")])]
    facts, split, state, svc = history_then(later)
    assert [local_pods(state, svc, n) for n in ("n1", "n2")] == [["p1"], ["p2"]]
    for cut in (split + 1, len(facts)):  # p2 to n1 and p4 new on n2; then p1 to n2
        fold(state, facts[split:cut])
        fresh = fold(FoldState(), facts[:cut])
        for n in ("n1", "n2", "n3"):
            assert local_pods(state, svc, n) == local_pods(fresh, svc, n)
        split = cut
    assert [local_pods(state, svc, n) for n in ("n1", "n2")] == [["p2"], ["p1", "p4"]]


def test_kube_proxys_lag_bound_follows_a_node_whose_lags_moved() -> None:
    # a slower lag than any before (n1's endpoint lost at 2,050 s), measured in the second
    # batch; the first, n1's LB polls alone, keeps n1's lags
    done, polls, rest = lag_batches(lost=2050)
    state = fold(FoldState(), done)
    (svc,) = lb_facing(state)
    one = dataclasses.replace(DEFAULTS, min_measurements=1, lag_margin=1.0)
    seen = []
    for batch in ([], polls, rest):
        fold(state, batch)
        done += batch
        fresh = fold(FoldState(), done)
        samples = [s.seconds for s in lag_samples(fresh, [svc], one, proxy_only=True)]
        assert proxy_extent(state, svc, one) == (len(samples), max(samples, default=None))
        assert proxy_lag_hi(state, svc, one) == proxy_lag_hi(fresh, svc, one)
        seen.append(proxy_extent(state, svc, one))
    # the first listing measures no lag (docs/semantics.md, rule AJ): none before the loss
    assert seen[0] == seen[1] == (0, None)
    assert seen[2] == (2, 12.5)  # the slower reaction
