"""An endpoint-driven LB's unseen return after the node's endpoints listed nothing, with no
NodePort look inside the excursion (rule AA, docs/semantics.md "The seventh spent set read";
naming only).

Random 18,000,127 node-002's shape: a NodePort Service probed every 5 s, an endpoint-driven CCM
with grace deletion (Tencent zeroes a terminating pod's weight: design notes section 6) polled
every 10 s, all polls healthy, kube-proxy 1.26 with ProxyTerminatingEndpoints. The old pod
terminates and dies, the slice drops its endpoint (nothing listed on the node), the replacement
is listed ready; no NodePort look falls between the loss and the listing. Once kube-proxy synced
the empty slice it held no rules for the node (PTE or not); the CCM may have drained the node at
the termination and taken it back at the listing, unseen, before kube-proxy programmed the
replacement: `registered-before-forwarding` (the truth there). Rule X names it only where a look
before the listing timed out; here no look says anything about the rules at the listing.

Literal observations: Pod and EndpointSlice objects as the watch returns them, NodePort probe
results, DescribeTargetHealth answers (the group checks the NodePort: endpoint-driven)."""

from __future__ import annotations

from collections.abc import Callable

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DetectSettings
from tests.replay.builders import eps, looks, node, pod, polled_healthy, service, window_on

PGBD, RBF = "pod-gone-before-deregistered", "registered-before-forwarding"
CBD = "closed-before-deregistered"


def _swap(
    unlisted: bool = True, result: Callable[[float], str] = lambda t: "connected"
) -> list[Observation]:
    """n1 on kube-proxy 1.26: p1 terminating at 20 s, seen stopped at 21.4 s (finishedAt 21 s),
    the slice without an endpoint on n1 from 21.5 s (`unlisted`; else p1 stays listed
    serving-terminating), p2 listed ready at 24 s. The NodePort probed every 5 s from 4.5 s
    (no look between 20 s and 24 s): each look's `result(t)`. The LB polled every 10 s,
    healthy throughout."""
    obs = [
        service(0),
        node(0, "n1", version="v1.26.15"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        pod(20.0, "p1", "n1", "terminating", deleted_at=20),
        eps(20.05, [("p1", "n1", "terminating")]),
        pod(20.1, "p2", "n1", "pending", revision="bbb"),
        pod(21.4, "p1", "n1", "gone", deleted_at=20, finished=21),
    ]
    if unlisted:
        obs.append(eps(21.5, []))
    obs += [
        pod(23.9, "p2", "n1", "ready", revision="bbb"),
        eps(24.0, [("p2", "n1", "ready")]),
    ]
    obs += polled_healthy("n1", (0, 10, 20, 30, 40), check_port=32999)
    obs += looks("n1", 4.5, 44.5, 5, result)
    return obs


def test_an_unseen_return_after_nothing_was_listed_names_registered_before_forwarding() -> None:
    w = window_on(_swap(), "n1")
    assert not w.certain
    assert w.cls == PGBD and RBF in w.also


def test_a_terminating_endpoint_listed_throughout_does_not() -> None:
    # with PTE kube-proxy forwarded to the terminating endpoint until the replacement's sync:
    # the slice never left it without rules, so the return met the dead pod's rules. The gate
    # stated on: on 1.26 it is only a default, and turned off kube-proxy may have closed after
    # the replacement's listing, which rule R names (docs/semantics.md, "Confidently wrong
    # windows"), whatever the LB did
    on = DetectSettings(proxy_terminating_endpoints=True)
    w = window_on(_swap(unlisted=False), "n1", on)
    assert w.cls == PGBD and RBF not in w.also


def test_with_the_gate_a_default_a_close_after_the_listing_is_named() -> None:
    # rule R, not AA: the close (gate off) may have come after p2's listing at 24 s
    w = window_on(_swap(unlisted=False), "n1")
    assert w.cls == PGBD and CBD in w.also and RBF in w.also


def test_a_look_inside_that_found_the_dead_pods_rules_does_not() -> None:
    # a look at 22 s (between the empty slice and the listing) was refused: the dead pod's
    # rules stood after the slice emptied, and nothing after it says they went before the listing
    def result(t: float) -> str:
        return "refused" if 21.5 < t < 24 else "connected"

    obs = _swap(result=result) + looks("n1", 22.0, 22.0, 5, result)
    w = window_on(obs, "n1")
    assert w.cls == PGBD and RBF not in w.also
