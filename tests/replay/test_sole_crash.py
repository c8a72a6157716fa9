"""The one ready local endpoint kube-proxy counted crashed before the sync that dropped it
(replay.solecrash; docs/semantics.md, "A sole counted endpoint's crash (session 36)").

The shape of random 32,000,221 node-002 (the nineteenth spent set's one detector gap with the
NodePort probes): a Deployment rollout on n1 (kube-proxy 1.29, ProxyTerminatingEndpoints GA),
the old pod p1 serving-terminating in a long preStop, its replacement p2 Ready and listed alone
as the node's ready endpoint; the health check, looked at every second (at 2.5, 3.5, ... s),
counts 1 (p2) at 100.5 s and 0 at 101.5 s; p2's container crashed at 100.6 s (its kubelet's
`lastState.terminated.finishedAt` 100 s, the Pod update saying so written in second 100 and
delivered by the watch only at 103.8 s), the slice version listing it not ready written in
second 100 and seen at 101.8 s, synced by kube-proxy at 101.2 s. No Pod update of p2
between its Ready one and the crash report: the readiness loss kube-proxy synced came from the
crash, so the node forwarded to the dead p2 alone from the crash until that sync. Every
NodePort look connects (from 101.5 s to p1, under the gate), every LB poll sees n1 healthy;
p2 restarts and is Ready again at 111.8 s, listed at 112.3 s.

Literal observations: p2 is a real Pod (tests/fixtures/k8s/k9s-pod-sidecar-kind.json, as
tests/replay/test_readiness_loss.py shapes its kubelet's updates: running not ready while
starting, Ready, CrashLoopBackOff with `lastState.terminated`); EndpointSlices, health-check
and NodePort answers as the recorder stores them (each look with the one before), the
controller's and the kubelet's writes stamped in `metadata.managedFields` as the API server
sets them; DescribeTargetHealth answers; times in seconds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from tests.replay import builders as b
from tests.replay.test_readiness_loss import kind_pod

PGBD = "pod-gone-before-deregistered"
LOOKS = [t + 0.5 for t in range(2, 121)]  # the health check and the NodePort every second


def _stamped(obs: Observation, second: int, manager: str) -> Observation:
    """`obs` as the API server stored it: `manager`'s write stamped in `second`."""
    entry = {
        "manager": manager,
        "operation": "Update",
        "time": b.at(second).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    meta = dict(obs.payload["metadata"], managedFields=[entry])
    return replace(obs, payload={**obs.payload, "metadata": meta})


def _us(seconds: float) -> int:
    return to_micros(b.at(seconds))


def _p2_starts() -> list[Observation]:
    """n1 (kube-proxy 1.29) with p1 ready and listed from 1 s; p2 starting at 96.8 s (running,
    not ready), Ready at 97.9 s."""
    return [
        b.service(0),
        b.node(0, "n1"),
        b.pod(1, "p1", "n1", "ready"),
        b.eps(1, [("p1", "n1", "ready")]),
        kind_pod(96.8, "unready", name="p2"),
        kind_pod(97.9, "ready", name="p2"),
    ]


def _p2_returns(
    counting: Callable[[float], int], nodeport: bool, crashed: int = 100
) -> list[Observation]:
    """p2 restarted (after its crash at `crashed`, its finishedAt) and Ready again at 111.8 s,
    listed at 112.3 s; the health check every second counting `counting(t)`, the NodePort
    connecting at every look (`nodeport`), the LB polling n1 healthy every 5 s."""
    return [
        kind_pod(111.8, "ready", crashed=crashed, name="p2"),
        b.eps(112.3, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        *b.health_looks("n1", LOOKS, counting),
        *(b.looks("n1", 2.5, 120.5, 1) if nodeport else []),
        *b.polled_healthy("n1", [float(t) for t in range(1, 122, 5)], 31805),
    ]


def _n1(
    *,
    dropped: float = 101.2,
    unready_at: float | None = None,
    p1_ready_until: float | None = None,
    nodeport: bool = True,
) -> list[Window]:
    """The windows on n1 (module docstring). `dropped`: when kube-proxy synced the version
    listing p2 not ready. `unready_at`: p2's kubelet reports it running and not ready then (a
    readiness probe failing before the crash). `p1_ready_until`: p1 is still listed ready beside
    p2 and deleted only then (a surge rollout): kube-proxy, counting one at every look before
    the crash, may hold the version listing p1 alone as well as p2's. `nodeport`: False, no
    NodePort looks (the recorder's default `nodeport: fallback` for a Service with a
    health-check node port)."""

    def counting(t: float) -> int:
        """p1 until its deletion was synced (96.3 s), none until p2 was (98.9 s), p2 until the
        sync of its crash (`dropped`), none until its return's (112.9 s); with p1 ready beside
        p2, one (p1, then p2) until `dropped`."""
        if p1_ready_until is not None:
            return int(t < dropped or t > 112.9)
        return 1 if t < 96.3 or 98.9 < t < dropped or t > 112.9 else 0

    obs = [
        *_p2_starts(),
        _stamped(kind_pod(103.8, "crashed", crashed=100, name="p2"), 100, "kubelet"),
        _stamped(b.eps(101.8, [("p1", "n1", "terminating"), ("p2", "n1", "unready")]), 100, "kcm"),
        *_p2_returns(counting, nodeport),
    ]
    if p1_ready_until is None:
        obs += [
            b.pod(96, "p1", "n1", "terminating", deleted_at=96, grace=60, prestop=50),
            b.eps(96.1, [("p1", "n1", "terminating")]),
            b.eps(98.7, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        ]
    else:
        obs += [
            b.eps(98.2, [("p1", "n1", "ready"), ("p2", "n1", "ready")]),
            b.pod(p1_ready_until, "p1", "n1", "terminating", deleted_at=p1_ready_until, prestop=50),
            b.eps(p1_ready_until + 0.2, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        ]
    if unready_at is not None:
        obs.append(kind_pod(unready_at, "unready", name="p2"))
    return [w for w in b.windows_of(obs) if w.node == "n1"]


def _handed_to_the_dead(
    *, nodeport: bool = True, crashed: int = 100, restarted: float | None = None
) -> list[Window]:
    """The windows on n1 in random 28,000,871 node-001's shape: p2 listed ready beside p1 at
    98.2 s (kube-proxy counting 2 from its sync at 98.9 s); p2's container crashes at 100.6 s
    (finishedAt 100 s) while p1 is still ready; p1 is deleted at 100.8 s and the slice lists it
    serving-terminating beside p2, still ready (the controller had not yet read the crash), at
    101 s, which kube-proxy syncs at 101.3 s: from then on it forwards to the dead p2 alone
    (count 1 at 101.5 s). The crash report and the slice listing p2 not ready are written in
    second 101 (seen at 103.8 s and 102.1 s), synced at 102.2 s: 503 counting none from 102.5
    s. `nodeport`: as `_n1`. `crashed`: p2's finishedAt, if not 100 s. `restarted`: the crash
    report is seen at 101.9 s instead, and an update then says p2's container running again
    (not ready), before the 503."""

    def counting(t: float) -> int:
        return 1 if t < 98.9 else 2 if t < 101.3 else 1 if t < 102.2 else 0 if t < 112.9 else 1

    obs = [
        *_p2_starts(),
        b.eps(98.2, [("p1", "n1", "ready"), ("p2", "n1", "ready")]),
        b.pod(100.8, "p1", "n1", "terminating", deleted_at=100.8, grace=60, prestop=50),
        b.eps(101, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        _stamped(
            kind_pod(103.8 if restarted is None else 101.9, "crashed", crashed=crashed, name="p2"),
            101,
            "kubelet",
        ),
        _stamped(b.eps(102.1, [("p1", "n1", "terminating"), ("p2", "n1", "unready")]), 101, "kcm"),
        *_p2_returns(counting, nodeport, crashed),
    ]
    if restarted is not None:
        obs.append(_stamped(kind_pod(restarted, "unready", crashed, name="p2"), 102, "kubelet"))
    return [w for w in b.windows_of(obs) if w.node == "n1"]


def test_a_crash_of_the_sole_counted_endpoint_before_its_sync_is_a_possible_gap() -> None:
    # finishedAt 100 s: p2 died in [99, 101) s (the node clock within 1 s, the crash report's
    # write by 101 s); the 200s counting p2 alone from 99.5 to 100.5 s, after a 503 counting
    # none at 98.5 s, the 503 counting none at 101.5 s: the death came before the sync that
    # dropped p2, the gap lies after the death and before that 503
    (window,) = _n1()
    assert not window.certain
    assert window.cls == PGBD
    assert b.covers([window], 100.6, 101.2)
    assert window.start_earliest_us >= _us(98.5)
    assert window.end_latest_us <= _us(101.5)


def test_a_crash_before_the_last_look_counting_it_is_a_possible_gap_from_its_run() -> None:
    # kube-proxy synced p2's not-ready listing only at 103.2 s: the looks to 102.5 s still
    # counted the dead p2 (random 28,000,871 node-001's shape); the death (by 101 s) lies
    # before that last look, after the look before the run that held p2 alone (98.5 s)
    (window,) = [w for w in _n1(dropped=103.2) if w.end_latest_us > _us(101.5)]
    assert not window.certain
    assert window.cls == PGBD
    assert b.covers([window], 100.6, 103.2)
    assert window.start_earliest_us >= _us(98.5)


def test_a_dead_pod_kube_proxy_moved_to_alone_is_a_possible_gap_from_the_look_before() -> None:
    # counting 2 at 100.5 s, 1 (p2, dead) at 101.5 s, none at 102.5 s: kube-proxy moved to the
    # version listing p2 alone after the 100.5 s look, so the gap may open right after it
    for nodeport in (True, False):
        (window,) = _handed_to_the_dead(nodeport=nodeport)
        assert not window.certain
        assert window.cls == PGBD
        assert b.covers([window], 101.3, 102.2)
        assert window.start_earliest_us >= _us(100.5)


def test_a_readiness_loss_seen_before_the_crash_is_no_gap() -> None:
    # p2's kubelet said it running and not ready at 100.55 s: the sync may have dropped a live
    # p2 before it crashed (kube-proxy then forwarded to p1, terminating and serving)
    assert _n1(unready_at=100.55) == []


def test_another_endpoint_kube_proxy_may_hold_alone_is_no_gap() -> None:
    # p1 listed ready beside p2 at 98.2 s, deleted at 98.5 s: every look counts one, and the
    # version listing p1 alone (p1 alive, serving) is among those kube-proxy can hold at 100.5 s
    assert _n1(p1_ready_until=98.5) == []
    assert _n1(p1_ready_until=98.5, nodeport=False) == []


def test_a_pod_dead_before_kube_proxy_moved_to_it_alone_is_a_gap_from_the_look_before() -> None:
    # random 36,000,033 node-001's shape without NodePort probes: p2 crashed at 98.3 s
    # (finishedAt 98 s: dead in [97, 100) s, surely before the look at 100.5 s that counted 2,
    # p1 and p2), and kube-proxy moved to the version listing the dead p2 alone only at 101.3 s
    # (count 1 at 101.5 s), until its sync of p2's loss (503 counting none at 102.5 s). The
    # move lies after the look counting 2: the gap may open right after it. On main the window
    # began at 101.5 s (p1 surely unforwarded from the look counting 1), after the gap's start
    (window,) = [
        w for w in _handed_to_the_dead(nodeport=False, crashed=98) if w.end_latest_us > _us(101.5)
    ]
    assert window.cls == PGBD
    assert b.covers([window], 101.3, 102.2)
    assert window.start_earliest_us == _us(100.5)


def test_a_pod_seen_again_before_the_503_is_no_gap_from_the_look_before() -> None:
    # the same with p2's crash reported at 101.9 s and its container running again at 102.2 s,
    # before the 503: the restarted container may have served under the rules that still name
    # p2, so the death before the move opens nothing before the look counting p2 alone
    windows = _handed_to_the_dead(nodeport=False, crashed=98, restarted=102.2)
    assert all(w.start_earliest_us >= _us(101.5) for w in windows if w.end_latest_us > _us(101.5))
