"""An endpoint-driven LB's unseen return after a listing kube-proxy had not programmed (rule X,
docs/semantics.md "The fifth spent set read"; naming only).

Random 16,000,273 node-003's shape: an endpoint-driven CCM (Alibaba rewrites its vServer groups
when endpoints change; Tencent zeroes a terminating pod's weight: design notes section 6) polled
every 10 s, all polls healthy. The old pod terminates and dies (its rules refuse), kube-proxy
removes its rules (timeouts: no local endpoint), the replacement is listed ready, kube-proxy
programs it a little later. The CCM may have dropped the node when its ready endpoint left and
taken it back at the listing, between two polls: a return then met no rules and a ready
endpoint, `registered-before-forwarding` (the truth there), while the window is read at
kube-proxy's side as the pod's death. Both are honest readings; only the first was named.

Literal observations: Pod and EndpointSlice objects as the watch returns them, NodePort probe
results, DescribeTargetHealth answers (the group checks the NodePort: endpoint-driven)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from tests.replay.builders import looks, polled_healthy, replaced_on_n1, window_on

PGBD, RBF = "pod-gone-before-deregistered", "registered-before-forwarding"


def _swap(rules_until: float) -> list[Observation]:
    """n1 on kube-proxy 1.29: p1 terminating at 20 s, seen stopped at 21 s (finishedAt 20 s),
    the slice without an endpoint on n1 from 21.5 s, p2 listed ready at 24 s. The NodePort
    (probed every 0.5 s) connects through 20.5 s, refuses (the dead pod's rules) until
    `rules_until`, then times out until 24 s and connects from 24.5 s. The LB polled every
    10 s, healthy throughout."""
    obs = replaced_on_n1(20.0, 20.05, 20.1, 21.0, 20, 21.5, 23.9, 24.0)
    obs += polled_healthy("n1", (0, 10, 20, 30, 40), check_port=32999)

    def result(t: float) -> str:
        if t <= 20.5 or t >= 24.5:
            return "connected"
        return "refused" if t <= rules_until else "timeout"

    obs += looks("n1", 1, 40, 0.5, result)
    return obs


def test_an_unseen_return_after_the_rules_went_names_registered_before_forwarding() -> None:
    w = window_on(_swap(rules_until=22), "n1")
    assert not w.certain
    assert w.cls == PGBD and RBF in w.also


def test_an_unseen_return_while_the_dead_pods_rules_stood_does_not() -> None:
    # the dead pod's rules refused until the replacement was programmed: a return at the
    # listing met them, the pod's death either way
    w = window_on(_swap(rules_until=24), "n1")
    assert w.cls == PGBD and RBF not in w.also
