"""A pod's own death time (the kubelet's finishedAt) and the gap it shows before kube-proxy
programmed the replacement (replay.deaths), from literal observations (tests/replay/builders.py
shapes; the Pod's containerStatuses as the API reference's ContainerStateTerminated has them:
exitCode, reason, startedAt, finishedAt in RFC 3339 whole seconds)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.deaths import death_range, runs
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, PodSample, fold
from gapwatch.replay.model import Window
from gapwatch.replay.signals import HI
from tests.replay.builders import (
    at,
    eps,
    facts_of,
    health,
    looks,
    node,
    nodeport,
    pod,
    service,
    target,
)
from tests.replay.test_evidence_order import scrape


def _us(seconds: float) -> int:
    return to_micros(at(seconds))


def _deleting(deleted: float = 100) -> list[Observation]:
    """One node n1 behind a healthy target, its only pod p1 ready, marked for deletion at
    `deleted` seconds."""
    return [
        service(0),
        node(0, "n1"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        pod(deleted, "p1", "n1", "terminating", deleted_at=deleted),
    ]


def _rollout(ready_at: float, finished: float | None) -> list[Observation]:
    """kube-proxy 1.29 (ProxyTerminatingEndpoints on), NodePort probed every 5 s (at 2, 7, ...,
    each look stored). p1 is marked for deletion at 100 s and keeps serving (terminating);
    its replacement p2 turns Ready at `ready_at` and the EndpointSlice lists it 0.3 s later,
    in the same version that shows p1 terminating (the controller saw both changes at once);
    p1 dies at 104.4 s (finishedAt 104 s when given), its Pod update says so at 106 s and the
    slice drops it at 106.3 s. Ready endpoints never left the node: no excursion."""
    old = "terminating" if ready_at > 100 else "ready"
    obs = [
        *_deleting(),
        pod(ready_at, "p2", "n1", "ready"),
        eps(ready_at + 0.3, [("p1", "n1", old), ("p2", "n1", "ready")]),
        pod(106, "p1", "n1", "gone", deleted_at=100, finished=finished),
        eps(106.3, [("p2", "n1", "ready")]),
    ]
    if ready_at < 100:
        obs.append(eps(100.3, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]))
    obs += [*looks("n1", 2, 120, 5), target(120, 115, "n1", "healthy")]
    return sorted(obs, key=lambda o: o.observed_at)


def _windows(obs: list[Observation]) -> list[Window]:
    return detect(fold(FoldState(), facts_of(obs)))


def test_a_death_before_the_replacement_was_listed_is_a_possible_gap_from_the_death() -> None:
    # p2 listed at 105.1 s, after p1's death (finishedAt 104 s: [103 s, 106 s) with the 1 s
    # node clock): kube-proxy cannot have had p2 when p1 died, and forwarded to p1 only
    (window,) = _windows(_rollout(ready_at=104.8, finished=104.4))
    assert not window.certain
    assert _us(103) <= window.start_earliest_us <= _us(104.4)
    assert window.end_latest_us >= _us(105.1)
    assert window.cls == "pod-gone-before-deregistered"


def test_a_replacement_listed_long_before_the_death_is_no_evidence() -> None:
    # p2 listed at 90.3 s, p1 died at 104.4 s: whether kube-proxy had programmed p2 by then is
    # its lag, which no look shows; finishedAt says the death came 14 s after the listing
    assert _windows(_rollout(ready_at=90.0, finished=104.4)) == []


def test_without_finished_at_the_updates_alone_are_no_evidence() -> None:
    # a recording whose Pods carry no finishedAt (a node that crashed, an older recorder):
    # the death is only (100 s, 106 s], no rule claims a gap from it
    assert _windows(_rollout(ready_at=104.8, finished=None)) == []


def test_the_death_range_is_finished_at_widened_by_the_node_clock_and_clipped() -> None:
    second = 1_000_000
    assert death_range(100 * second, 106 * second, 104 * second, second) == (
        103 * second, 106 * second, 0, 0,
    )  # fmt: skip
    # clipped to the Pod updates around it
    assert death_range(103_500_000, 105_200_000, 104 * second, second)[:2] == (
        103_500_000, 105_200_000,
    )  # fmt: skip
    # a finishedAt outside the updates (a node clock further off than assumed): the updates
    assert death_range(100 * second, 101 * second, 200 * second, second)[:2] == (
        100 * second, 101 * second,
    )  # fmt: skip
    assert death_range(100 * second, 101 * second, None, second)[:2] == (
        100 * second, 101 * second,
    )  # fmt: skip


def test_runs_carry_the_stop_of_each_stretch_a_pod_was_up() -> None:
    def sample(t: int, state: str, finished: int | None = None) -> PodSample:
        return PodSample(t, state, None, None, None, t, None, None, finished)

    lane = [sample(1, "pending"), sample(2, "ready"), sample(5, "pending", 4), sample(8, "ready")]
    (first, second) = runs(lane, "p")
    assert (first.ready_us, first.last_up_us, first.down_us, first.finished_us) == (2, 2, 5, 4)
    assert (second.ready_us, second.down_us, second.finished_us) == (8, HI, None)


def test_slice_facts_name_the_ready_pods_and_the_fold_when_they_entered() -> None:
    obs = _rollout(ready_at=104.8, finished=104.4)
    state = fold(FoldState(), facts_of(obs))
    ((svc, _pod), times), *_ = [(k, v) for k, v in state.slice_ready.items() if k[1] == "p2"]
    assert times == [_us(105.1)]
    assert state.slice_ready[(svc, "p1")] == [_us(1)]


def test_a_death_surely_before_the_replacement_was_ready_is_a_sure_gap() -> None:
    """The health check (200 every 5 s) counts the dead pod's endpoint: it cannot see this gap.
    p1 dies at 100.2 s (finishedAt 100 s: [99 s, 102 s), after the write of its terminating
    update seen at 100 s, from a stamp's second before it), the kubelet's report comes at 104 s, the
    EndpointSlice still lists p1 ready until 104.8 s, where p2 (Ready at 104.5 s) joins it:
    p2's Ready was written after 103 s (its update's second, less the 0.5 s watch skew), so
    kube-proxy on n1 forwarded only to the dead p1 from 102 s (the death's latest instant)
    to 103 s at least, while the LB kept routing to n1. (Its class is read at the start, where
    the EndpointSlice still said ready: docs/semantics.md, the classing rule not adopted.)"""
    obs = [
        *_deleting(),
        pod(104, "p1", "n1", "gone", deleted_at=100, finished=100.2),
        pod(104.5, "p2", "n1", "ready"),
        eps(104.8, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        eps(105, [("p2", "n1", "ready")]),
        target(120, 115, "n1", "healthy"),
    ]
    obs += [health(float(t), float(t - 5) if t > 5 else None, "n1", 1) for t in range(2, 121, 5)]
    (window,) = _windows(sorted(obs, key=lambda o: o.observed_at))
    assert window.certain
    assert _us(99) <= window.start_earliest_us <= window.start_latest_us <= _us(102)
    assert window.end_earliest_us >= _us(103)


def _scraped(synced: list[tuple[float, float, float]]) -> list[Observation]:
    """`_rollout` with p2 Ready at 90 s (listed at 90.3 s) and p1 dead at 104.4 s (finishedAt
    104 s: [103 s, 106 s)), and kube-proxy's /metrics on n1 scraped as (look, last sync, last
    queued) in seconds."""
    obs = _rollout(ready_at=90.0, finished=104.4)
    obs += [scrape(t, s, q) for t, s, q in synced]
    return sorted(obs, key=lambda o: o.observed_at)


def test_metrics_showing_the_replacement_unprogrammed_after_the_death_are_a_possible_gap() -> None:
    # kube-proxy's last sync ended at 50 s, before p2 could be in the slice (Ready at 90 s),
    # still at the 105 s look (after the death's earliest instant, 103 s): p2 was not
    # programmed then, p1 possibly dead; the 110 s look shows a sync at 106.5 s with nothing
    # queued after it: programmed by then
    obs = _scraped([(95, 50, 90.3), (100, 50, 90.3), (105, 50, 90.3), (110, 106.5, 106.4)])
    (window,) = _windows(obs)
    assert not window.certain
    assert _us(103) <= window.start_earliest_us <= _us(104.4)
    assert _us(105) <= window.end_latest_us <= _us(106.5)
    assert window.cls == "pod-gone-before-deregistered"


def test_metrics_showing_a_sync_after_the_listing_before_the_death_are_no_gap() -> None:
    # a sync ended at 92 s, after p2's listing could reach kube-proxy: it may have been
    # programmed before the death (nothing says the 92 s sync missed it)
    assert _windows(_scraped([(95, 92, 90.3), (100, 92, 90.3), (105, 92, 90.3)])) == []


def test_an_unsynced_look_before_the_death_is_no_gap() -> None:
    # the last look without a sync is at 100 s, before the death's earliest instant (103 s):
    # kube-proxy may have programmed p2 between it and the death
    assert _windows(_scraped([(95, 50, 90.3), (100, 50, 90.3), (110, 106.5, 106.4)])) == []


def _unready(finished: float, serving: bool = False) -> list[Observation]:
    """Random development seed 871's shape (kube-proxy 1.29, ProxyTerminatingEndpoints on),
    NodePort and health check probed every 5 s (at 2, 7, ..., each look stored). p1 is marked
    for deletion at 90 s and keeps serving (terminating: the slice shows it so at 90.3 s, the
    node without a ready endpoint); its replacement p2 turns Ready at 96.8 s and the slice
    lists it at 97 s. kube-proxy is late: the health check counts p1 (1) until 97 s, 0 at
    102 s (it synced p1's termination, not yet p2's Ready) and p2 (1) from 107 s. p1 dies
    (finishedAt `finished`), its Pod update says so at 106 s. Every NodePort look connects
    until p2 crashes at 126 s: refused at 127 s, the slice drops it at 127.5 s. `serving`:
    another old pod p3 on n1, ready from 1 s, terminating from 90 s like p1, lives on."""
    old = [("p3", "n1", "terminating")] if serving else []
    obs = [
        *_deleting(90),
        eps(90.3, [("p1", "n1", "terminating"), *old]),
        pod(96.8, "p2", "n1", "ready"),
        eps(97, [("p1", "n1", "terminating"), ("p2", "n1", "ready"), *old]),
        pod(106, "p1", "n1", "gone", deleted_at=90, finished=finished),
        eps(106.3, [("p2", "n1", "ready"), *old]),
        *looks("n1", 2, 122, 5),
        nodeport(127, 122, "n1", "refused"),
        pod(127.2, "p2", "n1", "pending"),
        eps(127.5, old),
        target(140, 135, "n1", "healthy"),
    ]
    if serving:
        obs += [
            pod(1, "p3", "n1", "ready"),
            eps(1.5, [("p1", "n1", "ready"), ("p3", "n1", "ready")]),
            pod(90, "p3", "n1", "terminating", deleted_at=90),
        ]
    obs += [
        health(float(t), float(t - 5) if t > 5 else None, "n1", 0 if t == 102 else 1)
        for t in range(2, 123, 5)
    ]
    return sorted(obs, key=lambda o: o.observed_at)


def test_a_health_check_counting_no_ready_endpoint_after_the_death_is_a_possible_gap() -> None:
    # finishedAt 102 s with the 1 s node clock: p1 died in [101 s, 103 s) (after its last
    # update that saw it up, 90 s); p2 was listed at 97 s, before that, but the 102 s look
    # answered 503 counting 0 ready local endpoints: kube-proxy had not programmed p2 then, so
    # it forwarded only to p1, possibly dead, until the 200 at 107 s. No NodePort look fell
    # in the gap; it is reported uncertain rather than missed (the refusal at 127 s, p2's
    # crash, is another gap)
    windows = _windows(_unready(finished=102.6))
    (window,) = [w for w in windows if w.start_earliest_us < _us(120)]
    assert not window.certain
    assert _us(101) <= window.start_earliest_us <= _us(102)
    assert _us(102) < window.end_latest_us <= _us(107)
    assert window.cls == "pod-gone-before-deregistered"


def test_a_health_check_counting_no_ready_endpoint_before_the_death_is_no_gap() -> None:
    # finishedAt 104 s: p1 died in [103 s, 106 s), after the last 503 look (102 s): kube-proxy
    # may have programmed p2 between that look and the death
    assert [w for w in _windows(_unready(finished=104.4)) if w.start_earliest_us < _us(120)] == []


def test_a_health_check_counting_no_ready_endpoint_says_nothing_of_a_terminating_one() -> None:
    # p3, terminating since 90 s, is not counted by the health check but still served (PTE):
    # the 503 at 102 s does not show n1 without a pod to forward to when p1 died
    windows = _windows(_unready(finished=102.6, serving=True))
    assert [w for w in windows if w.start_earliest_us < _us(120)] == []


def test_a_gap_no_dense_look_saw_opened_less_than_a_look_before_the_programming() -> None:
    """Looks every 0.5 s: `_unready`'s shape with the health check answering 503 counting 0
    from 101.5 s to 104 s and 200 from 104.5 s: p2 programmed by 104.5 s, not before 103 s
    (the last 503 less one sync's span, 1 s: the rules are written before the counts). p1 died
    in [101 s, 104 s) (finishedAt 102 s, the 1 s node clock), and every NodePort look
    connected: a gap from its death to p2's programming would have been seen unless it opened
    less than the looks' unseen interval (0.5 s plus the 0.5 s watch skew) before 103 s, so
    from 102 s, not from the death's earliest instant (101 s)."""
    obs = [o for o in _unready(finished=102.6) if o.kind not in ("ProxyHealth", "NodePortProbe")]
    obs += [*looks("n1", 2, 126.5, 0.5), nodeport(127, 126.5, "n1", "refused")]
    obs += [
        health(t, t - 0.5 if t > 2 else None, "n1", 0 if 101.5 <= t <= 104 else 1)
        for t in (2 + k * 0.5 for k in range(241))
    ]
    windows = _windows(sorted(obs, key=lambda o: o.observed_at))
    (window,) = [w for w in windows if w.start_earliest_us < _us(120)]
    assert not window.certain
    assert window.start_earliest_us == _us(102)
    assert _us(104) <= window.end_latest_us <= _us(104.5)


def test_a_503_less_than_a_sync_span_after_the_death_s_earliest_instant_is_no_gap() -> None:
    # p1 seen still up (terminating) at 102.5 s, an update written from 101.5 s (a stamp's
    # second before): it died in [101.5 s, 104 s). The 503 at 102 s shows the counts of a
    # sync that ended by then; a sync still running may have written p2's rules from 101 s
    # (102 s less the 1 s sync span), before the death
    obs = [*_unready(finished=102.6), pod(102.5, "p1", "n1", "terminating", deleted_at=90)]
    windows = _windows(sorted(obs, key=lambda o: o.observed_at))
    assert [w for w in windows if w.start_earliest_us < _us(120)] == []
