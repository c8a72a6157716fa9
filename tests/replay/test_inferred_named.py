"""Spent runs whose window read one class while its start range allowed another that the log
cannot exclude (docs/semantics.md, "No-probe windows of a wrong class with nothing named
(session 39, branch s39-nnr)" and "The LB's first registration against a listed endpoint
(session 39, branch s39-nnr)"). Each is the simulator's run of a spent development seed,
observed as the recorder stores it (the kube-proxy probes dropped where the case says so), and
the window holding the truth; each failed on main (7f71008b), which named nothing of it."""

from __future__ import annotations

from functools import cache

from gapwatch.recorder.sim import from_dict, run
from gapwatch.recorder.sim.generate import random_scenario
from gapwatch.recorder.timefmt import parse_time, to_micros
from gapwatch.replay.fold import Sample
from gapwatch.replay.inferred_named import (
    close_unordered,
    down_unordered,
    rise_unprogrammed,
)
from gapwatch.replay.model import Window
from gapwatch.replay.signals import HI, Iv, Step, Tri
from gapwatch.replay.undecided import CBD, NNR, RBF
from tests.replay.accuracy import replay_windows


@cache
def _holding(seed: int, node: str, cls: str, no_probes: bool) -> tuple[str, Window]:
    """The truth's class and the one window on `node` holding the true window of class `cls`
    of random run `seed` (without the kube-proxy probes where `no_probes`)."""
    result = run(from_dict(random_scenario(seed), f"random scenario {seed}"), seed=seed)
    observations = [
        o for o in result.observations if not (no_probes and o.source == "kube-proxy-probe")
    ]
    truth = next(t for t in result.truth.windows if t.node == node and t.cls == cls)
    start, end = to_micros(parse_time(truth.start)), to_micros(parse_time(truth.end))
    (window,) = [
        w
        for w in replay_windows(observations)
        if w.node == node and w.start_earliest_us <= start < w.end_latest_us and end > start
    ]
    return truth.cls, window


def test_a_first_registration_against_a_listed_endpoint_names_registered_first() -> None:
    # 34000921 node-004: the LB took the new node in (first registered, no drain before it)
    # somewhere in the start range while its pod was listed ready and the NodePort still timed
    # out (kube-proxy had not programmed it): `registered-before-forwarding`, read
    # `closed-before-deregistered` at R's latest rise (the pod terminating then)
    truth, window = _holding(34000921, "node-004", RBF, no_probes=False)
    assert window.cls == CBD
    assert not window.certain
    assert truth in window.also


def test_a_node_deleted_after_the_lbs_rise_over_a_listed_endpoint_names_registered_first() -> None:
    # 35000433 node-005, no probe: the LB took the node in (target healthy at +1 s) with its
    # pod listed ready less than kube-proxy's lag bound before; the Node was deleted 31 s
    # later. Read at the deletion, `node-not-ready`; the rise may have met the endpoint
    # unprogrammed (the truth: 49 s of `registered-before-forwarding`)
    truth, window = _holding(35000433, "node-005", RBF, no_probes=True)
    assert window.cls == NNR
    assert window.certain
    assert truth in window.also


def test_an_endpoint_lost_while_its_pod_ran_names_kube_proxys_close() -> None:
    # 35000852 node-002, no probe: the pod terminating at +6.89 s (PTE off: its endpoint no
    # longer forwarded to), still running until +14.87 s; kube-proxy's close lies up to its
    # lag bound after the loss, inside the range read `registered-before-forwarding`
    truth, window = _holding(35000852, "node-002", CBD, no_probes=True)
    assert window.cls == RBF
    assert truth in window.also


def test_a_node_controllers_late_mark_inside_the_range_names_the_nodes_end() -> None:
    # 35000063 node-002, no probe: the Node seen Unknown at +50.90 s, 2.9 s after the range's
    # end; the node controller marks it up to its grace (50 s here by default) after the node
    # stopped, so the node's end may lie in the range (the truth: +10.84 s)
    truth, window = _holding(35000063, "node-002", NNR, no_probes=True)
    assert window.cls == RBF
    assert truth in window.also


S = 1_000_000  # one second in microseconds


def _lane(*changes: tuple[float, str]) -> list[Sample]:
    return [Sample(int(t * S), None, v, i) for i, (t, v) in enumerate(changes, start=1)]


def _steps(*changes: tuple[float, float, bool]) -> list[Step]:
    return [Step(int(a * S), int(b * S), v, i) for i, (a, b, v) in enumerate(changes, start=1)]


def test_a_listing_older_than_kube_proxys_lag_bound_was_programmed_by_the_rise() -> None:
    # control of `rise_unprogrammed`: R possible from 98 s, sure at 100 s; listed ready at
    # 90 s, a lag bound of 60 s: the rise may have met it unprogrammed; with 5 s it surely
    # had been programmed by 98 s; never listed ready in the range: nothing
    routed = Tri([Iv(98 * S, HI)], [Iv(100 * S, HI)])
    listed = _lane((1, "none"), (90, "ready"))
    assert rise_unprogrammed(routed, listed, 97 * S, 101 * S, 60 * S)
    assert not rise_unprogrammed(routed, listed, 97 * S, 101 * S, 5 * S)
    assert not rise_unprogrammed(routed, _lane((1, "none")), 97 * S, 101 * S, 60 * S)


def test_a_loss_with_no_pod_up_is_no_close_before_a_death() -> None:
    # control of `close_unordered`: forwardable lost at 7 s; a pod up then: kube-proxy's close
    # up to its lag bound after may lie in (0, 15]; no pod up then: the death came first
    lost = _steps((1, 1, True), (7, 7, False))
    lags = (S // 2, 0, 60 * S)
    assert close_unordered(lost, _steps((1, 1, True), (14, 14, False)), False, 0, 15 * S, lags)
    assert not close_unordered(lost, _steps((1, 1, True), (6, 6, False)), False, 0, 15 * S, lags)


def test_a_mark_more_than_the_grace_after_the_range_is_no_end_inside_it() -> None:
    # control of `down_unordered`: Unknown at 50.9 s with a 50 s grace: the end may lie in
    # (0, 48]; Unknown at 120 s: the node was up through the range
    ready = (0.0, "Ready")
    assert down_unordered(_lane(ready, (50.9, "Unknown")), 0, 48 * S, 50 * S)
    assert not down_unordered(_lane(ready, (120, "Unknown")), 0, 48 * S, 50 * S)
