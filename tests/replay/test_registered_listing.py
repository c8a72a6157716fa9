"""A window read at kube-proxy's close, whose start range opens with an endpoint-driven LB
taking the node back, opened after the ready listing the LB registered the node for: not a
close before any replacement was listed (replay/registered_listing.py; docs/semantics.md,
"Classes on the nineteenth spent set (session 36, branch s36-class)", rule RL).

Random 32,000,334 node-001's shape: kube-proxy 1.25 (ProxyTerminatingEndpoints off by the
version), an endpoint-driven LB that checks the traffic port; a rollout deletes n1's pod p0,
the CCM drains n1 at once, the replacement p1 is listed ready at 191.46 s and the LB, polled
every second, routes to n1 again from 192 s; kube-proxy, whose looks every 5 s connected at
190 s, dropped the NodePort by 195 s (p0 removed from its rules, p1 not programmed yet). The
window's start lies in [191 s, 195 s]: kube-proxy's close, read at its latest instant after
the LB's rise at its own. Main read a certain `closed-before-deregistered` (naming rbf): the
endpoints were not ready at 191 s. But the LB's return was a registration, which the CCM made
for p1's listing: every instant the window can have begun at had p1 listed ready and not
programmed (`registered-before-forwarding` in the simulator's truth, the class as defined).

Literal observations as the API server returns them (Service, Node, Pod, EndpointSlice), the
prober's health-check and NodePort looks every 5 s and the LB poller's DescribeTargetHealth
answers every second, checking the NodePort (32999: an endpoint-driven LB)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import eps, health_looks, looks, node, pod, polled, service, windows_of

VERSION = "v1.25.16"
DELETED = 187.0
LISTED = 191.46
PROGRAMMED = 215.0


def _rollout(back_at: float, listed: float = LISTED) -> list[Window]:
    """n1 runs p0 and n2 p9, both ready from 1 s; p0 deleted at 187 s (serving-terminating
    from 187.35 s), its replacement p1 pending from 187.3 s, listed not ready at 190.3 s and
    ready at `listed`; p0 dies at 206 s. The LB saw n1 healthy, draining from 187 s and
    healthy again from `back_at`; kube-proxy's NodePort on n1 connected to 190 s, timed out
    from 195 s until it programmed p1 (215 s); its health check counted one ready endpoint to
    190 s, none from 195 s, one from 215 s. n1's windows."""
    placed = (("p0", "n1"), ("p9", "n2"))
    observed: list[Observation] = [service(0)]
    observed += [node(0, name, version=VERSION) for _, name in placed]
    observed += [pod(1.0, name, on, "ready") for name, on in placed]
    observed += [
        eps(1.0, [(name, on, "ready") for name, on in placed]),
        pod(DELETED, "p0", "n1", "terminating", deleted_at=DELETED, grace=30),
        pod(187.3, "p1", "n1", "pending", revision="bbb"),
        eps(187.35, [("p0", "n1", "terminating"), ("p9", "n2", "ready")]),
        eps(190.3, [("p0", "n1", "terminating"), ("p1", "n1", "unready"), ("p9", "n2", "ready")]),
        pod(listed - 0.1, "p1", "n1", "ready", revision="bbb"),
        eps(listed, [("p0", "n1", "terminating"), ("p1", "n1", "ready"), ("p9", "n2", "ready")]),
        pod(206.5, "p0", "n1", "gone", deleted_at=DELETED, finished=206.0),
        eps(207.0, [("p1", "n1", "ready"), ("p9", "n2", "ready")]),
    ]
    seconds = [float(k) for k in range(1, 300)]
    fives = [5.0 * k for k in range(1, 60)]

    def n1_target(t: float) -> str:
        return "draining" if DELETED <= t < back_at else "healthy"

    observed += polled("n1", seconds, n1_target, 32999)
    observed += polled("n2", seconds, lambda t: "healthy", 32999)
    observed += looks(
        "n1", 5.0, 295.0, 5.0, lambda t: "timeout" if 195 <= t < PROGRAMMED else "connected"
    )
    observed += looks("n2", 5.0, 295.0, 5.0)
    observed += health_looks("n1", fives, lambda t: 0 if 195 <= t < PROGRAMMED else 1)
    observed += health_looks("n2", fives, lambda t: 1)
    return [w for w in windows_of(observed) if w.node == "n1"]


def test_a_close_after_the_lb_took_the_node_back_for_a_listing_is_registered_first() -> None:
    # main: a certain closed-before-deregistered (naming registered-before-forwarding)
    (w,) = _rollout(192.0)
    assert w.certain
    assert w.cls == "registered-before-forwarding"
    assert "closed-before-deregistered" not in w.also


def test_a_return_seen_before_the_listing_reads_the_close_as_before() -> None:
    # the control: the LB was seen routing to n1 again at 191 s, before p1's listing: its
    # return was not for that listing, and the close may have come before it
    (w,) = _rollout(191.0)
    assert w.cls == "closed-before-deregistered"
    assert "registered-before-forwarding" in w.also
