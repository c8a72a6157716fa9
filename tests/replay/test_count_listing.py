"""A replacement shown programmed by the health check's count of a version that listed it
(replay.podsup `_count_shows`; docs/semantics.md, "Uncertain false windows, session 26").

No NodePort probe (the recorder's default for a LoadBalancer Service): F is read from the
health-check node port and ANDed with "a local pod was up and programmed" (rule B). A
replacement that came up beside the old pod was read as programmed only from a count that
rose after a 503, else from its Ready plus the EndpointSlice controller's and kube-proxy's lag
bounds (60 s assumed): a rollout step whose old pod died before that left a possible
`pod-gone-before-deregistered` window of up to a minute. kube-proxy hands its health server
the count of ready local endpoints of the version it synced (`localEndpoints`), so a count
that only versions listing the replacement had shows it programmed.

Random 122 node-002's shape (`benchmarks/uncertain_false.py --without-nodeport`: a 110 s
possible window holding no true one): the slice listed the replacement beside the old pod (2
ready), then the old one terminating (1); the health check counted 2, then 1; the old pod
died 4 s later. The control is random 22,000,052 node-002's: a count of 2 that was another
new pod's (three pods, two of them dying), which must not close the gap.

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers (the Service's healthCheckNodePort, with `localEndpoints`), DescribeTargetHealth
answers; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.fold import FoldState, fold, sorted_lane
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay.builders import at, eps, facts_of, health, one_node, pod, target, windows_of


def _counts(counted: dict[float, int], until: int = 40) -> list[Observation]:
    """The health check every second from 2 s, counting `counted[t]` ready local endpoints at
    the looks from t on (1 before the first)."""
    out = []
    now = 1
    for t in range(2, until + 1):
        now = counted.get(t, now)
        out.append(health(t, t - 1 if t > 2 else None, "n1", now))
    return out


def _rollout(counted: dict[float, int]) -> list[Window]:
    """The rollout of `rollout` with the health check counting `counted` (`_counts`)."""
    return [w for w in windows_of(rollout(_counts(counted))) if w.node == "n1"]


def rollout(looks: list[Observation]) -> list[Observation]:
    """n1 (kube-proxy 1.29) with p1; its replacement p2 pending from 5 s, Ready at 6.4 s and
    listed beside p1 at 6.5 s (2 ready), p1 deleted at 6.6 s and listed terminating at 6.7 s
    (1 ready); p1's container stops at 11 s (finishedAt), seen at 11.4 s, and the slice drops
    it at 11.6 s. The LB, polled every 2 s, routes to n1 throughout. `looks`: the prober's."""
    return [
        *one_node(),
        *looks,
        *[target(t, t - 2, "n1", "healthy") for t in range(3, 41, 2)],
        pod(5, "p2", "n1", "pending"),
        pod(6.4, "p2", "n1", "ready"),
        eps(6.5, [("p1", "n1", "ready"), ("p2", "n1", "ready")]),
        pod(6.6, "p1", "n1", "terminating", deleted_at=6.6),
        eps(6.7, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(11.4, "p1", "n1", "gone", deleted_at=6.6, finished=11),
        eps(11.6, [("p2", "n1", "ready")]),
    ]


def test_a_count_only_the_replacements_listing_had_shows_it_programmed() -> None:
    # the health check counted 2 at 8 s: only the version of 6.5 s listed 2 ready (p1 and
    # p2), so kube-proxy had programmed p2 by then, 3 s before p1 died: no gap possible
    assert _rollout({8: 2, 9: 1}) == []


def test_a_count_every_version_had_leaves_the_gap_possible() -> None:
    # the health check counted 1 throughout: p1's (kube-proxy still at the version before
    # 6.5 s) or p2's (at the one of 6.7 s); had kube-proxy synced neither by p1's death, the
    # node had nothing to forward to: the window stays possible (session 24)
    (window,) = _rollout({})
    assert not window.certain and window.cls == PGBD
    assert window.start_earliest_us <= to_micros(at(11))


def test_the_fold_keeps_a_count_that_changed_under_the_same_status() -> None:
    # 200 counting 1, 2, 2, 1: the repeat is a heartbeat, the two changes are kept
    obs = [
        health(t, t - 1 if t > 2 else None, "n1", n) for t, n in ((2, 1), (3, 2), (4, 2), (5, 1))
    ]
    state = fold(FoldState(), facts_of(obs))
    ((_, lane),) = state.probes["health"].items()
    assert [(s.value, s.num) for s in sorted_lane(lane)] == [("200", 1), ("200", 2), ("200", 1)]


def _three_pods(count_at_11: int) -> list[Window]:
    """Random 22,000,052 node-002's shape: n1 with p1; p2 Ready at 5 s and listed at 5.1 s (2
    ready), p3 Ready at 5.2 s and listed at 5.3 s (3), p2 deleted at 5.4 s (2 ready: p1, p3) and
    p1 at 5.5 s (1: p3); p1 and p2 stop at 10 s (finishedAt), seen at 10.4 s, dropped from the
    slice at 10.6 s. The health check counts 2 at 7 s (kube-proxy synced the version of 5.1 s:
    p1 and p2), then `count_at_11` at 11 s, then 1 from 12 s; the LB routes to n1 throughout."""
    obs = [
        *one_node(),
        *_counts({7: 2, 11: count_at_11, 12: 1}),
        *[target(t, t - 2, "n1", "healthy") for t in range(3, 41, 2)],
        pod(4, "p2", "n1", "pending"),
        pod(4, "p3", "n1", "pending"),
        pod(5, "p2", "n1", "ready"),
        eps(5.1, [("p1", "n1", "ready"), ("p2", "n1", "ready")]),
        pod(5.2, "p3", "n1", "ready"),
        eps(5.3, [("p1", "n1", "ready"), ("p2", "n1", "ready"), ("p3", "n1", "ready")]),
        pod(5.4, "p2", "n1", "terminating", deleted_at=5.4),
        eps(5.45, [("p1", "n1", "ready"), ("p2", "n1", "terminating"), ("p3", "n1", "ready")]),
        pod(5.5, "p1", "n1", "terminating", deleted_at=5.5),
        eps(
            5.55, [("p1", "n1", "terminating"), ("p2", "n1", "terminating"), ("p3", "n1", "ready")]
        ),
        pod(10.4, "p1", "n1", "gone", deleted_at=5.5, finished=10),
        pod(10.4, "p2", "n1", "gone", deleted_at=5.4, finished=10),
        eps(10.6, [("p3", "n1", "ready")]),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_count_another_new_pods_version_had_shows_nothing() -> None:
    # the 2 at 7 s fits the version of 5.1 s (p1 and p2), which did not list p3; the 3 at
    # 11 s only the version of 5.3 s had (p1, p2 and p3): p3 was programmed between p1's and
    # p2's death and that look, so the gap is possible up to it and no further
    (window,) = _three_pods(count_at_11=3)
    assert not window.certain and window.cls == PGBD
    assert window.start_earliest_us <= to_micros(at(10))
    assert to_micros(at(10.9)) <= window.end_latest_us <= to_micros(at(11.5))
