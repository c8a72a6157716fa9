"""A pod the EndpointSlice listed ready before its own Ready was seen counts as up from that
listing where the health check's count rose after it (replay.podsup; docs/semantics.md "The
ninth spent set read", rule P).

The EndpointSlice controller lists an endpoint ready only while its Pod's Ready condition is
True, so the pod was Ready by its listing, whatever the Pod watch shows later; kube-proxy's
health check pushes its count of ready local endpoints after the sync that wrote them (the
design notes, section 6), so a 503 counting none, then a 200 counting one after that listing
is the pod programmed. Shaped like random 22,000,747 node-005 (the Pod's Ready seen 0.5 s after
the count rose; the replacement read as surely forwarded only its Ready plus the slice's and
kube-proxy's lags later, so an uncertain window reached back from kube-proxy's close at +31 s to
the registration and read `registered-before-forwarding` with nothing named, truth
`closed-before-deregistered`).

Literal observations: health-check answers every 0.5 s (no NodePort probe: the recorder's
default for a LoadBalancer Service), DescribeTargetHealth every second. Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from tests.replay import builders as b


def _joined(ready_seen: float, rose: float = 11.5) -> list[tuple[float, float]]:
    """p1 on n1 (kube-proxy 1.29), pending from 1 s, is listed ready at 11.14 s; its Pod's
    Ready is seen at `ready_seen`. The health check counts none before `rose`, one from it;
    the LB's first look, at 15 s, finds n1 registered and healthy. Each window on n1 as
    (earliest start, latest end), in seconds."""
    obs: list[Observation] = [
        b.service(0),
        b.node(0, "n1"),
        b.pod(1, "p1", "n1", "pending"),
        b.eps(1, []),
        b.eps(11.14, [("p1", "n1", "ready")]),
        b.pod(ready_seen, "p1", "n1", "ready"),
    ]
    obs += b.polled_healthy("n1", range(15, 90), 31805)
    obs += b.health_looks("n1", [k / 2 for k in range(2, 180)], lambda t: int(t >= rose))
    t0 = to_micros(b.at(0))
    return [
        ((w.start_earliest_us - t0) / 1e6, (w.end_latest_us - t0) / 1e6)
        for w in b.windows_of(obs)
        if w.node == "n1"
    ]


def test_a_count_rise_after_the_listing_is_the_pods_programming() -> None:
    # the Pod's Ready seen 0.86 s after the listing, 0.5 s after the count rose: F sure from
    # the 200 at 11.5 s, before the LB routed
    assert _joined(12.0) == []


def test_a_ready_seen_long_after_its_listing_is_dated_by_it() -> None:
    assert _joined(40.0) == []


def test_a_count_rise_before_the_listing_is_not_the_pods() -> None:
    # the count rose at 10 s, before any slice listed p1: not its programming (kube-proxy
    # programs only what the slices list), so the window from the registration stays
    assert _joined(12.0, rose=10.0) != []
