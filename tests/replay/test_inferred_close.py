"""Without any kube-proxy probe, a window with no local pod up is the dead pod's rules only
while kube-proxy may still have had them (replay/inferred_close.py; docs/semantics.md,
"Without any probes: confident classes (session 38, branch s38-noprobe)").

The shapes of random 34,000,000-'s certain windows read `pod-gone-before-deregistered` naming
nothing, true `closed-before-deregistered` (128 of the set's 142 certain wrong windows naming
nothing): the LB fails open (every target unhealthy, AWS) and routes to a node that never had a
local pod (117), or whose endpoint left (or never was listed ready) more than kube-proxy's lag
bound before (8), or within it (3: either reading holds). And of its `pod-gone-before-deregistered`
windows read `registered-before-forwarding` (10 certain): a ready pod crashes, its kubelet's
update saying so (finishedAt) is seen seconds later, F falls at the reported death with the
endpoints still listed ready.

Session 40 (rules SG and IL, replay/reported_death.py; docs/semantics.md, "Certain classes
without any probe, the twenty-third set"): such a late report of a serving-terminating pod's
death on kube-proxy 1.28+, where the gate is GA, and of a crash soon after the EndpointSlices'
initial list listed the pod.

Literal observations as the API server returns them (Node, Pod, EndpointSlice) and the LB
poller's DescribeTargetHealth answers every 5 s; no kube-proxy probe."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from tests.replay.builders import at, eps, node, pod, polled, service, target, windows_of

POLLS = [5.0 * k for k in range(1, 80)]


def _cluster(
    n1: Callable[[float], str],
    n2: Callable[[float], str],
    *more: Observation,
    version: str = "v1.29.3",
) -> list[Window]:
    """n1 and n2 (kube-proxy `version`), p2 ready on n2 from 1 s; the LB polled every 5 s, n1's
    target in state `n1(t)`, n2's `n2(t)`; `more`: n1's pods and the slices. n1's windows."""
    return [
        w
        for w in windows_of(
            [
                service(0),
                node(0, "n1", version=version),
                node(0, "n2", version=version),
                pod(1, "p2", "n2", "ready"),
                target(1, None, "n1", n1(1), "ADDED"),
                target(1, None, "n2", n2(1), "ADDED"),
                *polled("n1", [1.0, *POLLS], n1, 31805),
                *polled("n2", [1.0, *POLLS], n2, 31805),
                *more,
            ]
        )
        if w.node == "n1"
    ]


def _opened_at(windows: Sequence[Window], t: float) -> Window:
    """The window whose start range holds `t` seconds."""
    (w,) = [w for w in windows if w.start_earliest_us <= to_micros(at(t)) <= w.start_latest_us]
    return w


def _n2_fails_from(t0: float) -> Callable[[float], str]:
    return lambda t: "healthy" if t < t0 else "unhealthy"


def test_a_node_that_never_had_a_pod_is_kube_proxys_close() -> None:
    # n1 never had a local pod (unhealthy, not routed); n2's p2 crashes at 98 s and n2's
    # target turns unhealthy from 100 s: the LB fails open and routes to n1, whose kube-proxy
    # never had a local endpoint to forward to (it DROPs). main: a certain pod-gone naming nothing
    windows = _cluster(
        lambda t: "unhealthy",
        _n2_fails_from(100),
        eps(1, [("p2", "n2", "ready")]),
        pod(99, "p2", "n2", "pending", finished=98),
        eps(99.5, [("p2", "n2", "unready")]),
    )
    w = _opened_at(windows, 97.5)
    assert w.certain
    assert w.cls == "closed-before-deregistered"
    assert w.also == ()


def _crashed_on_n1(n2_fails: float) -> list[Window]:
    """p1 ready on n1 from 1 s, crashed at 30 s (reported at 31 s, dropped from the slice at
    31.5 s); the LB saw n1 unhealthy from 45 s; n2's target unhealthy from `n2_fails` s."""
    return _cluster(
        lambda t: "healthy" if t < 45 else "unhealthy",
        _n2_fails_from(n2_fails),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
        pod(31, "p1", "n1", "pending", finished=30),
        eps(31.5, [("p1", "n1", "unready"), ("p2", "n2", "ready")]),
    )


def test_rules_surely_removed_before_the_lb_failed_open_are_kube_proxys_close() -> None:
    # the LB fails open from 150 s, 118.5 s after the endpoint left (kube-proxy's lag bound
    # 60 s, the watch skew 0.5 s): the dead pod's rules were gone. main: pod-gone
    windows = _crashed_on_n1(150)
    assert _opened_at(windows, 30).cls == "pod-gone-before-deregistered"  # the crash itself
    w = _opened_at(windows, 147.5)
    assert w.cls == "closed-before-deregistered"
    assert w.also == ()


def test_a_fail_open_inside_the_lag_bound_names_both() -> None:
    # the control: the LB fails open from 70 s, 38.5 s after the endpoint left, inside the
    # lag bound: the rules may still have stood (pod-gone, the likelier) or not (named). main:
    # pod-gone naming nothing
    w = _opened_at(_crashed_on_n1(70), 67.5)
    assert w.cls == "pod-gone-before-deregistered"
    assert w.also == ("closed-before-deregistered",)


def _late_report(endpoint: str, version: str = "v1.29.3") -> list[Window]:
    """p1 on n1 listed ready from 1 s (with `endpoint` terminating: deleted at 80 s, listed
    serving-terminating from 80.2 s); its container stops at 90 s, the kubelet's update saying
    so (finishedAt 90 s) seen at 95 s, the slice dropping it at 95.5 s; the LB saw n1
    draining from 100 s. Both nodes' kube-proxy `version`."""
    listed = [eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")])]
    if endpoint == "terminating":
        listed += [
            pod(80, "p1", "n1", "terminating", deleted_at=80),
            eps(80.2, [("p1", "n1", "terminating"), ("p2", "n2", "ready")]),
        ]
    return _cluster(
        lambda t: "healthy" if t < 100 else "draining",
        lambda t: "healthy",
        pod(1, "p1", "n1", "ready"),
        *listed,
        pod(95, "p1", "n1", "gone", finished=90),
        eps(95.5, [("p2", "n2", "ready")]),
        version=version,
    )


def test_a_crash_its_kubelet_reported_late_is_the_pods_death() -> None:
    # the endpoint ready from 1 s, longer than kube-proxy's lag bound (60 s) before its
    # death (finishedAt), seen 5 s later: kube-proxy forwarded to it when it died. main: a
    # certain registered-before-forwarding naming nothing
    (w,) = _late_report("ready")
    assert w.certain
    assert w.cls == "pod-gone-before-deregistered"


def test_a_terminating_endpoint_under_the_ga_gate_is_the_pods_death() -> None:
    """kube-proxy 1.29: ProxyTerminatingEndpoints is GA (KEP-1669), no gate to turn off, so
    kube-proxy forwarded to p1 listed serving-terminating (as ready before its sync of the
    deletion, as serving-terminating after) until it died: its death, reported (finishedAt 90
    s) 5 s before the update was seen, opened the window. The shape of random 36,000,734
    node-001 (1.29) and 36,000,508 node-002 (1.31) without probes, true
    `pod-gone-before-deregistered`. main: `closed-before-deregistered`."""
    (w,) = _late_report("terminating")
    assert w.certain
    assert w.cls == "pod-gone-before-deregistered"


def test_a_terminating_endpoint_under_a_default_gate_is_read_as_before() -> None:
    # the control: kube-proxy 1.27, the gate on by default only (it could have been turned
    # off, and kube-proxy then closed at its sync of the deletion): read as before
    (w,) = _late_report("terminating", "v1.27.16")
    assert w.cls == "closed-before-deregistered"


def _crash_reported_late(listed_from: float) -> list[Window]:
    """p1 on n1 listed ready from `listed_from` s (the slices' initial list at 1 s lists only
    n2's p2 where it is later), its container crashed at 30 s (finishedAt), the kubelet's
    update saying so seen at 35 s, the slice listing it not ready at 35.5 s; the LB saw n1
    healthy from its first poll after the listing to 45 s."""
    first = [("p2", "n2", "ready")]
    listed = [("p1", "n1", "ready"), *first]
    slices = [eps(1, listed)] if listed_from <= 1 else [eps(1, first), eps(listed_from, listed)]
    return _cluster(
        lambda t: "healthy" if listed_from < t < 45 else "unhealthy",
        lambda t: "healthy",
        pod(listed_from, "p1", "n1", "ready"),
        *slices,
        pod(35, "p1", "n1", "pending", finished=30),
        eps(35.5, [("p1", "n1", "unready"), *first]),
    )


def test_a_crash_soon_after_the_initial_list_is_the_pods_death() -> None:
    """The endpoint came with the EndpointSlices' initial list (1 s): the state the recording
    found, which the inferred F already reads as programmed before it (replay.unseen
    `backdated`), not a listing kube-proxy may still have had to program. Its crash at 30 s
    (finishedAt), seen 5 s late, opened the window. The shape of random 36,000,131 node-001
    (a crash 60.1 s into the recording) and 36,000,369 node-001 (54.1 s) without probes, true
    `pod-gone-before-deregistered`. main: a certain `registered-before-forwarding` naming
    nothing (the listing not seen for kube-proxy's lag bound, 60 s, before the death)."""
    w = _opened_at(_crash_reported_late(1), 30)
    assert w.certain
    assert w.cls == "pod-gone-before-deregistered"


def test_a_crash_soon_after_a_listing_seen_is_read_as_before() -> None:
    # the control: p1 listed at 10 s, after the initial list: kube-proxy may not yet have
    # programmed it when the LB routed there (its lag bound 60 s), as before
    w = _opened_at(_crash_reported_late(10), 30)
    assert w.cls == "registered-before-forwarding"
