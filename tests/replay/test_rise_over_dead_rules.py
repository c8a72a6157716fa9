"""A window the LB's rise opened while the replacement was listed (read
`registered-before-forwarding`) names `pod-gone-before-deregistered` where kube-proxy may still
have forwarded to the dead terminating pod (replay.leftover, rule G read for that class too:
docs/semantics.md "The ninth spent set read", rule M).

With ProxyTerminatingEndpoints kube-proxy forwards to a node's serving-terminating endpoints
while it knows no ready one (KEP-1669) and removes a dead pod's only when it syncs the
EndpointSlice change that drops it, some lag after it; a replacement listed after that drop is
forwarded to only once synced too. Shaped like random 22,000,792 node-001 (kube-proxy 1.27, the
CCM took the node back 0.6 s after the replacement's listing, kube-proxy still held the dead
pod's rules for 5 s more; read `registered-before-forwarding` with nothing named, truth
`pod-gone-before-deregistered`).

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers every 0.5 s (no NodePort probe: the recorder's default for a LoadBalancer Service),
DescribeTargetHealth every second (a target group checking the traffic port). Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD, RBF
from tests.replay import builders as b

#: the group checks the traffic port (the NodePort): an endpoint-driven LB, as in 22,000,792
_TRAFFIC = 32999


def _returned(rise: int, settings: DetectSettings = DEFAULTS) -> Window:
    """p1 on n1 (kube-proxy 1.27), listed ready from 1 s, is deleted at 20 s,
    serving-terminating from 20.1 s; the LB is seen draining n1 from 22 s. p1's container stops
    at 23 s (finishedAt), seen at 23.5 s, and the slice drops its endpoint at 23.6 s; its
    replacement p2 is Ready at 25 s and listed at 25.1 s. The LB is seen routing to n1 again
    from `rise`. The health check counts one ready local endpoint through 30 s (kube-proxy has
    not synced the drop: the dead p1), none from 30.5 s, one again from 36 s (p2
    programmed)."""
    obs: list[Observation] = b.listed_pod("v1.27.16")
    obs += [
        b.pod(20, "p1", "n1", "terminating", deleted_at=20, grace=60),
        b.eps(20.1, [("p1", "n1", "terminating")]),
        b.pod(20.5, "p2", "n1", "pending"),
        b.pod(23.5, "p1", "n1", "gone", deleted_at=20, grace=60, finished=23),
        b.eps(23.6, []),
        b.pod(25, "p2", "n1", "ready"),
        b.eps(25.1, [("p2", "n1", "ready")]),
    ]
    obs += b.polled(
        "n1", range(1, 120), lambda t: "draining" if 22 <= t < rise else "healthy", _TRAFFIC
    )
    obs += b.health_looks("n1", [k / 2 for k in range(4, 240)], lambda t: int(not 30 < t < 36))
    ours = [w for w in b.windows_of(obs, settings) if w.node == "n1"]
    (window,) = [w for w in ours if w.end_latest_us > to_micros(b.at(rise))]
    return window


def test_a_rise_while_the_dead_pods_rules_may_stand_names_them() -> None:
    # named (rule M) until session 32; since rule CE (replay.counted_rise) the count decides
    # it: p2, first listed ready at 25.1 s and still so at the look counting none at 30.5 s,
    # was never programmed before it, so the one ready endpoint counted through the LB's rise
    # was the dead p1's: the class is the shape's truth, the listing's reading named
    window = _returned(26)
    assert window.cls == PGBD
    assert RBF in window.also


def test_a_gate_stated_off_names_nothing() -> None:
    # without the gate kube-proxy drops a terminating endpoint's rules with the sync that
    # reads it; here it had not synced the termination (it counted p1 ready through 30 s), so
    # the dead pod's rules stood gate or not (rule CE), and nothing else is named for them
    off = DetectSettings(proxy_terminating_endpoints=False)
    window = _returned(26, off)
    assert window.cls == PGBD
    assert PGBD not in window.also
