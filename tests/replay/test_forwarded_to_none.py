"""A ready endpoint listed and not yet programmed, the health check answering 503 counting none
at every look (replay.uncounted; docs/semantics.md, "The misses without NodePort probes
(session 27, branch s27-misses)").

No NodePort probe (the recorder's default for a LoadBalancer Service): F is read from the
health-check node port. With ProxyTerminatingEndpoints (GA from 1.28) the lane's PTE term read
the node's listed set (ready or serving-terminating) as forwarded from kube-proxy's lag bound
(60 s assumed) after its listing, so a replacement listed ready read as forwarded a minute
later whatever the health check said. kube-proxy's health check counts the ready local
endpoints it has programmed; a 503 counting none leaves it only serving-terminating ones to
forward to, and with no local pod terminating and up it forwards to no live pod. Random
23,000,802 node-003 without the probes (1.28: the old pod gone, the replacement listed ready
11 s before kube-proxy applied the empty version, then a 503 counting none at every 2-s look
for 137 s while the LB routed): the window read ended a minute after the listing, and the true
one was missed; 23,000,639 node-002 and 22,000,909 node-006 had the same shape.

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers (the Service's healthCheckNodePort, with `localEndpoints`), DescribeTargetHealth
answers; times in seconds."""

from __future__ import annotations

from gapwatch.replay.model import Window
from tests.replay.builders import covers, eps, health_looks, one_node, pod, target, windows_of


def _behind(p1_dies: float) -> list[Window]:
    """n1 (kube-proxy 1.29) with p1, deleted at 10 s and listed terminating at 10.05 s; its
    replacement p2, pending from 10 s, Ready at 20 s and listed ready at 20.1 s, beside p1
    until p1 stops (finishedAt `p1_dies`, seen 0.4 s later, the slice dropping it 0.5 s later).
    kube-proxy is far behind: the health check, every 2 s, counts an old version's ready p1
    until 30 s, then none (it applied the version listing p1 terminating), and counts p2 only
    from 180 s. The LB, polled every 2 s, routes to n1."""

    def local(t: float) -> int:
        return 1 if t < 30.5 or t >= 180 else 0

    settled = [("p2", "n1", "ready")]
    return [
        w
        for w in windows_of(
            [
                *one_node(),
                *health_looks("n1", [t + 0.5 for t in range(2, 200, 2)], local),
                *[target(t, t - 2, "n1", "healthy") for t in range(3, 201, 2)],
                pod(10, "p1", "n1", "terminating", deleted_at=10),
                pod(10, "p2", "n1", "pending"),
                eps(10.05, [("p1", "n1", "terminating")]),
                pod(20, "p2", "n1", "ready"),
                eps(20.1, [("p1", "n1", "terminating"), *settled]),
                pod(p1_dies + 0.4, "p1", "n1", "gone", deleted_at=10, finished=p1_dies),
                eps(p1_dies + 0.5, settled),
            ]
        )
        if w.node == "n1"
    ]


def test_a_503_counting_none_with_no_terminating_pod_up_is_no_forwarding() -> None:
    # p1 died at 40 s: from its death until the 200 at 180.5 s kube-proxy forwarded to no live
    # pod (nothing it counted, no terminating pod left): a window from the death to the 200,
    # not ended a lag bound after p2's listing (80.1 s)
    assert covers(_behind(p1_dies=40), 40.5, 178.5)


def test_a_terminating_pod_up_may_still_be_forwarded_to() -> None:
    # the same 503s while p1, terminating, stays up until 185 s: with the gate kube-proxy
    # forwards to it (the 503 counts ready endpoints only), so no window spans the stretch
    assert not covers(_behind(p1_dies=185), 90, 170)
