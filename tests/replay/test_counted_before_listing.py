"""A replacement's programming shown by a health-check 200 seen a little before the recorder
saw the slice list it (replay.podsup; docs/semantics.md, "Uncertain false windows, session 27").

No NodePort probe (the recorder's default for a LoadBalancer Service): F is read from the
health-check node port and ANDed with "a local pod was up and programmed" (rule B). A pod that
came up during the recording is surely forwarded to from the first health-check 200 after a
503 (a look that counted no ready local endpoint) from its listing on, else only kube-proxy's
lag bound (60 s assumed) after that listing. kube-proxy and the recorder are separate watch
clients: the version listing the pod may reach kube-proxy, be programmed and be counted before
the recorder's watch delivers it, up to the watch skew (`watch_skew_s`) after its write. The
200 that came inside that skew before the listing's lane time was not read, and a rollout step
whose old pod died within the assumed minute read as a possible `pod-gone-before-deregistered`
window (random 135 node-001 and node-003 without the probes: a 503 while the old pod was
terminating, a 200 0.07 s and 0.5 s before the replacement's listing was seen, the old pod's
death 0.6 s and 1.5 s after that 200 at the earliest: 5.9 s and 4.9 s possible windows, none
true).

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers (the Service's healthCheckNodePort, with `localEndpoints`), DescribeTargetHealth
answers; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay.builders import at, eps, health_looks, one_node, pod, target, windows_of


def _rollout(counted_at: float, extra: list[Observation] | None = None) -> list[Window]:
    """n1 (kube-proxy 1.29) with p1, deleted at 4 s and listed terminating at 4.05 s (no ready
    local endpoint: the health check answers 503 from 4.4 s); its replacement p2, pending from
    4 s, listed ready at 6.45 s and seen Ready at 6.5 s; p1's container stops at 9 s
    (finishedAt), seen at 9.4 s, and the slice drops it at 9.5 s. The health check looks every
    second at x.4 s and counts p2 from `counted_at`; the LB, polled every 2 s, routes to n1."""

    def local(t: float) -> int:
        return 1 if t < 4.4 or t >= counted_at else 0

    obs = [
        *one_node(),
        *health_looks("n1", [t + 0.4 for t in range(2, 40)], local),
        *[target(t, t - 2, "n1", "healthy") for t in range(3, 41, 2)],
        pod(4, "p1", "n1", "terminating", deleted_at=4),
        pod(4, "p2", "n1", "pending"),
        eps(4.05, [("p1", "n1", "terminating")]),
        eps(6.45, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(6.5, "p2", "n1", "ready"),
        pod(9.4, "p1", "n1", "gone", deleted_at=4, finished=9),
        eps(9.5, [("p2", "n1", "ready")]),
        *(extra or []),
    ]
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_200_within_the_watch_skew_before_the_listing_shows_the_replacement() -> None:
    # the 503 at 5.4 s, the 200 at 6.4 s: 0.05 s before the recorder saw the version listing
    # p2, which kube-proxy may have had first; p2 was programmed by 6.4 s, p1 died at 8 s at
    # the earliest (finishedAt 9 s, the node's clock within a second): no gap possible
    assert _rollout(counted_at=6.4) == []


def test_a_200_after_the_listing_showed_it_already() -> None:
    # the same step with the 200 at 7.4 s, after the listing: programmed by then (session 24)
    assert _rollout(counted_at=7.4) == []


def test_a_200_earlier_than_the_watch_skew_is_another_versions() -> None:
    # p3 came up and was listed ready at 5 s (a version kube-proxy can have had), then went
    # terminating in the version that listed p2: the 503 -> 200 at 5.4 s counted p3, and every
    # look after it counted 1 (p3's version, or p2's): nothing shows p2 programmed before p1's
    # death, the gap stays possible
    extra = [
        pod(4.5, "p3", "n1", "pending"),
        pod(4.9, "p3", "n1", "ready"),
        eps(5.0, [("p1", "n1", "terminating"), ("p3", "n1", "ready")]),
        pod(6.0, "p3", "n1", "terminating", deleted_at=6.0),
        eps(
            6.45, [("p1", "n1", "terminating"), ("p3", "n1", "terminating"), ("p2", "n1", "ready")]
        ),
        pod(9.4, "p3", "n1", "gone", deleted_at=6.0, finished=9),
    ]
    (window,) = _rollout(counted_at=5.4, extra=extra)
    assert not window.certain and window.cls == PGBD
    assert window.start_earliest_us <= to_micros(at(9))
