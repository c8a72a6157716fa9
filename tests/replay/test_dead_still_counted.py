"""The health check counting a dead pod's ready endpoint keeps a gap open until the count falls
(replay.stillcounted; docs/semantics.md, "The eleventh set's detector gaps (session 28, branch
s28-misses)").

No NodePort probe (the recorder's default for a LoadBalancer Service): F is read from the
health-check node port. Random 24,000,840 node-002's shape (1.29, ProxyTerminatingEndpoints
on): the old pod terminating and up, its replacement listed ready, then the replacement's
container dies (a crash: the Pod back to pending, finishedAt reported). kube-proxy still holds
the version listing the replacement ready, so it forwards to it and not to the terminating pod
(KEP-1669: the terminating fallback only where no ready endpoint is held): a gap until it syncs
the version without it, which the health check shows as its count falling (200 counting 1, then
503 counting none). The unseen-gap rule ended the gap one look period after the death was seen,
as if the lane could see it; the health check cannot (it counts the dead endpoint).

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers (the Service's healthCheckNodePort, with `localEndpoints`), DescribeTargetHealth
answers; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.model import Window
from tests.replay.builders import covers, eps, health_looks, one_node, pod, target, windows_of

DIES, SEEN, SYNCED = 22.0, 22.4, 25.0
#: kube-proxy's lag bound as measured on such a cluster (random 24,000,840: 2.6 s)
MEASURED = DetectSettings(proxy_lag_max_s=3.0)


def _crash(third_ready: bool) -> list[Window]:
    """n1 (1.29): p1 deleted at 10 s (listed serving-terminating at 10.05 s), dead at 31 s
    (seen gone at 31.4 s, the slice without it from 31.5 s); p2 Ready at 20 s, listed ready at
    20.1 s, its container dead at 22 s (seen pending, with finishedAt, at 22.4 s; the slice
    without it ready from 22.6 s), restarted and Ready again at 36 s (listed at 36.1 s).
    kube-proxy (its lag bound measured, 3 s) syncs p2's death at 25 s and its return at 37 s:
    the health check, every 0.5 s, counts one ready endpoint until 25 s and from 37 s, none
    between (`third_ready`: p3, ready
    on n1 throughout, counted too). The LB, polled every 10 s, routes to n1."""
    p3 = [("p3", "n1", "ready")] if third_ready else []
    extra: list[Observation] = [pod(1, "p3", "n1", "ready", revision="ccc")] if third_ready else []

    def local(t: float) -> int:
        return (1 if t < SYNCED or t >= 37 else 0) + (1 if third_ready else 0)

    return [
        w
        for w in windows_of(
            [
                *one_node(),
                *extra,
                eps(1.05, [("p1", "n1", "ready"), *p3]),
                *health_looks("n1", [0.5 * k for k in range(3, 160)], local),
                *[target(t, t - 10, "n1", "healthy") for t in range(11, 81, 10)],
                pod(10, "p1", "n1", "terminating", deleted_at=10, grace=60),
                eps(10.05, [("p1", "n1", "terminating"), *p3]),
                pod(10, "p2", "n1", "pending", revision="bbb"),
                pod(20, "p2", "n1", "ready", revision="bbb"),
                eps(20.1, [("p1", "n1", "terminating"), ("p2", "n1", "ready"), *p3]),
                pod(SEEN, "p2", "n1", "pending", revision="bbb", finished=DIES),
                eps(22.6, [("p1", "n1", "terminating"), *p3]),
                pod(31.4, "p1", "n1", "gone", deleted_at=10, grace=60, finished=31),
                eps(31.5, p3),
                pod(36, "p2", "n1", "ready", revision="bbb", finished=DIES),
                eps(36.1, [("p2", "n1", "ready"), *p3]),
            ],
            MEASURED,
        )
        if w.node == "n1"
    ]


def test_a_dead_pods_endpoint_counted_keeps_the_gap_open_until_the_count_falls() -> None:
    # p2 dead by 22.4 s, counted until the 503 at 25 s: a window from the death to that look,
    # not ended at p2's listing plus kube-proxy's lag bound (23.1 s)
    assert covers(_crash(third_ready=False), SEEN, SYNCED - 0.1)


def test_another_ready_local_pod_counted_leaves_the_gap_to_the_lanes() -> None:
    # the control: p3 ready on n1 throughout: kube-proxy forwards to it too, no gap to extend
    assert not covers(_crash(third_ready=True), SEEN, SYNCED - 0.1)
