"""A refused NodePort look taken in the same round as a health-check look that counted a ready
local endpoint (replay.counted_refusal `counted_through`, one look): at that instant kube-proxy
held one of the versions whose ready local count is the answer's, each with a ready endpoint,
so it REJECTed nothing and the refusal came from rules to a local pod that is gone. A version
between them that the count excludes (the terminating listing, none ready) is one kube-proxy
may pass through between two looks, never one it holds at a look that counted one.

The shape of random 33,000,775 node-001 (the twentieth spent set, "Classes on the twentieth
spent set"): kube-proxy 1.25 (the gate off, as its default), one replica replaced in place; a
slow kube-proxy still counted the old pod when it died under its rules, the NodePort refused
at the look whose health answer was the last to count it, and the replacement was listed ready
within the watch skew after that look (so the version listing it fits that count too). Literal
observations; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from tests.replay.builders import at, eps, facts_of, health_looks, nodeport, pod, service, target
from tests.replay.builders import node as node_obs

PGBD = "pod-gone-before-deregistered"
CBD = "closed-before-deregistered"
VERSION = "v1.25.16"


def at_us(seconds: float) -> int:
    return int(at(seconds).timestamp() * 1_000_000)


def _replaced(counted_until: float) -> list[Observation]:
    """p1, the Service's only pod, on n1 (a second node n2 runs none), ready from 1 s; deleted
    at 10 s (listed serving-terminating at 10.05 s); its container stops at 12.9 s (finishedAt
    12 s, seen gone at 13.2 s) and the slice drops it at 13.5 s; the replacement p2 on n1 is
    Ready at 14.2 s and listed ready at 14.3 s. n1's NodePort, looked at every 2 s, connects
    to 12 s, is refused at 14 s and connects again from 18 s; its health check, looked at in
    the same rounds, counts one ready local endpoint through `counted_until`, none after it
    until 18 s. The LB keeps n1 healthy throughout."""
    looks = [float(t) for t in range(2, 31, 2)]
    obs = [
        service(0),
        node_obs(0, "n1", version=VERSION),
        node_obs(0, "n2", version=VERSION),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        eps(10.05, [("p1", "n1", "terminating")]),
        pod(11, "p2", "n1", "pending", revision="bbb"),
        nodeport(2, None, "n1", "connected"),
        nodeport(14, 12, "n1", "refused"),
        nodeport(18, 16, "n1", "connected"),
        *health_looks("n1", looks, lambda t: 1 if t <= counted_until or t >= 18 else 0),
        pod(13.2, "p1", "n1", "gone", deleted_at=10, finished=12),
        eps(13.5, []),
        pod(14.2, "p2", "n1", "ready", revision="bbb"),
        eps(14.3, [("p2", "n1", "ready")]),
    ]
    return sorted(obs, key=lambda o: o.observed_at)


def _n1(obs: list[Observation]) -> list[tuple[str, tuple[str, ...]]]:
    """n1's windows that began by the refusal."""
    found = detect(fold(FoldState(), facts_of(obs)))
    return [(w.cls, w.also) for w in found if w.node == "n1" and w.start_us < at_us(16)]


def test_a_refusal_at_the_look_that_counted_the_pod_is_its_rules() -> None:
    """The health look at 14 s, the refused look's round, counted one: kube-proxy held p1's
    ready version or (listed 0.3 s after it, within the watch skew) p2's, never p1's
    terminating one between them, so no REJECT; the refusal is p1's rules after p1 died
    (main: read closed-before-deregistered with the dead pod's rules only named)."""
    [(cls, _also)] = _n1(_replaced(counted_until=14))
    assert cls == PGBD


def test_a_count_gone_at_the_refused_look_may_be_the_reject() -> None:
    """The control: the health look of the refused round already counted none (kube-proxy had
    synced p1's termination and, with the gate off, forwarded to nothing and REJECTed the
    Service without a usable endpoint): both readings stay named."""
    [(cls, also)] = _n1(_replaced(counted_until=12))
    assert {cls, *also} >= {CBD, PGBD}
