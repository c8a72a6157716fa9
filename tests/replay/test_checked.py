"""A node-driven LB's passed health checks prove kube-proxy forwarded first (replay.checked),
from literal observations (tests/replay/builders.py shapes; the poller's TargetGroupAttributes
as docs/observation.md describes it).

n1 gets its first local pod: p1 ready at 55 s, its EndpointSlice at 55 s. The NodePort probe
and the LB poll look every 30 s: the probe timed out at 60 s and connected at 90 s, the poll
saw n1 `unhealthy` at 60 s and `healthy` at 90 s. From the samples alone R may have risen
before F in (60 s, 90 s]: an uncertain `registered-before-forwarding` window. The target group
health-checks healthCheckNodePort every 10 s and needs 3 passes: the first pass, at most
90 - 20 = 70 s, saw kube-proxy's 200 (a ready local endpoint synced), and the LB routed at
least 20 s after F was last seen false (60 s): kube-proxy forwarded before the LB routed.
n2 stays healthy throughout (no fail-open).
"""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.checked import passed_checks, proven_serving, proven_unrouted
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState, Sample, fold
from gapwatch.replay.model import Window
from gapwatch.replay.signals import Iv, Tri
from tests.replay.builders import (
    CLUSTER,
    NS,
    SVC,
    at,
    facts_of,
    joining_node,
    nodeport,
    pod,
    target,
)


def _us(seconds: float) -> int:
    return to_micros(at(seconds))


def _attributes(t: float, interval: int = 10, healthy: int = 3) -> Observation:
    """The poller's one read of the group: HTTP on healthCheckNodePort (node-driven)."""
    return Observation(
        observed_at=at(t),
        cluster=CLUSTER,
        source="lb-poller",
        kind="TargetGroupAttributes",
        op="ADDED",
        payload={
            "TargetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/tg/1",
            "Attributes": {
                "HealthCheckIntervalSeconds": str(interval),
                "HealthCheckProtocol": "HTTP",
                "HealthCheckTimeoutSeconds": "6",
                "HealthyThresholdCount": str(healthy),
                "UnhealthyThresholdCount": "3",
            },
            "Cloud": "aws",
            "HealthCheckPort": "31805",
        },
        namespace=NS,
        name=SVC,
    )


def _history(*, stated: bool = True, crash_seen: float | None = None) -> list[Observation]:
    obs = joining_node(50, 55, 55)
    if stated:
        obs.append(_attributes(1))
    if crash_seen is not None:
        obs.append(pod(crash_seen, "p1", "n1", "pending"))
    for t in range(30, 181, 30):
        prev = float(t - 30)
        obs.append(nodeport(t, prev, "n1", "timeout" if t <= 60 else "connected"))
        obs.append(nodeport(t, prev, "n2", "connected"))
        obs.append(target(t, prev, "n1", "unhealthy" if t <= 60 else "healthy"))
        obs.append(target(t, prev, "n2", "healthy"))
    return sorted(obs, key=lambda o: o.observed_at)


def _windows(obs: list[Observation]) -> list[Window]:
    return [w for w in detect(fold(FoldState(), facts_of(obs))) if w.node == "n1"]


def test_passed_checks_exclude_the_lb_routing_first() -> None:
    assert _windows(_history()) == []


def test_without_stated_settings_the_window_stays() -> None:
    # assumed health-check settings prove nothing: the samples allow R first in (60, 90]
    (window,) = _windows(_history(stated=False))
    assert not window.certain
    assert window.cls == "registered-before-forwarding"
    assert (window.start_earliest_us, window.end_latest_us) == (_us(60), _us(90))


def test_a_pod_seen_crashing_in_between_keeps_the_window() -> None:
    # p1 seen not ready at 85 s: it may have stopped after kube-proxy's first 200, so F may
    # have been false when the LB began routing
    found = _windows(_history(crash_seen=85))
    assert found
    assert all(not w.certain for w in found)
    assert any(w.start_earliest_us < _us(90) for w in found)


def _s(at_s: float, prev_s: float | None, value: str) -> Sample:
    return Sample(int(at_s * 1e6), None if prev_s is None else int(prev_s * 1e6), value, 0)


def test_the_proofs_from_a_target_lane() -> None:
    lane = [_s(0, None, "unhealthy"), _s(60, 30, "unhealthy"), _s(90, 60, "healthy")]
    assert passed_checks(lane, 20_000_000) == [(40_000_000, 70_000_000)]
    # draining -> healthy is a registration the checks passed too; healthy -> healthy is none
    assert passed_checks([_s(0, None, "healthy"), _s(5, 0, "healthy")], 0) == []


def test_serving_and_routing_narrowed_only_inside_their_ranges() -> None:
    s = 1_000_000
    serves = Tri([Iv(60 * s, 10**15)], [Iv(90 * s, 10**15)])
    lane = [_s(0, None, "unhealthy"), _s(60, 30, "unhealthy"), _s(90, 60, "healthy")]
    proofs = passed_checks(lane, 20 * s)
    assert proven_serving(serves, proofs, []).definite == [Iv(70 * s, 10**15)]
    # a stop (a death range) touching (40 s, 90 s]: nothing proven
    assert proven_serving(serves, proofs, [Iv(80 * s, 85 * s)]) == serves
    routed = Tri([Iv(60 * s, 10**15)], [Iv(90 * s, 10**15)])
    assert proven_unrouted(routed, serves, lane, 20 * s, []).possible == [Iv(80 * s, 10**15)]
