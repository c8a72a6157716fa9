"""A pod's death against kube-proxy's close (docs/semantics.md, "Undecided classes"): where a
local pod was seen dying inside a window's start range while kube-proxy still forwarded to it,
the death opened the window; where nothing orders the death against kube-proxy's close, the
window names both readings; where the LB's routing came from failing open while the node had
no ready endpoint, the window names `closed-before-deregistered` beside
`registered-before-forwarding`. Literal observations (tests/replay/builders.py shapes) and
literal samples."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.deaths import death_span
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, Sample, fold
from gapwatch.replay.model import Window
from gapwatch.replay.signals import Step
from gapwatch.replay.undecided import (
    close_unordered,
    death_unordered,
    opened_before_ready,
    unseen_close,
)
from tests.replay.builders import (
    at,
    eps,
    facts_of,
    joining_node,
    node,
    nodeport,
    one_node,
    pod,
    service,
    target,
)

PGBD, CBD, RBF = (
    "pod-gone-before-deregistered",
    "closed-before-deregistered",
    "registered-before-forwarding",
)


def _us(seconds: float) -> int:
    return to_micros(at(seconds))


def _s(t: float, value: str) -> Sample:
    return Sample(int(t * 1e6), None, value, 0)


def _rollout(
    version: str,
    pods: tuple[str, ...],
    gone: dict[str, float],
    finished: dict[str, float] | None = None,
) -> list[Observation]:
    """Node n1 runs `pods`; all start terminating at 99 s (their endpoints serving-terminating
    at 99.1 s), the slice drops them at 100.6 s; each Pod update saying it stopped is seen at
    `gone[pod]`, with its kubelet's finishedAt where `finished` has one. NodePort probed every
    second (connected through 100 s, then timeouts), the LB polled every 5 s (healthy through
    130 s, unhealthy at 135 s)."""
    obs = [service(0), node(0, "n1", version=version)]
    for name in pods:
        obs += [pod(1, name, "n1", "ready"), pod(99, name, "n1", "terminating", deleted_at=99)]
        done = (finished or {}).get(name)
        obs.append(pod(gone[name], name, "n1", "gone", deleted_at=99, finished=done))
    obs += [
        eps(1, [(p, "n1", "ready") for p in pods]),
        eps(99.1, [(p, "n1", "terminating") for p in pods]),
        eps(100.6, []),
        target(1, None, "n1", "healthy", "ADDED"),
    ]
    obs += [nodeport(float(t), float(t - 1) if t > 1 else None, "n1",
                     "connected" if t <= 100 else "timeout") for t in range(1, 141)]  # fmt: skip
    obs += [target(float(t), float(t - 5), "n1", "healthy") for t in range(5, 131, 5)]
    obs.append(target(135, 130, "n1", "unhealthy"))
    return sorted(obs, key=lambda o: o.observed_at)


def _window(obs: list[Observation]) -> Window:
    (window,) = detect(fold(FoldState(), facts_of(obs)))
    return window


def test_a_death_seen_while_forwarded_opens_a_certain_window() -> None:
    # kube-proxy 1.29 (ProxyTerminatingEndpoints on): it still forwarded to the serving
    # terminating pods when p1 was seen stopped at 100.4 s, inside the start range
    # (100 s, 101 s]; p2 stopped only at 103 s, so not all local pods stopped in that range
    w = _window(_rollout("v1.29.3", ("p1", "p2"), {"p1": 100.4, "p2": 103.0}))
    assert w.certain
    assert _us(100) <= w.start_earliest_us and w.start_latest_us <= _us(101)
    assert (w.cls, w.also) == (PGBD, ())


def test_a_death_unordered_against_kube_proxys_close_names_both() -> None:
    # kube-proxy 1.25 (no PTE): it closes some lag after the endpoints stopped being ready
    # (99.1 s); the pod was seen stopped at 100.4 s, so it died after 97.4 s (the 3 s status
    # lag): either opened the window in (100 s, 101 s]
    w = _window(_rollout("v1.25.0", ("p1",), {"p1": 100.4}))
    assert w.certain
    assert (w.cls, w.also) == (CBD, (PGBD,))


def test_a_death_seen_long_after_the_start_is_not_named() -> None:
    # the same with the Pod update 10 s after the close: the death lies after 107.4 s
    w = _window(_rollout("v1.25.0", ("p1",), {"p1": 110.4}))
    assert (w.cls, w.also) == (CBD, ())


def test_a_death_timed_by_its_kubelet_is_named_however_late_its_report() -> None:
    # random 16,000,524 node-005's shape: kube-proxy 1.25 (no PTE) closes some lag after the
    # endpoint stopped being ready (99.1 s); the Pod update saying p1 stopped came 10 s after
    # the close (the kubelet's status write late: its API rate limit, a busy node), but its
    # finishedAt (100 s) puts the death in [99 s, 102 s): either opened the window in
    # (100 s, 101 s]. The status-lag reading alone put the death after 107.4 s.
    w = _window(_rollout("v1.25.0", ("p1",), {"p1": 110.4}, finished={"p1": 100}))
    assert w.certain
    assert (w.cls, w.also) == (CBD, (PGBD,))


def test_a_death_timed_before_the_start_range_is_not_named() -> None:
    # the Pod update inside the start range (100.4 s), but its finishedAt (98 s, the pod seen
    # up until 99 s) puts the death in (99 s, 100 s): before the range, so kube-proxy's close
    # (the first timeout at 101 s) opened the window
    w = _window(_rollout("v1.25.0", ("p1",), {"p1": 100.4}, finished={"p1": 98}))
    assert (w.cls, w.also) == (CBD, ())


def test_death_ranges_against_a_start_range() -> None:
    status, clock = int(3e6), int(1e6)

    def span(up: float, gone: float, finished: float | None = None) -> tuple[int, int]:
        done = None if finished is None else int(finished * 1e6)
        return death_span(int(up * 1e6), int(gone * 1e6), done, clock, status)

    since, until = int(100e6), int(101e6)
    # up until 99 s, seen stopped at 100.4 s: died in (99, 100.4]
    assert death_unordered([span(99, 100.4)], since, until)
    # seen stopped at 110 s: died after 107 s, past the start range
    assert not death_unordered([span(99, 110)], since, until)
    # seen stopped before the range: died before it
    assert not death_unordered([span(90, 99.5)], since, until)
    # seen stopped at 110 s, its kubelet's finishedAt 100 s: died in [99, 101.0 + 1): inside
    assert death_unordered([span(99, 110, finished=100)], since, until)
    # seen stopped at 100.4 s, finishedAt 98 s: died in (99, 100), before the range
    assert not death_unordered([span(97, 100.4, finished=98)], since, until)


def test_kube_proxys_close_before_the_death_seen() -> None:
    lane = [_s(0, "ready"), _s(99.1, "serving-terminating"), _s(100.6, "none")]
    death = [(int(99e6), int(100.4e6))]
    since, until, skew = int(100e6), int(101e6), int(0.5e6)
    # no PTE known: the ready endpoint left at 99.1 s, before the death was seen
    assert close_unordered(lane, death, since, until, skew, pte=False)
    # PTE surely on: kube-proxy kept forwarding until the slice dropped the endpoint at
    # 100.6 s, after the death was seen (the change follows the death)
    assert not close_unordered(lane, death, since, until, skew, pte=True)
    # the endpoints still ready when the death was seen: kube-proxy had no reason to close
    ready = [_s(0, "ready"), _s(100.6, "none")]
    assert not close_unordered(ready, death, since, until, skew, pte=False)


def test_failing_open_before_the_endpoint_arrived() -> None:
    lane = [_s(0, "none"), _s(104.95, "ready")]
    polls = [_s(90, "unhealthy"), _s(130, "healthy")]
    since, until = int(100e6), int(106e6)
    # no ready endpoint at the window's earliest start and the node unhealthy at every poll:
    # the LB routed by failing open, from before or after the endpoint arrived
    assert opened_before_ready(lane, polls, since, until)
    # a poll saw the node healthy inside: its own registration, after the endpoint
    assert not opened_before_ready(lane, [*polls[:1], _s(105, "healthy")], since, until)
    # the endpoint already ready at the earliest start: nothing to order
    assert not opened_before_ready([_s(0, "ready")], polls, since, until)


def _replaced(
    gone: float, version: str = "v1.29.3", every: int = 5, until: int = 140
) -> list[Observation]:
    """kube-proxy `version` (1.29: PTE on): p1 terminating at 99 s (its endpoint
    serving-terminating at 99.1 s), its replacement p2 ready at 100 s (in the slice at
    100.1 s); p1 seen stopped at `gone`. NodePort probed every `every` s and the LB polled
    every 5 s until `until`: both never saw a change."""
    obs = [
        *one_node(version),
        pod(98, "p2", "n1", "pending"),
        pod(99, "p1", "n1", "terminating", deleted_at=99),
        eps(99.1, [("p1", "n1", "terminating")]),
        pod(100, "p2", "n1", "ready"),
        eps(100.1, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(gone, "p1", "n1", "gone", deleted_at=99),
        eps(gone + 0.2, [("p2", "n1", "ready")]),
    ]
    obs += [nodeport(float(t), float(t - every) if t > every else None, "n1", "connected")
            for t in range(every, until + 1, every)]  # fmt: skip
    obs += [target(float(t), float(t - 5), "n1", "healthy") for t in range(5, until + 1, 5)]
    return sorted(obs, key=lambda o: o.observed_at)


def test_a_terminating_pods_death_beside_a_ready_endpoint_names_the_other_reading() -> None:
    # p1 seen stopped at 100.05 s, while its serving-terminating endpoint was the node's
    # only one (the ready p2 reached the slice at 100.1 s): kube-proxy forwarded to it
    w = _window(_replaced(100.05))
    assert not w.certain
    assert (w.cls, w.also) == (PGBD, ())
    # seen stopped at 101 s, with p2's ready endpoint in the slice since 100.1 s: kube-proxy
    # forwards to a terminating endpoint only while it knows no ready one, so the death took
    # traffic only if p2 was not yet programmed; nothing orders that
    w = _window(_replaced(101.0))
    assert (w.cls, w.also) == (PGBD, (CBD,))


def _failing_open(obs: list[Observation], answers_from: int) -> list[Observation]:
    """`obs` probed and polled every 5 s: n1's NodePort answers from `answers_from`, n2's
    always; n1's target is unhealthy at every poll, n2's from the poll at 100 s."""
    for t in range(5, 141, 5):
        prev = float(t - 5) if t > 5 else None
        obs = [
            *obs,
            nodeport(float(t), prev, "n1", "connected" if t >= answers_from else "timeout"),
            nodeport(float(t), prev, "n2", "connected"),
            target(float(t), float(t - 5), "n1", "unhealthy"),
            target(float(t), float(t - 5), "n2", "healthy" if t <= 95 else "unhealthy"),
        ]
    return sorted(obs, key=lambda o: o.observed_at)


def test_a_window_the_failing_open_lb_may_have_opened_before_the_endpoint() -> None:
    # n1 has no endpoint until p1 turns ready at 100 s (in the slice at 100.1 s) and every poll
    # sees it unhealthy; n2's target turns unhealthy between the polls at 95 s and 100 s, so
    # from 95 s the LB may fail open (every target unhealthy) and route to n1. kube-proxy on
    # n1 answers from the probe at 105 s. The window is read at its latest instants, 100 s,
    # where the LB surely fails open: its routing owes nothing to n1's endpoints, so they are
    # read at that instant (closed-before-deregistered), and the ready endpoint seen 0.1 s
    # later (inside the watch skew: it may have been there before) is named
    w = _window(_failing_open(joining_node(98, 100, 100.1), answers_from=105))
    assert (w.node, w.certain) == ("n1", False)
    assert _us(95) <= w.start_earliest_us < _us(100.1)
    assert (w.cls, w.also) == (CBD, (RBF,))


def test_a_certain_window_the_failing_open_lb_may_have_opened_still_names_the_close() -> None:
    # as above, but p1's endpoint is in the slice at 97.1 s and kube-proxy on n1 answers only
    # from the probe at 110 s: from the poll at 100 s every target is surely unhealthy (the LB
    # surely fails open) and the probe at 105 s surely found n1 not forwarding, so the window
    # is certain, read at its sure start (100 s) with the endpoint ready. The failing-open
    # routing may have begun at 95 s, before the endpoint: what made the window certain does
    # not order that, so it names the close
    w = _window(_failing_open(joining_node(95, 97, 97.1), answers_from=110))
    assert (w.node, w.certain) == ("n1", True)
    assert w.start_earliest_us < _us(97.1) <= w.start_latest_us
    assert (w.cls, w.also) == (RBF, (CBD,))


def test_kube_proxys_close_no_probe_saw_beside_a_later_death() -> None:
    # kube-proxy 1.25 (no PTE): the serving-terminating endpoint is nothing it forwards to,
    # and no probe looked between 99.1 s and 100.1 s (every 30 s): kube-proxy may have closed on the
    # loss and opened on the return, with the LB routing (closed-before-deregistered), or
    # programmed neither in time and forwarded to p1 when it died (pod-gone); an endpoint-
    # driven CCM with no measured drop lag reads the other reading as the LB's (a replacement
    # registered first): the close is named too
    state = fold(FoldState(), facts_of(_replaced(106, "v1.25.0", 30, 240)))
    (w,) = detect(state, settings=DetectSettings(ccm_mode="endpoint"))
    assert not w.certain
    assert w.start_earliest_us <= _us(99.1)
    assert w.cls == PGBD and CBD in w.also


def test_a_probe_inside_the_endpoints_excursion_saw_the_node() -> None:
    lost, back = Step(int(99.1e6), int(99.1e6), False, 1), Step(int(100.1e6), int(100.1e6), True, 2)
    forwardable = [Step(int(1e6), int(1e6), True, 0), lost, back]
    since, until, skew = int(99.1e6), int(160e6), int(0.5e6)
    assert unseen_close(forwardable, [int(90e6), int(120e6)], since, until, skew)
    # a probe looked between the loss and the return: what it saw is the lane's
    assert not unseen_close(forwardable, [int(90e6), int(99.5e6)], since, until, skew)
    # the loss long before the start range: not this window's
    assert not unseen_close(forwardable, [int(90e6), int(120e6)], int(110e6), until, skew)
    # the endpoints never came back: no excursion (close_unordered reads that)
    assert not unseen_close(forwardable[:2], [int(90e6), int(120e6)], since, until, skew)


def _rules_left(refused_until: int) -> list[Observation]:
    """kube-proxy 1.25: n1's only pod p1 terminating at 88 s, seen stopped at 91 s (the slice
    empty at 91.2 s), its replacement p2 ready at 99 s (in the slice at 99.1 s). The NodePort,
    probed every 5 s, connects through 85 s, is refused (p1's rules, no pod behind them)
    through `refused_until`, then times out (no rules) until 120 s; the LB polled every 5 s
    saw n1 draining at 90 and 95 s and healthy from 100 s."""
    obs = [
        *one_node("v1.25.0"),
        pod(88, "p1", "n1", "terminating", deleted_at=88),
        eps(88.1, [("p1", "n1", "terminating")]),
        pod(91, "p1", "n1", "gone", deleted_at=88),
        eps(91.2, []),
        pod(97, "p2", "n1", "pending"),
        pod(99, "p2", "n1", "ready"),
        eps(99.1, [("p2", "n1", "ready")]),
    ]
    for t in range(5, 201, 5):
        seen = "refused" if 85 < t <= refused_until else "timeout" if 85 < t < 120 else "connected"
        polled = "draining" if 90 <= t <= 95 else "healthy"
        obs += [nodeport(float(t), float(t - 5) if t > 5 else None, "n1", seen),
                target(float(t), float(t - 5), "n1", polled)]  # fmt: skip
    return sorted(obs, key=lambda o: o.observed_at)


def test_the_lbs_return_against_the_dead_pods_rules_going_away() -> None:
    # the LB took n1 back in (95 s, 100 s]; the probe at 95 s found p1's rules still in place
    # (refused), the one at 100 s none (timeout): nothing orders the two. Read at 100 s, with
    # p2 ready and not yet forwarded to; before the rules went, the dead pod opened it
    found = detect(fold(FoldState(), facts_of(_rules_left(95))))
    (w,) = [w for w in found if w.certain]
    assert _us(95) <= w.start_earliest_us and w.start_latest_us <= _us(100)
    assert (w.cls, w.also) == (RBF, (PGBD,))
    # the rules gone by the probe at 95 s, before the LB's return: nothing to name
    found = detect(fold(FoldState(), facts_of(_rules_left(90))))
    (w,) = [w for w in found if w.certain]
    assert (w.cls, w.also) == (RBF, ())


def _silent(down_at: float) -> list[Observation]:
    """kube-proxy 1.25 on n1, no health check probed: the NodePort, probed every 5 s, connects
    through 95 s and times out from 100 s; the LB routes n1 until it sees it draining at
    130 s; the Node turns NotReady at `down_at`."""
    obs = [*one_node("v1.25.0"), node(down_at, "n1", ready=False, version="v1.25.0")]
    for t in range(5, 201, 5):
        seen = "connected" if t <= 95 else "timeout"
        polled = "healthy" if t < 130 else "draining"
        obs += [nodeport(float(t), float(t - 5) if t > 5 else None, "n1", seen),
                target(float(t), float(t - 5), "n1", polled)]  # fmt: skip
    return sorted(obs, key=lambda o: o.observed_at)


def test_a_nodeport_silent_until_the_node_went_down_is_the_nodes_end() -> None:
    # the NodePort's timeouts from 100 s: the node gone, which the node controller marks
    # NotReady only node_grace_s (50 s) after: NotReady at 135 s, after the window closed, may
    # date it; kube-proxy dropping for want of a local endpoint cannot be, p1 listed ready and
    # programmed long before (rule NS, replay.portsilent: the class, no longer a name beside
    # registered-before-forwarding)
    (w,) = detect(fold(FoldState(), facts_of(_silent(135))))
    assert w.certain and w.end_latest_us <= _us(130)
    assert (w.cls, w.also) == ("node-not-ready", ())
    # NotReady past the grace from the start range: not the node's end there
    (w,) = detect(fold(FoldState(), facts_of(_silent(160))))
    assert (w.cls, w.also) == (RBF, ())


def test_without_pte_sure_the_reading_without_the_death_names_its_own_order_too() -> None:
    """The same replacement under kube-proxy 1.27 (PTE on by default, but the gate could be
    off: not sure). Without the death the window reads `closed-before-deregistered`; the LB
    polled every 5 s saw nothing of the node's 1 s without a ready endpoint, so an
    endpoint-driven LB may as well have dropped it and taken it back before kube-proxy
    programmed p2: `registered-before-forwarding` is named too (the `large` preset's 12
    windows with nothing right named, all this; docs/semantics.md, "Undecided classes")."""
    w = _window(_replaced(101.0, "v1.27.8"))
    assert not w.certain
    assert (w.cls, w.also) == (PGBD, (CBD, RBF))
