"""A terminating pod's death after kube-proxy without PTE dropped it (docs/semantics.md "The sixth
spent set read").

Random 17,000,396 node-002's shape (the window at 00:05:08): kube-proxy 1.25 (no
ProxyTerminatingEndpoints), a DaemonSet rolled twice, an endpoint-driven CCM polled every
second, the health check probed every 2 s. p1 turns terminating; kube-proxy syncs it (the
health check answers 503 counting no ready local endpoint), then programs p2. Later p2 turns
terminating too and kube-proxy drops it (the close that opens the window, before the LB's
drain); p1, terminating all along, is seen stopped inside the start's range. Without PTE
kube-proxy never forwards to a terminating endpoint, and its 503 showed it had synced p1's
termination: p1's death took no traffic and did not open the window, kube-proxy's close did.

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers (/healthz of the Service's healthCheckNodePort), DescribeTargetHealth answers."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.model import Window
from tests.replay.builders import at, eps, facts_of, health, node, pod, service, target

PGBD, CBD = "pod-gone-before-deregistered", "closed-before-deregistered"


def _rollouts(synced_at_12: bool) -> list[Observation]:
    """n1 on kube-proxy 1.25: p1 ready, terminating at 10 s; p2 listed ready at 13.8 s,
    terminating at 30 s; p1 seen stopped at 30.54 s (finishedAt 30 s). The health check every
    2 s: 200 (1 local endpoint) through 10 s; at 12 s 503 counting 0 when `synced_at_12` (else
    still 200 counting 1); 200 counting 1 from 16 s; 503 counting 0 from 32 s. The LB polled
    every second: healthy through 33 s, draining from 34 s."""
    obs = [
        service(0),
        node(0, "n1", version="v1.25.16"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        pod(10.0, "p1", "n1", "terminating", deleted_at=10, grace=60),
        eps(10.3, [("p1", "n1", "terminating")]),
        pod(10.5, "p2", "n1", "pending", revision="bbb"),
        pod(13.5, "p2", "n1", "ready", revision="bbb"),
        eps(13.8, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(30.0, "p2", "n1", "terminating", revision="bbb", deleted_at=30),
        eps(30.35, [("p1", "n1", "terminating"), ("p2", "n1", "terminating")]),
        pod(30.54, "p1", "n1", "gone", deleted_at=10, grace=60, finished=30),
    ]
    prev = None
    for t in range(2, 60, 2):
        if t <= 10:
            local = 1
        elif t <= 14:
            local = 0 if synced_at_12 else 1
        elif t <= 30:
            local = 1
        else:
            local = 0
        obs.append(health(t, prev, "n1", local))
        prev = t
    obs.append(target(1, None, "n1", "healthy", "ADDED", check_port=32999))
    for t in range(2, 60):
        obs.append(
            target(
                t, t - 1, "n1", "healthy" if t <= 33 else "draining", "OBSERVED", check_port=32999
            )
        )
    return obs


#: ProxyTerminatingEndpoints configured off (random 17,000,396's probes showed it off)
PTE_OFF = DetectSettings(proxy_terminating_endpoints=False)


def _second_window(observations: list[Observation], settings: DetectSettings = PTE_OFF) -> Window:
    """The window on n1 that holds 30.5 s (p2's termination; one at p1's is another)."""
    ordered = sorted(observations, key=lambda o: o.observed_at)
    found = detect(fold(FoldState(), facts_of(ordered)), settings=settings)
    t = to_micros(at(30.5))
    (window,) = [w for w in found if w.node == "n1" and w.start_earliest_us <= t < w.end_latest_us]
    return window


def test_a_terminating_pods_death_after_kube_proxy_dropped_it_did_not_open_the_window() -> None:
    w = _second_window(_rollouts(synced_at_12=True))
    assert w.cls == CBD


def test_without_the_health_checks_word_the_death_is_still_read() -> None:
    # no answer between p1's termination and the window says kube-proxy had synced it
    w = _second_window(_rollouts(synced_at_12=False))
    assert w.cls == PGBD


def test_a_versions_default_is_no_proof_that_pte_was_off() -> None:
    # 1.25's default is off, but the gate may have been turned on (random 12,000,368: it was,
    # and kube-proxy forwarded to the terminating pod until it died)
    w = _second_window(_rollouts(synced_at_12=True), DetectSettings())
    assert w.cls == PGBD
