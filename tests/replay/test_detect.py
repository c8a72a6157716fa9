"""Detection on literal observations: both seed classes, their bounds, causes and provenance."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from tests.replay import builders
from tests.replay.builders import at, eps, facts_of, health, node, nodeport, pod, service, target
from tests.replay.scenarios import seed_races


def us(seconds: float) -> int:
    return to_micros(at(seconds))


def test_seed_scenarios_are_found_with_their_bounds() -> None:
    state = fold(FoldState(), facts_of(seed_races()))
    found = detect(state)
    assert [w.cls for w in found] == ["registered-before-forwarding", "closed-before-deregistered"]
    first, second = found
    # registration seen by the poller in (10, 11], forwarding by the probe in (12.9, 13]
    assert (first.start_earliest_us, first.start_latest_us) == (us(10), us(11))
    assert (first.end_earliest_us, first.end_latest_us) == (us(12.9), us(13))
    assert first.duration_min_s == 1.9 and first.duration_max_s == 3.0
    assert first.certain and first.provenance == "measured"
    assert first.opened_by == (7,) and first.closed_by == (8,)  # the target and probe events
    assert (second.start_earliest_us, second.end_latest_us) == (us(50.4), us(55))


def refused_look(extra: Sequence[Observation] = ()) -> list[Observation]:
    """p1 on n1 turns serving-terminating at 20 s, the NodePort refused at 50.0-50.2 s while
    the LB still had n1 healthy, drained from 59-60 s; `extra` observed from the start."""
    return [
        service(0),
        node(0, "n1"),
        *extra,
        nodeport(1, None, "n1", "connected"),
        target(1, None, "n1", "healthy", "ADDED"),
        eps(1, [("p1", "n1", "ready")]),
        eps(20, [("p1", "n1", "terminating")]),
        nodeport(50.2, 50.0, "n1", "refused"),
        target(60, 59, "n1", "draining"),
    ]


def test_refused_nodeport_means_the_pod_was_gone() -> None:
    found = detect(fold(FoldState(), facts_of(refused_look())))
    assert [w.cls for w in found] == ["pod-gone-before-deregistered"]


def test_node_not_ready_class() -> None:
    obs = [
        service(0),
        node(0, "n1"),
        nodeport(1, None, "n1", "connected"),
        target(1, None, "n1", "healthy", "ADDED"),
        eps(1, [("p1", "n1", "ready")]),
        node(30, "n1", ready=False),
        nodeport(30.5, 30.4, "n1", "timeout"),
        target(45, 44, "n1", "unhealthy"),
    ]
    found = detect(fold(FoldState(), facts_of(obs)))
    assert [w.cls for w in found] == ["node-not-ready"]


def test_overlapping_uncertainty_gives_an_uncertain_window() -> None:
    # The LB registered somewhere in (10, 15]; forwarding opened in (11, 12]: maybe a window.
    obs = [
        service(0),
        node(0, "n1"),
        nodeport(1, None, "n1", "timeout"),
        eps(10, [("p1", "n1", "ready")]),
        nodeport(12, 11, "n1", "connected"),
        target(15, 10, "n1", "healthy", "ADDED"),
    ]
    found = detect(fold(FoldState(), facts_of(obs)))
    assert len(found) == 1
    assert not found[0].certain and found[0].duration_min_s == 0
    assert (found[0].start_earliest_us, found[0].end_latest_us) == (us(10), us(12))


def test_inferred_when_only_the_watch_exists() -> None:
    # No probes, no LB data: proxy from endpoints + lag, LB from service-controller Events.
    obs = [
        service(0),
        node(0, "n1"),
        pod(10, "p1", "n1", "ready"),
        eps(10, [("p1", "n1", "ready")]),
        pod(40, "p1", "n1", "terminating", deleted_at=40),
        eps(40, [("p1", "n1", "terminating")]),
        pod(41, "p1", "n1", "gone", deleted_at=40),
        eps(41, []),
    ]
    settings = DetectSettings(proxy_lag_max_s=1.0, ccm_lag_min_s=2.0, ccm_lag_max_s=5.0)
    found = detect(fold(FoldState(), facts_of(obs)), settings=settings)
    # kube-proxy opens by 11 s, the CCM registers no earlier than 12 s: no opening window;
    # the pod is gone at 41 s, the CCM deregisters no earlier than 42 s after 40 s. It stopped
    # after the update at 40 s that saw it up (written from a stamp's second before it, as
    # replay.podsup reads it: replay.unseen `_stopped`), at the latest when the one at 41 s
    # said so.
    assert [w.cls for w in found] == ["pod-gone-before-deregistered"]
    assert found[0].provenance == "inferred"
    assert (found[0].start_earliest_us, found[0].start_latest_us) == (us(39), us(41))


def test_health_only_with_pte_keeps_terminating_pods_serving() -> None:
    def run(version: str) -> list[str]:
        obs = [
            service(0),
            node(0, "n1", version=version),
            pod(1, "p1", "n1", "ready"),
            eps(1, [("p1", "n1", "ready")]),
            health(2, None, "n1", 1),
            target(3, None, "n1", "healthy", "ADDED"),
            pod(20, "p1", "n1", "terminating", deleted_at=20, prestop=30),
            eps(20, [("p1", "n1", "terminating")]),
            health(20.5, 20.4, "n1", 0),
            target(30, 29, "n1", "draining"),
            pod(50, "p1", "n1", "gone", deleted_at=20, prestop=30),
            eps(50, []),
        ]
        return [w.cls for w in detect(fold(FoldState(), facts_of(obs)))]

    assert run("v1.20.0") == ["closed-before-deregistered"]
    assert run("v1.29.0") == []


def test_a_probe_answer_describes_when_it_was_sent() -> None:
    # A timeout is known one second after the probe was sent; the state it saw is the send time.
    obs = [
        service(0),
        node(0, "n1"),
        nodeport(1, None, "n1", "connected", latency_ms=2),
        target(1, None, "n1", "healthy", "ADDED"),
        eps(1, [("p1", "n1", "ready")]),
        eps(20, [("p1", "n1", "terminating")]),
        nodeport(22, 20.5, "n1", "timeout", latency_ms=1000),
        target(30, 25, "n1", "draining"),
    ]
    (window,) = detect(fold(FoldState(), facts_of(obs)))
    assert (window.start_earliest_us, window.start_latest_us) == (us(20.5), us(21))


@pytest.mark.parametrize(("last_look", "opened"), [(1, 29.5), (59, 30.5)])
def test_an_excursion_between_two_samples_is_reported_as_possible(
    last_look: float, opened: float
) -> None:
    # The probe saw "connected" at 1 s and 60 s, but the endpoints show the node had no ready
    # endpoint from 30 to 32 s: kube-proxy may have closed unseen. Looked at only at 1 s and
    # 60 s, the gap may have opened at the loss, which kube-proxy's own watch may have
    # delivered up to the watch skew (0.5 s) before the recorder's (29.5 s; the slice carries
    # no write time to narrow it). Looked at every second (the sample
    # names its previous look 59 s), a gap no look saw was shorter than that period plus the
    # watch skew (0.5 s), and kube-proxy opened only after the return (32 s): from 30.5 s.
    obs = builders.unseen_excursion(last_look)
    # one lag measurement is too few to replace the assumed bound, stated here: 2 s
    settings = DetectSettings(proxy_lag_max_s=2.0)
    (window,) = detect(fold(FoldState(), facts_of(obs)), settings=settings)
    assert not window.certain
    assert window.start_earliest_us == us(opened)
    # back at 32 s plus the kube-proxy lag: the assumed 2 s either way (the slices' first
    # listing at 1 s is no change to measure a lag from: docs/semantics.md, rule AJ)
    assert window.end_latest_us == us(34)


def test_the_lb_fails_open_when_every_target_is_unhealthy() -> None:
    # n1 serves; n2's probe times out; both targets go unhealthy at 20 s: AWS then routes to
    # both, so n2 is a gap until n1 is healthy again at 40 s.
    obs = [
        service(0),
        node(0, "n1"),
        node(0, "n2"),
        nodeport(1, None, "n1", "connected"),
        nodeport(1, None, "n2", "timeout"),
        target(1, None, "n1", "healthy", "ADDED"),
        target(1, None, "n2", "unhealthy", "ADDED"),
        target(20, 19, "n1", "unhealthy"),
        target(40, 39, "n1", "healthy"),
    ]
    (window,) = detect(fold(FoldState(), facts_of(obs)))
    assert window.node == "n2" and window.certain
    assert (window.start_earliest_us, window.start_latest_us) == (us(19), us(20))
    assert (window.end_earliest_us, window.end_latest_us) == (us(39), us(40))


def test_an_unseen_gap_under_pte_is_shorter_than_the_probe_period() -> None:
    # kube-proxy 1.29 (PTE always on). p1 terminates at 20 s and is replaced by p2; the health
    # check says 503 from 20.5 s and 200 again at 23 s (still 503 at 22 s), before the watch
    # shows p2 ready (23.5 s). p1 was seen gone at 24 s: it may have died before p2 was
    # programmed, a gap the NodePort probe (every second, always connected) did not see. That
    # gap is shorter than a probe period (plus 0.5 s of watch skew): it ends by the 200 and
    # starts after the last 503 less that; before, the whole excursion (20 s to p2's return
    # plus the assumed lag) was a possible window.
    obs = [
        service(0),
        node(0, "n1"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        health(1, None, "n1", 1),
        target(1, None, "n1", "healthy", "ADDED"),
        pod(20, "p1", "n1", "terminating", deleted_at=20),
        eps(20, [("p1", "n1", "terminating")]),
        health(20.5, 19.5, "n1", 0),
        pod(21, "p2", "n1", "ready", revision="bbb"),
        health(23, 22, "n1", 1),
        eps(23.5, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(24, "p1", "n1", "gone", deleted_at=20),
        eps(24, [("p2", "n1", "ready")]),
    ]
    obs += [nodeport(t, t - 1 if t > 1 else None, "n1", "connected") for t in range(1, 61)]
    obs.sort(key=lambda o: o.observed_at)
    settings = DetectSettings(proxy_lag_max_s=2.0)
    (window,) = detect(fold(FoldState(), facts_of(obs)), settings=settings)
    assert not window.certain
    assert (window.start_earliest_us, window.end_latest_us) == (us(20.5), us(23))


@pytest.mark.parametrize("skew_s", [0.5, 3.0])
def test_kube_proxy_closing_first_is_not_reclassified_by_a_later_endpoint_change(
    skew_s: float,
) -> None:
    """The lab's NODE2 window (sigkill, seed 1, on a loaded machine): the LB kept the node
    healthy throughout; the old pod started terminating, kube-proxy (ProxyTerminatingEndpoints
    off before 1.26) stopped forwarding to it and its health answer fell to 0 local endpoints, and
    only then did the new pod become ready and kube-proxy open again. The window opened with
    kube-proxy closing, whose cause (the terminating pod) was seen before it: a watch skew as wide
    as the gap to the next EndpointSlice change must not make its class
    registered-before-forwarding (the look past the start is for windows the LB opened).
    The gate is stated off: on 1.25 it may have been enabled, and the health check's 503 alone
    would leave the window possible (tests/replay/test_gate_doubt.py)."""
    obs = [
        service(0),
        node(0, "n1", version="v1.25.4"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        health(2, None, "n1", 1),
        target(3, None, "n1", "healthy", "ADDED"),
        health(62.6, 61.6, "n1", 1),
        pod(63, "p1", "n1", "terminating", deleted_at=63, prestop=10),
        eps(63, [("p1", "n1", "terminating")]),
        health(64.6, 63.6, "n1", 1),
        health(65.6, 64.6, "n1", 0),
        pod(67, "p2", "n1", "ready", revision="bbb"),
        eps(67, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        health(69.8, 68.8, "n1", 0),
        health(70.8, 69.8, "n1", 1),
        target(80, 79, "n1", "healthy"),
    ]
    settings = DetectSettings(watch_skew_s=skew_s, proxy_terminating_endpoints=False)
    found = detect(fold(FoldState(), facts_of(obs)), settings=settings)
    assert [(w.cls, w.certain) for w in found] == [("closed-before-deregistered", True)]
    (window,) = found
    assert us(64.6) <= window.start_latest_us <= us(65.6)
    assert us(69.8) <= window.end_latest_us <= us(70.8)
