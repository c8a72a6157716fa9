"""A window the LB's rise opened while kube-proxy may still have forwarded to a dead
serving-terminating pod (replay.leftover; docs/semantics.md, "Without NodePort probes", rule G).

Random 5,000,833's shape (`accuracy.py --without-nodeport --explain`: read
closed-before-deregistered with nothing else named, truth pod-gone-before-deregistered): no
NodePort probe (the recorder's default for a LoadBalancer Service), a pod with a long preStop
is deleted, the LB drains the node on its failing health check, the pod dies, the EndpointSlice
drops its endpoint, and 3 s later the LB starts routing to the node again because every target
is unhealthy (failing open). With ProxyTerminatingEndpoints kube-proxy forwarded to the
serving-terminating endpoint and removes it only when it syncs that drop, some lag later: the
LB's rise may have met its rules with no pod behind them as well as no rules at all.

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers (the Service's healthCheckNodePort), DescribeTargetHealth answers; times in seconds."""

from __future__ import annotations

from collections.abc import Sequence

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.model import Window
from tests.replay.builders import (
    at,
    eps,
    health,
    pod,
    proxy_metrics,
    ready_pair,
    target,
    windows_of,
)

PGBD, CBD = "pod-gone-before-deregistered", "closed-before-deregistered"


def _fails_open(
    n2_failing: float,
    version: str,
    settings: DetectSettings = DEFAULTS,
    extra: Sequence[Observation] = (),
) -> Window:
    """n1 and n2 (kube-proxy `version`), p1 on n1 and p2 on n2. p1 is deleted at 10 s (preStop
    28 s) and serving-terminating from 10.05 s; the health check of n1, every 0.5 s, answers
    200 counting one ready local endpoint through 10 s, then 503 counting none. The LB, polled
    every 2 s, sees n1 unhealthy from 13 s and n2 from `n2_failing` (then every target is unhealthy:
    it routes to both). p1's container stops at 30 s (finishedAt), seen at 31 s; the slice
    drops its endpoint at 38 s. The window on n1 that opens with the LB's rise (with the gate
    stated off, the one before it, from kube-proxy's close at 10.5 s, is another)."""
    obs: list[Observation] = [
        *ready_pair(1, version),
        pod(10, "p1", "n1", "terminating", deleted_at=10, grace=60, prestop=28),
        eps(10.05, [("p1", "n1", "terminating"), ("p2", "n2", "ready")]),
        pod(31, "p1", "n1", "gone", deleted_at=10, grace=60, prestop=28, finished=30),
        eps(38, [("p2", "n2", "ready")]),
        *extra,
    ]
    polls = range(3, 160, 2)
    obs += [target(t, t - 2, "n1", "healthy" if t < 13 else "unhealthy") for t in polls]
    obs += [target(t, t - 2, "n2", "healthy" if t < n2_failing else "unhealthy") for t in polls]
    looks = [k / 2 for k in range(4, 320)]
    obs += [health(t, t - 0.5 if t > 2 else None, "n1", int(t <= 10)) for t in looks]
    ours = [w for w in windows_of(obs, settings) if w.node == "n1"]
    (window,) = [w for w in ours if w.start_latest_us > to_micros(at(30))]
    return window


def test_a_rise_soon_after_the_dead_pods_endpoint_left_names_its_rules() -> None:
    # kube-proxy 1.27 (the gate on by default, may be off) and 1.29 (GA): the rise at 39-41 s,
    # 1-3 s after the drop, within kube-proxy's lag bound (60 s: none measured)
    for version in ("v1.27.16", "v1.29.3"):
        window = _fails_open(41, version)
        assert window.cls == CBD
        assert window.also == (PGBD,)


def test_a_rise_past_kube_proxys_lag_bound_names_nothing() -> None:
    # the rise at 99-101 s: kube-proxy had synced the drop by then, whatever its lag
    assert _fails_open(101, "v1.27.16").also == ()


def test_a_gate_stated_off_names_nothing() -> None:
    # without the gate kube-proxy dropped the terminating endpoint at its 503 (10.5 s)
    off = DetectSettings(proxy_terminating_endpoints=False)
    assert _fails_open(41, "v1.27.16", off).also == ()


def test_a_gate_kube_proxy_states_off_in_its_metrics_names_nothing() -> None:
    """kube-proxy states its gates in its own metrics (`kubernetes_feature_enabled`, from
    1.26): scraped once before anything happened, off reads as the setting stated off; on, the
    dead pod's rules are named beside kube-proxy's close as under the version's default; a
    page without the gate's sample changes nothing."""

    def scraped(gate: bool | None) -> list[Observation]:
        return [proxy_metrics(1.5, node, gate) for node in ("n1", "n2")]

    assert _fails_open(41, "v1.27.16", extra=scraped(False)).also == ()
    assert _fails_open(41, "v1.27.16", extra=scraped(None)).also == (PGBD,)
    assert _fails_open(41, "v1.27.16", extra=scraped(True)).also == (PGBD,)
