"""What the spent held-out set 11,000,000-11,000,999 showed (docs/semantics.md, "The spent
held-out set read (session 16)"): windows whose class the samples decide, or leave undecided,
and replay read as one other class. Literal observations shaped like the runs they were read
from (tests/replay/builders.py shapes; times in seconds)."""

from __future__ import annotations

from dataclasses import replace

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DEFAULTS
from gapwatch.replay.detect import _drop_seen, _went_down, detect
from gapwatch.replay.fold import FoldState, Sample, fold
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.opener import answered_in, went_down_silent
from gapwatch.replay.undecided import CBD, NNR, PGBD, RBF
from tests.replay.builders import (
    at,
    eps,
    facts_of,
    health,
    looks,
    node,
    nodeport,
    one_node,
    pod,
    target,
    two_nodes,
)

NO_PTE = "v1.25.16"  # ProxyTerminatingEndpoints alpha, off: terminating endpoints get no traffic


def _stopping(t: float, name: str) -> Observation:
    """A pod deleted at `t` that still serves: its Ready condition holds until the container
    stops (the EndpointSlice lists it serving-terminating, not ready)."""
    obs = pod(t, name, "n1", "terminating", deleted_at=t)
    status = {**obs.payload["status"], "conditions": [{"type": "Ready", "status": "True"}]}
    return replace(obs, payload={**obs.payload, "status": status})


def _endpoint_driven(obs: list[Observation]) -> list[Observation]:
    """`obs` with the LB of an endpoint-driven CCM, which checks the traffic port (the
    NodePort) rather than healthCheckNodePort."""
    return [
        replace(o, payload={**o.payload, "HealthCheckPort": "32999"})
        if o.kind == "TargetHealth"
        else o
        for o in obs
    ]


def _replaced(deleted: float, unlisted: float, ready: float, listed: float) -> list[Observation]:
    """n1 on a kube-proxy without PTE: p1 deleted at `deleted` (serving-terminating in the
    slice at `unlisted`), its replacement p2 pending from then, ready at `ready` and listed
    beside p1 at `listed`."""
    return [
        *one_node(NO_PTE),
        pod(deleted, "p1", "n1", "terminating"),
        pod(deleted, "p2", "n1", "pending"),
        eps(unlisted, [("p1", "n1", "terminating")]),
        pod(ready, "p2", "n1", "ready"),
        eps(listed, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
    ]


def _windows(obs: list[Observation]) -> list[Window]:
    ordered = sorted(obs, key=lambda o: o.observed_at)
    return detect(fold(FoldState(), facts_of(ordered)))


def _around(ws: list[Window], lo: float, hi: float) -> list[Window]:
    """The windows that meet [lo, hi] s."""
    first, last = to_micros(at(lo)), to_micros(at(hi))
    return [w for w in ws if w.start_earliest_us < last and w.end_latest_us > first]


def test_the_last_look_of_a_not_routing_run_is_the_next_samples_prev() -> None:
    # the lane keeps changes only: draining first seen at 90 s, last seen at 95 s (the healthy
    # sample's prev_us); a window from 95 s holds that look
    lane = [
        Sample(int(90e6), int(85e6), "draining", 1),
        Sample(int(100e6), int(95e6), "healthy", 2),
    ]
    at = [s.at_us for s in lane]
    assert _drop_seen(lane, at, at[1], int(95e6), int(100e6)) == int(95e6)
    assert _drop_seen(lane, at, at[1], int(95e6) + 1, int(100e6)) is None  # before the window


def test_the_lbs_return_after_a_drain_seen_at_the_start_opens_the_window() -> None:
    # random 11000087 node-004 (an endpoint-driven CCM, PTE): p1 serving-terminating; the LB
    # drains n1 (first seen at 90 s, last at 95 s) and is seen routing again at 100 s; p1 dies:
    # refused at 96 s, its rules gone by 98 s (timeout), p2 listed ready at 98.04 s and
    # programmed by 100 s. The gap opened with the LB's return somewhere in (95, 100] s, after
    # the death: read there it is `registered-before-forwarding`; the death stays named
    obs = [
        *one_node(),
        _stopping(88.4, "p1"),
        eps(88.5, [("p1", "n1", "terminating")]),
        pod(89.9, "p2", "n1", "pending"),
        target(90, 85, "n1", "draining"),
        *looks("n1", 80, 94, 2),
        nodeport(96, 94, "n1", "refused"),
        pod(95.98, "p1", "n1", "gone"),
        eps(96.0, []),
        nodeport(98, 96, "n1", "timeout"),
        pod(97.5, "p2", "n1", "ready"),
        eps(98.04, [("p2", "n1", "ready")]),
        target(100, 95, "n1", "healthy"),
        nodeport(100, 98, "n1", "connected"),
    ]
    [w] = _around(_windows(_endpoint_driven(obs)), 90, 101)
    assert not w.certain
    assert w.cls == RBF
    assert PGBD in w.also


def test_a_close_with_the_replacement_listed_through_the_start_is_registered_first() -> None:
    # random 11000141 node-006 (no PTE): p1 terminating (no traffic for it), p2 listed ready at
    # 98.475 s; kube-proxy closes between the looks at 99 s and 100 s (timeout) and opens at
    # 101 s; the LB routed all along. At the window's start the endpoints were ready: the
    # replacement was listed and not yet programmed, whatever the LB's drop lag
    obs = [
        *_replaced(96.7, 97.855, 98.4, 98.475),
        *looks("n1", 90, 99, 1),
        nodeport(100, 99, "n1", "timeout"),
        nodeport(101, 100, "n1", "connected"),
        target(95, 1, "n1", "healthy"),
        target(110, 95, "n1", "healthy"),
        pod(120, "p1", "n1", "gone"),
        eps(120.1, [("p2", "n1", "ready")]),
    ]
    [w] = _around(_windows(obs), 95, 105)
    assert (w.cls, w.certain) == (RBF, False)


def test_a_close_whose_start_range_holds_the_replacements_listing_names_both() -> None:
    # random 11000797 node-002 (no PTE): p1 terminating at 98.97 s, p2 listed ready at 100.58 s;
    # connected at 100 s, timeout at 102 s and 104 s (503 at 103 s), connected at 106 s. The
    # close lies in (100, 102] s: before the listing it is `closed-before-deregistered`, after
    # it the listed replacement is not yet programmed
    obs = [
        *_replaced(98.79, 98.97, 100.53, 100.58),
        *looks("n1", 90, 100, 2),
        nodeport(102, 100, "n1", "timeout"),
        nodeport(104, 102, "n1", "timeout"),
        nodeport(106, 104, "n1", "connected"),
        health(97, None, "n1", 1),
        health(103, 97, "n1", 0),
        health(106, 103, "n1", 1),
        target(95, 1, "n1", "healthy"),
        target(110, 95, "n1", "healthy"),
        pod(129, "p1", "n1", "gone"),
        eps(129.1, [("p2", "n1", "ready")]),
    ]
    [w] = _around(_windows(obs), 95, 110)
    assert w.certain
    assert w.cls == CBD
    assert RBF in w.also


def test_the_reading_before_a_seen_drain_names_its_unordered_close() -> None:
    # random 11000785 node-003 (no PTE): p1 terminating (listed at 101.36 s, kube-proxy drops
    # it), seen gone at 101.8 s; timeout at 102 s; the LB draining at 104 s and back at 109 s;
    # p2 listed ready at 106.02 s, connected at 108 s. Before the drain the gap opened with p1's
    # death or kube-proxy's close, which nothing orders
    obs = [
        *one_node(NO_PTE),
        _stopping(101.04, "p1"),
        pod(101.08, "p2", "n1", "pending"),
        eps(101.36, [("p1", "n1", "terminating")]),
        pod(101.8, "p1", "n1", "gone"),
        eps(101.85, []),
        pod(105.46, "p2", "n1", "ready"),
        eps(106.02, [("p2", "n1", "ready")]),
        *looks("n1", 90, 100, 2),
        nodeport(102, 100, "n1", "timeout"),
        nodeport(104, 102, "n1", "timeout"),
        nodeport(106, 104, "n1", "timeout"),
        nodeport(108, 106, "n1", "connected"),
        health(98, None, "n1", 1),
        health(103, 98, "n1", 0),
        health(108, 103, "n1", 1),
        target(99, 1, "n1", "healthy"),
        target(104, 99, "n1", "draining"),
        target(109, 104, "n1", "healthy"),
    ]
    obs = _endpoint_driven(obs)
    [w] = _around(_windows(obs), 95, 110)
    assert not w.certain
    assert {PGBD, CBD} <= {w.cls, *w.also}


def test_the_lbs_return_against_a_fall_not_yet_sure_names_both() -> None:
    # random 11000838 node-002 (PTE, probes every 5 s that all connected): the LB drains n1
    # (96 s) and is back at 102 s (last drained look 100 s); p1 dies (100.11 s), p2 is listed
    # ready at 100.33 s. kube-proxy's programming of p2 is bounded only by its lag: its fall
    # may lie after the LB's return or before it; the return first leaves p2 unprogrammed
    obs = [
        *one_node(),
        _stopping(95.5, "p1"),
        pod(95.5, "p2", "n1", "pending"),
        eps(95.64, [("p1", "n1", "terminating")]),
        target(96, 94, "n1", "draining"),
        pod(100.11, "p1", "n1", "gone"),
        eps(100.08, []),
        pod(100.18, "p2", "n1", "ready"),
        eps(100.33, [("p2", "n1", "ready")]),
        target(102, 100, "n1", "healthy"),
        *looks("n1", 80, 130, 5),
    ]
    ws = [w for w in _around(_windows(_endpoint_driven(obs)), 98, 110) if not w.certain]
    assert ws
    assert all(RBF in (w.cls, *w.also) for w in ws)


def test_a_node_marked_down_seen_up_to_the_watch_skew_late_went_down_at_the_start() -> None:
    # random 11000880 node-001 at 0.1 s / 1 s: the node stops answering between the NodePort
    # looks at 100 s and 101 s, its endpoints still ready; the node controller marks it NotReady
    # 50 s after (node-monitor-grace-period), the update seen 0.2 s later through the watch
    timeouts = [nodeport(t, t - 1, "n1", "timeout") for t in range(101, 161)]
    obs = [
        *one_node(),
        *looks("n1", 90, 100, 1),
        *timeouts,
        target(90, 1, "n1", "healthy"),
        eps(150.66, []),
        node(151.2, "n1", ready=False),
        target(153.2, 152.2, "n1", "draining"),
    ]
    [w] = _around(_windows(obs), 95, 160)
    assert w.certain
    assert w.cls == NNR


def test_a_node_that_refused_after_the_start_did_not_go_down_at_it() -> None:
    # random 11000991 node-001 at 0.1 s / 1 s: the node is drained, its pod dies while still
    # listed ready (until 102.43 s) and kube-proxy's rules stay (refused from 101 s); the node
    # answers 503 at 106.4 s, then stops answering and is marked NotReady at 116.37 s, inside
    # the grace. The refused connections are the node's own answer: it was up at the start
    refused = [nodeport(t, t - 1, "n1", "refused") for t in range(101, 106)]
    obs = [
        *one_node(),
        _stopping(99.5, "p1"),
        pod(101.5, "p1", "n1", "gone"),
        *looks("n1", 90, 100, 1),
        *refused,
        nodeport(106, 105, "n1", "timeout"),
        eps(102.43, []),
        health(95, None, "n1", 1),
        health(106.4, 95, "n1", 0),
        health(116.7, 106.4, "n1", None),
        node(116.37, "n1", ready=False),
        target(90, 1, "n1", "healthy"),
        target(120.5, 119.5, "n1", "draining"),
    ]
    [w] = _around(_windows(obs), 95, 125)
    assert w.certain
    assert w.cls == PGBD


def test_a_health_check_that_answered_200_after_the_start_was_not_unreachable() -> None:
    # random 12000447 node-003 at 0.1 s / 1 s (spent set 12,000,000-): the node is drained, its
    # pod dies while still listed ready and kube-proxy's rules stay (refused from 100.1 s); the
    # health check goes on answering 200 every second until 112.7 s and times out from 113.8 s,
    # the node marked down at 112.89 s, inside the grace. The lane keeps its changes only: the
    # check after the start is not the timeout sample but a 200 look before it (its prev_us)
    checks = [health(t, t - 1 if t > 90 else None, "n1", 1) for t in range(90, 113)]
    obs = [
        *one_node(),
        _stopping(96, "p1"),
        pod(101.96, "p1", "n1", "gone"),
        *looks("n1", 90, 100, 0.5),
        nodeport(100.1, 100, "n1", "refused"),
        nodeport(112.8, 112.7, "n1", "timeout"),
        *checks,
        health(112.7, 112, "n1", 1),
        health(113.8, 112.7, "n1", None),
        node(112.89, "n1", ready=False),
        eps(113.2, []),
        target(90, 1, "n1", "healthy"),
        target(118.3, 117.3, "n1", "draining"),
    ]
    [w] = _around(_windows(obs), 99, 119)
    assert w.certain
    assert w.cls == PGBD


def test_a_close_whose_endpoint_left_within_the_watch_skew_after_is_closed_first() -> None:
    # random 12000053 node-001 (spent set 12,000,000-; 12000404 node-002 is the same shape):
    # 1.24 without PTE, an endpoint-driven CCM, kube-proxy probed every 0.1 s. p1 is deleted
    # at 99.8 s (still serving); kube-proxy drops its traffic (timeout from 100.1 s), and the
    # recorder sees the slice list p1 serving-terminating at 100.17 s, 0.07 s after the close:
    # kube-proxy read that change before the recorder's watch showed it. The LB is seen
    # draining at 100.8 s. The endpoints were not ready behind the close:
    # `closed-before-deregistered`, not a replacement listed and not yet programmed
    obs = [
        *one_node("v1.24.17"),
        _stopping(99.8, "p1"),
        *looks("n1", 95, 100, 0.1),
        nodeport(100.1, 100.0, "n1", "timeout"),
        eps(100.17, [("p1", "n1", "terminating")]),
        target(98.8, 96.8, "n1", "healthy"),
        target(100.8, 98.8, "n1", "draining"),
        pod(124.8, "p1", "n1", "gone"),
        eps(125.12, []),
    ]
    ws = _around(_windows(_endpoint_driven(obs)), 100, 101)
    assert ws
    assert all(w.cls == CBD for w in ws)


def test_a_health_check_run_answered_past_the_start_is_not_a_silent_node() -> None:
    # random 831 node-005 at 0.1 s / 1 s (a node with no local endpoint: 503 every 0.1 s until
    # 5.3 s, then timeouts; Unknown at 44.34 s) and 12000726 node-001 (200 from 4 s, last seen
    # at 9 s, a timeout at 15 s; Unknown at 51.02 s, the start read at 8.65 s). The lane keeps
    # its changes only: the answered run goes on to the timeout sample's prev_us, after the
    # start, so the node was up then and went down later
    grace = int(50e6)
    health = [Sample(int(-60e6), None, "503", 1), Sample(int(5.4e6), int(5.3e6), "timeout", 2)]
    node_lane = [Sample(int(-60e6), None, "Ready", 3), Sample(int(44.34e6), None, "Unknown", 4)]
    assert answered_in(health, int(1e6), int(44.34e6))
    assert not went_down_silent(health, node_lane, int(1e6), grace)
    assert went_down_silent(health, node_lane, int(5.35e6), grace)  # no answer after 5.3 s
    health = [
        Sample(int(-60e6), None, "200", 1),
        Sample(int(-1e6), int(-6e6), "503", 2),
        Sample(int(4e6), int(-1e6), "200", 3),
        Sample(int(15e6), int(9e6), "timeout", 4),
    ]
    node_lane = [Sample(int(-60e6), None, "Ready", 5), Sample(int(51.02e6), None, "Unknown", 6)]
    assert not went_down_silent(health, node_lane, int(8.65e6), grace)
    assert went_down_silent(health, node_lane, int(9.5e6), grace)


def test_a_nodeport_run_answered_past_the_start_is_not_a_node_gone_at_it() -> None:
    # `_went_down` reads the same runs: the NodePort connected from 60 s before the start until
    # 9 s after it (the timeout sample's prev_us), the Node marked Unknown at 45 s, inside the
    # grace: the node was up after the start, so it did not go down at it
    state = FoldState()
    svc = ServiceRef("c1", "default", "web")
    state.nodes[("c1", "n1")] = [
        Sample(int(-60e6), None, "Ready", 1),
        Sample(int(45e6), None, "Unknown", 2),
    ]
    ports = [Sample(int(-60e6), None, "connected", 3), Sample(int(10e6), int(9e6), "timeout", 4)]
    assert not _went_down(state, svc, "n1", 0, int(100e6), DEFAULTS, (ports,))
    assert _went_down(state, svc, "n1", int(9.5e6), int(100e6), DEFAULTS, (ports,))


def test_a_node_that_answered_503_inside_the_start_range_names_the_missing_endpoint() -> None:
    # random 12000817 node-004 (spent set 12,000,000-): n1 has no local endpoint (NodePort
    # timeouts, health check 503; refused once while kube-proxy's health server restarted).
    # n2 turns unhealthy between the polls at 90 s and 100 s: every target unhealthy, the LB
    # fails open and routes to n1 from somewhere in (90, 100] s. n1's Node is deleted at 99.66 s,
    # so the window read at its latest start is `node-not-ready`; but n1 answered 503 at 92 s,
    # inside the start range: a gap that began there was its missing endpoint's
    refused = health(86, 83, "n1", None)
    refused = replace(refused, payload={**refused.payload, "error": "refused"})
    obs = [
        *two_nodes(),
        *looks("n2", 1, 120, 5),
        nodeport(1, None, "n1", "timeout"),
        health(1, None, "n1", 0),
        refused,
        health(92, 89, "n1", 0),
        target(90, 80, "n2", "healthy"),
        target(100, 90, "n2", "unhealthy"),
        target(100, 90, "n1", "draining"),
        replace(node(99.66, "n1"), op="DELETED"),
    ]
    [w] = [w for w in _around(_windows(obs), 90, 100) if w.node == "n1"]
    assert not w.certain
    assert w.cls == NNR
    assert CBD in w.also


def test_a_gap_both_looks_saw_before_a_seen_drain_is_read_there() -> None:
    # random 13000029 node-004 (spent set 13,000,000-; an endpoint-driven CCM, PTE, probes every
    # 5 s, polls every 10 s): p1 crashes at about 93.3 s. At 95 s the NodePort is refused (its
    # rules left, no pod behind them) and the LB's poll at the same instant sees n1 healthy: a
    # gap then. The LB drains n1 (seen at 105 s) and takes it back by 115 s; p1 restarts, is
    # listed ready at 107.6 s and connects at 110 s. Rule A reads a window after a seen drain
    # (the LB's return: `registered-before-forwarding`); here the gap seen before the drain was
    # the dead pod's, and the return after it stays named
    obs = [
        *one_node(),
        *looks("n1", 80, 90, 5),
        pod(93.9, "p1", "n1", "pending"),
        eps(94.0, []),
        nodeport(95, 90, "n1", "refused"),
        nodeport(100, 95, "n1", "timeout"),
        pod(107.0, "p1", "n1", "ready"),
        eps(107.6, [("p1", "n1", "ready")]),
        nodeport(110, 105, "n1", "connected"),
        target(85, 75, "n1", "healthy"),
        target(95, 85, "n1", "healthy"),
        target(105, 95, "n1", "draining"),
        target(115, 105, "n1", "healthy"),
    ]
    [w] = _around(_windows(_endpoint_driven(obs)), 90, 115)
    assert not w.certain
    assert w.cls == PGBD
    assert RBF in w.also


def test_the_lbs_return_against_the_dead_pods_rules_going_away_names_both() -> None:
    # random 13000900 node-001 (spent set 13,000,000-; an endpoint-driven CCM, PTE, probes every
    # 5 s, polls every 10 s): the LB drains n1 (seen at 100 s) as p1 terminates; p1 dies
    # (seen gone at 101.35 s), its rules still refused at 105 s; p2 is listed ready at 105.72 s
    # and connects at 110 s, when the LB is seen routing again. The return lies in (100, 110] s
    # and the dead pod's rules went away in (105, 110] s: before their removal the return opened
    # `pod-gone-before-deregistered`, after it (p2 listed, not yet programmed)
    # `registered-before-forwarding`; nothing orders the two
    obs = [
        *one_node("v1.26.15"),
        *looks("n1", 80, 100, 5),
        _stopping(99.45, "p1"),
        # the seed's other nodes kept ready endpoints (here p9 on n2): the Service was never
        # without one, so the refusal at 105 s is no REJECT (replay.rejected)
        eps(99.5, [("p1", "n1", "terminating"), ("p9", "n2", "ready")]),
        pod(99.5, "p2", "n1", "pending"),
        pod(101.35, "p1", "n1", "gone"),
        eps(101.55, [("p9", "n2", "ready")]),
        pod(102.92, "p2", "n1", "ready"),
        eps(105.72, [("p2", "n1", "ready"), ("p9", "n2", "ready")]),
        nodeport(105, 100, "n1", "refused"),
        nodeport(110, 105, "n1", "connected"),
        target(90, 80, "n1", "healthy"),
        target(100, 90, "n1", "draining"),
        target(110, 100, "n1", "healthy"),
    ]
    [w] = _around(_windows(_endpoint_driven(obs)), 100, 110)
    assert not w.certain
    assert w.cls == PGBD
    assert RBF in w.also


def test_a_node_deletion_seen_just_after_the_drain_it_caused_is_the_nodes_going_down() -> None:
    # random 13000325 node-002 at 0.1 s / 1 s (spent set 13,000,000-; node-driven): n1 stops at
    # 0 s; the NodePort times out from 0.1 s (the look before, at 0 s, connected), the LB drains
    # it at 0.9 s (the CCM dropping the deleted node: the window ends there) and the Node's
    # deletion is seen at 1.21 s, 0.31 s after that end, inside the watch skew. The drain may be
    # the CCM's reaction to that deletion, so `_went_down` reads the Node's mark up to the
    # watch skew past the window's end; a mark later than that is not read
    state = FoldState()
    svc = ServiceRef("c1", "default", "web")
    state.nodes[("c1", "n1")] = [
        Sample(int(-60e6), None, "Ready", 1),
        Sample(int(1.21e6), None, "Deleted", 2),
    ]
    ports = [Sample(int(-60e6), None, "connected", 3), Sample(int(0.1e6), 0, "timeout", 4)]
    at_, until = int(0.1e6), int(0.9e6)
    assert _went_down(state, svc, "n1", at_, until, DEFAULTS, (ports,))
    state.nodes[("c1", "n1")][1] = Sample(int(1.5e6), None, "Deleted", 2)  # past the skew
    assert not _went_down(state, svc, "n1", at_, until, DEFAULTS, (ports,))
