"""A window read `registered-before-forwarding` names `pod-gone-before-deregistered` where the
health check's 503 counted no ready endpoint while a terminating local pod had just died
(replay.leftover.dead_left_unsynced; docs/semantics.md "The ninth spent set read", rule U).

kube-proxy's health-check node port counts the ready local endpoints it has programmed
(DESIGN.md section 6: counts are pushed after each rules sync), so a 503 counting none while the
EndpointSlice lists a replacement ready shows kube-proxy had not synced that listing. With
ProxyTerminatingEndpoints it then forwards to the serving-terminating endpoints it has
(KEP-1669), a terminating pod's among them until it syncs that pod's removal, which follows
the death. Shaped like random 22,000,062 node-002 (kube-proxy 1.27, the gate on: the CCM took
the node back 1.0 s after the terminating pod died, kube-proxy programmed the replacement
1.3 s after that; read `registered-before-forwarding` with nothing named, truth
`pod-gone-before-deregistered`) and 22,000,965 node-004.

Literal observations: health-check answers every second (no NodePort probe: the recorder's
default for a LoadBalancer Service), DescribeTargetHealth every second (a target group checking
the traffic port). Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD, RBF
from tests.replay import builders as b

#: the group checks the traffic port (the NodePort): an endpoint-driven LB, as in 22,000,062
_TRAFFIC = 32999


def _returned(settings: DetectSettings = DEFAULTS) -> Window:
    """p1 on n1 (kube-proxy 1.27), listed ready from 1 s, is deleted at 10 s and listed
    serving-terminating from 10.1 s; the LB is seen draining n1 from 12 s. Its replacement p2
    is Ready at 14 s and listed ready beside it at 14.1 s. p1's container stops at 20 s
    (finishedAt), seen at 20.5 s; the slice drops it at 20.6 s. The LB is seen routing to n1
    again from 22 s. The health check counts one ready endpoint through 10 s, none from 11 s
    (kube-proxy synced p1's termination, not p2's listing), one from 24 s."""
    obs: list[Observation] = b.listed_pod("v1.27.16")
    obs += b.terminating_swap(10, 10.1, 10.5, 14, 14.1, grace=60)
    obs += [
        b.pod(20.5, "p1", "n1", "gone", deleted_at=10, grace=60, finished=20),
        b.eps(20.6, [("p2", "n1", "ready")]),
    ]
    obs += b.polled(
        "n1", range(1, 60), lambda t: "draining" if 12 <= t < 22 else "healthy", _TRAFFIC
    )
    obs += b.health_looks("n1", range(2, 60), lambda t: int(not 10 < t < 24))
    ours = [w for w in b.windows_of(obs, settings) if w.node == "n1"]
    (window,) = [w for w in ours if w.end_latest_us > to_micros(b.at(21))]
    return window


def test_a_rise_over_a_503_after_a_terminating_pods_death_names_its_rules() -> None:
    # p2 was listed straight from p1's serving-terminating endpoint: under the gate's default on
    # 1.27 the dead pod's rules are the likelier reading (docs/semantics.md, "Classes without
    # NodePort probes (session 29)"), the unprogrammed listing (the gate turned off) named
    window = _returned()
    assert window.cls == PGBD
    assert RBF in window.also


def test_a_gate_stated_off_names_nothing() -> None:
    # without the gate kube-proxy forwarded to no terminating endpoint: the 503 meant no rules
    off = DetectSettings(proxy_terminating_endpoints=False)
    assert PGBD not in _returned(off).also
