"""F read from the health check alone (no NodePort probe, the recorder's default for a
LoadBalancer Service) ends where the node's last local pod died, as its Pod object says
(replay.podsup): the health-check node port counts a dead pod's endpoint until the
EndpointSlice drops it and kube-proxy syncs, so its 200 does not show the death, and with
externalTrafficPolicy Local nothing else on the node serves. Shaped like random 1 node-001
(missed before, `accuracy.py --without-nodeport --misses`); times in seconds."""

from __future__ import annotations

from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay.builders import at, eps, health, one_node, pod, target, windows_of


def _drain(second: bool = False) -> list[Window]:
    """n1 (kube-proxy 1.29: PTE GA) with one pod p1, deleted at 20 s and serving-terminating
    from 20.1 s; p1's container stops at 22 s (finishedAt), its Pod update saying so seen at
    22.4 s, the slice drops it at 22.6 s. The health check, every 5 s, answers 200 at 5-20 s and
    503 at 25 s; the LB, polled every 2 s, routes to n1 until it is seen draining at 24 s.
    `second`: a second pod p2, ready on n1 from 2 s and listed throughout (the health check
    counts it at 25 s, and the LB keeps routing)."""
    p2 = [("p2", "n1", "ready")] if second else []
    obs = [
        *one_node(),
        *[health(t, t - 5 if t > 5 else None, "n1", 1) for t in (5, 10, 15, 20)],
        *[target(t, t - 2, "n1", "healthy", "OBSERVED") for t in range(3, 23, 2)],
        pod(20, "p1", "n1", "terminating", deleted_at=20),
        eps(20.1, [("p1", "n1", "terminating"), *p2]),
        pod(22.4, "p1", "n1", "gone", deleted_at=20, finished=22),
        eps(22.6, p2),
        target(24, 23, "n1", "healthy" if second else "draining"),
        health(25, 20, "n1", 1 if second else 0),
    ]
    if second:
        obs += [pod(2, "p2", "n1", "ready"), eps(2.1, [("p1", "n1", "ready"), *p2])]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_the_last_local_pods_death_opens_the_gap_the_health_check_does_not_show() -> None:
    # p1 died at 22 s (its kubelet's finishedAt, whole seconds, the node clock within 1 s):
    # from then until the LB stopped routing (by 24 s) nothing on n1 served
    (window,) = _drain()
    assert window.start_earliest_us <= to_micros(at(22))
    assert window.end_latest_us >= to_micros(at(23))
    assert window.cls == PGBD


def test_a_pod_still_up_on_the_node_keeps_it_serving() -> None:
    # p2 stayed up on n1: p1's death left the node serving
    assert _drain(second=True) == []


def _replaced(p2_ready: float, counted: bool = False) -> list[Window]:
    """n1 (kube-proxy 1.29) with one pod p1, deleted at 10 s (kube-proxy keeps forwarding to it,
    terminating), its container stopped at 12 s (finishedAt; seen at 13.1 s); its replacement
    p2 pending from 1 s before `p2_ready`, ready then, and the slice goes from p1 ready
    straight to p2 ready 0.2 s later (the node's endpoints never left ready). The health check,
    every 5 s, counts one ready local endpoint throughout (p1's, then p2's); the LB, polled
    every 2 s, routes to n1 throughout. `counted`: the health check looks every second from
    10 s, and counts none from 13 s (kube-proxy synced p1's stop) until 16 s."""
    looks = [health(t, t - 5 if t > 5 else None, "n1", 1) for t in range(5, 41, 5)]
    if counted:
        looks = [
            health(5, None, "n1", 1),
            *[health(t, t - 1, "n1", 0 if 13 <= t < 16 else 1) for t in range(6, 41)],
        ]
    obs = [
        *one_node(),
        *looks,
        *[target(t, t - 2, "n1", "healthy", "OBSERVED") for t in range(3, 41, 2)],
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        pod(p2_ready - 1, "p2", "n1", "pending"),
        pod(13.1, "p1", "n1", "gone", deleted_at=10, finished=12),
        pod(p2_ready, "p2", "n1", "ready"),
        eps(p2_ready + 0.2, [("p2", "n1", "ready")]),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_replacement_up_after_the_death_may_not_be_programmed_yet() -> None:
    # p2 came up at 14.8 s, after p1 died at 12 s (no pod up between: a sure gap); kube-proxy
    # forwarded to n1 again only once it programmed p2, which nothing shows (the health check
    # counted one endpoint throughout, p1's or p2's), up to its lag after the listing: the gap
    # may outlast p2's Ready
    (window,) = _replaced(14.8)
    assert window.certain
    assert window.start_earliest_us <= to_micros(at(12))
    assert window.end_latest_us >= to_micros(at(20))


def test_a_replacement_up_before_the_death_is_forwarded_to_once_programmed() -> None:
    # p2 came up at 8 s while p1 still ran, and the slice swapped them at 8.2 s: kube-proxy
    # forwarded to p1 until the sync that read the swap, to p2 after it. Had that sync come
    # after p1 died at 12 s (within kube-proxy's lag bound: none measured), nothing on n1
    # served in between; the count (one endpoint throughout) does not say when it came. A
    # possible window, never a certain one (this read as no window before session 24:
    # tests/replay/test_replacement_unprogrammed.py)
    (window,) = _replaced(8.0)
    assert not window.certain and window.cls == PGBD
    assert window.start_earliest_us <= to_micros(at(12)) <= window.start_latest_us


def test_a_count_that_rose_after_the_replacement_came_up_ends_the_gap() -> None:
    # the health check counted none at 13-15 s and one again at 16 s: that sync programmed p2
    (window,) = _replaced(14.8, counted=True)
    assert window.end_latest_us <= to_micros(at(16))
