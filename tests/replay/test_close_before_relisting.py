"""A window read as a terminating pod's death names kube-proxy's close where the node's ready
endpoint left inside its start range, even though a replacement was listed ready again before
the death (replay.undecided.close_unordered; docs/semantics.md "The ninth spent set read",
rule C).

Where ProxyTerminatingEndpoints is not stated (1.26-1.27: on by default, may be turned off),
kube-proxy may have closed when the old pod's endpoint stopped being ready and left the node
without rules until it programmed the replacement: the gap opened then, before the death.
Shaped like random 22,000,926 node-002 (kube-proxy 1.26 with the gate turned off, the close at
the endpoint's not-ready, the replacement programmed 2.7 s later, the old pod dead 1.2 s after
that; read `pod-gone-before-deregistered` with nothing named, truth
`closed-before-deregistered`) and 22,000,807 node-001; and where the close came after the
replacement's listing, `registered-before-forwarding` (22,000,155 node-new-1: kube-proxy
closed 0.9 s after it, rule R).

Literal observations: health-check answers every 2 s (no NodePort probe: the recorder's default
for a LoadBalancer Service), DescribeTargetHealth every 10 s. Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import CBD, PGBD, RBF
from tests.replay import builders as b


def _swapped(settings: DetectSettings = DEFAULTS) -> Window:
    """p1 on n1 (kube-proxy 1.26), listed ready from 1 s, is deleted at 10.75 s and listed
    serving-terminating from 10.79 s; its replacement p2 is Ready at 12.33 s and listed ready
    beside it at 12.53 s; p1's container stops at 14 s (finishedAt), seen at 14.9 s. The
    health check counts one ready local endpoint through 10 s, none at 12 s, one from 14 s;
    the LB routes to n1 throughout."""
    obs: list[Observation] = b.one_node("v1.26.15")
    obs += [b.target(t, t - 10, "n1", "healthy") for t in range(11, 80, 10)]
    obs += b.terminating_swap(10.75, 10.79, 10.81, 12.33, 12.53)
    obs.append(b.pod(14.9, "p1", "n1", "gone", deleted_at=10.75, grace=30, finished=14))
    obs += b.health_looks("n1", range(2, 80, 2), lambda t: int(t != 12))
    return b.window_on(obs, "n1", settings)


def test_a_close_at_the_ready_endpoints_loss_is_named_beside_the_death() -> None:
    window = _swapped()
    assert window.cls == PGBD
    assert CBD in window.also


def test_a_close_after_the_replacements_listing_is_named_as_such() -> None:
    # the close may have come after p2's listing at 12.53 s too: kube-proxy then closed with a
    # ready endpoint listed and not yet programmed, `registered-before-forwarding` (rule R;
    # random 22,000,155 node-new-1's truth)
    assert RBF in _swapped().also


def test_the_gate_stated_on_leaves_the_death_decided() -> None:
    # with the gate on kube-proxy forwarded to the serving-terminating pod until the swap: no
    # close in the start range, the death is the only reading
    on = DetectSettings(proxy_terminating_endpoints=True)
    assert CBD not in _swapped(on).also
