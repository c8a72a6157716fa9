"""A local pod that died while kube-proxy still counted it (replay.counted; docs/semantics.md,
"Without NodePort probes", rule F).

Random 181 node-002's shape (`accuracy.py --without-nodeport --explain`: read
closed-before-deregistered, truth pod-gone-before-deregistered): kube-proxy 1.24, whose
ProxyTerminatingEndpoints gate is off by default and may have been turned on, so F over a
serving-terminating pod is only possible; no NodePort probe (the recorder's default for a
LoadBalancer Service). The pod is deleted, its container stops 2 s later (finishedAt), and the
health check goes on answering 200 counting one ready local endpoint for a second after the
update saying the pod stopped: kube-proxy had not yet synced the endpoint's loss, so its rules
still sent the LB's connections to the pod when it died. The gap opened with the death, the
rules in place, whatever the gate: nothing for kube-proxy's close to have come first.

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers (the Service's healthCheckNodePort), DescribeTargetHealth answers; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.counted import counted_dead
from gapwatch.replay.fold import FoldState, fold, lb_facing, sorted_lane
from gapwatch.replay.model import ServiceRef, Window
from tests.replay.builders import at, eps, facts_of, health, node, pod, service, target, windows_of

PGBD, CBD = "pod-gone-before-deregistered", "closed-before-deregistered"


def _deleted(last_counted: float) -> list[Window]:
    """n1 on kube-proxy 1.24 with one pod p1, deleted at 10 s (grace 30 s) and
    serving-terminating in the slice from 10.05 s; its container stops at 12 s (finishedAt)
    and the update saying so is seen at 13 s, the slice dropping it at 13.2 s. The health
    check every 0.5 s answers 200 counting 1 ready local endpoint through `last_counted`,
    then 503 counting none. The LB, polled every 2 s, routes to n1 through 18 s and is seen
    failing it at 20 s."""
    obs = [
        *_p1_deleted(last_counted),
        pod(13, "p1", "n1", "gone", deleted_at=10, finished=12),
        eps(13.2, []),
        target(1, None, "n1", "healthy", "ADDED"),
        *[target(t, t - 2, "n1", "healthy") for t in range(3, 19, 2)],
        target(20, 18, "n1", "unhealthy"),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def _p1_deleted(last_counted: float) -> list[Observation]:
    """n1 (kube-proxy 1.24) with p1, deleted at 10 s, and the health check every 0.5 s from
    2 s, counting one ready local endpoint through `last_counted`, then none."""
    obs = [
        service(0),
        node(0, "n1", version="v1.24.17"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        eps(10.05, [("p1", "n1", "terminating")]),
    ]
    looks = [k / 2 for k in range(4, 50)]
    obs += [health(t, t - 0.5 if t > 2 else None, "n1", int(t <= last_counted)) for t in looks]
    return obs


def test_a_pod_counted_after_it_died_opened_the_window() -> None:
    # the last look counting p1 at 14 s, after its death (finishedAt 12 s, seen stopped at 13 s)
    (window,) = _deleted(last_counted=14.0)
    assert window.certain
    assert window.cls == PGBD
    assert window.also == ()  # decided: kube-proxy had not closed when the pod died


def test_a_pod_no_longer_counted_before_it_died_stays_undecided() -> None:
    # kube-proxy answered 503 counting none from 10.5 s: it synced the loss before the death,
    # which, with the gate off (its default on 1.24), closed the node first; the gate may have
    # been on, keeping the terminating pod forwarded until it died
    (window,) = _deleted(last_counted=10.0)
    assert window.cls == CBD
    assert window.also == (PGBD,)


def _state_with(p2: list[Observation]) -> tuple[FoldState, ServiceRef]:
    """The same n1 (the health check counting one endpoint through 14 s, p1 seen stopped at
    13 s, finishedAt 12 s), plus `p2`'s updates on n1."""
    obs = [*_p1_deleted(14.0), *p2, pod(13, "p1", "n1", "gone", deleted_at=10, finished=12)]
    ordered = sorted(obs, key=lambda o: o.observed_at)
    state = fold(FoldState(), facts_of(ordered))
    (svc,) = lb_facing(state)
    return state, svc


def _counted(p2: list[Observation]) -> bool:
    state, svc = _state_with(p2)
    lane = sorted_lane(state.probes["health"][(svc, "n1")])
    start = (to_micros(at(10)), to_micros(at(13)))
    return counted_dead(
        state, svc, "n1", lane, start, clock_us=1_000_000, status_us=3_000_000,
        skew_us=500_000, lag_hi_us=60_000_000,
    )  # fmt: skip


def _replacement(ready_at: float) -> list[Observation]:
    """p2, pending from 10.5 s, ready at `ready_at` (listed 0.1 s later)."""
    return [
        pod(10.5, "p2", "n1", "pending", revision="bbb"),
        pod(ready_at, "p2", "n1", "ready", revision="bbb"),
        eps(ready_at + 0.1, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
    ]


def test_the_count_is_a_dead_pods_only_where_no_live_one_can_hold_it() -> None:
    # p2 ready at 11 s: the one endpoint counted at 14 s may be p2's, not the dead p1's
    assert not _counted(_replacement(11.0))
    # p2 ready only at 20 s, after the last look counting one: that one was p1
    assert _counted(_replacement(20.0))
    # p2 ready at 11 s crashed too (finishedAt 12 s, seen at 12.8 s): whichever of the two
    # the look at 14 s counted, it was a dead pod's: kube-proxy still forwarded to one
    crashed = [
        *_replacement(11.0),
        pod(12.8, "p2", "n1", "pending", revision="bbb", finished=12),
        eps(13.5, [("p1", "n1", "terminating"), ("p2", "n1", "stopped")]),
    ]
    assert _counted(crashed)
