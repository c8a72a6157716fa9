"""A window the LB's return opened, with a ready endpoint listed through its whole start range,
is `registered-before-forwarding` even where the endpoint's leaving is seen within the watch
skew after the start (docs/semantics.md, "The eleventh spent set read").

Random 24,000,202 node-002's shape (with NodePort probes): an endpoint-driven CCM polled every
2 s. The old pod terminates and dies, the slice lists nothing on the node, the LB drains it; the
replacement is listed ready and the CCM takes the node back before kube-proxy programs it (the
NodePort times out). The replacement is itself deleted (the next rollout step) and listed
serving-terminating 0.3 s after the poll that saw the node routed again. The class looked for a
ready endpoint at the start plus the watch skew, found the serving-terminating one and read
kube-proxy's close (`closed-before-deregistered`, nothing else named). An endpoint leaving is
no cause of a registration: the CCM registers a node for its ready endpoints.

Literal observations: Pod and EndpointSlice objects as the watch returns them, NodePort probe
results, DescribeTargetHealth answers (the group checks the NodePort: endpoint-driven)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from tests.replay.builders import eps, health_looks, looks, pod, polled, replaced_on_n1, window_on

RBF = "registered-before-forwarding"


def _returned(left: float) -> list[Observation]:
    """n1 on 1.29: p1 terminating at 10 s (listed serving-terminating at 10.05 s), seen
    stopped at 15.4 s (finishedAt 15 s), the slice empty from 15.7 s; p2 Ready at 17.5 s and
    listed ready at 17.6 s, deleted at `left` - 0.3 s and listed serving-terminating at
    `left`. The LB polled every 2 s: healthy to 10 s, draining from 12 s to 18 s, healthy at
    20 s and 22 s, draining again from 24 s (p2 leaving). The NodePort every 0.5 s from
    1.25 s: connected to 14.75 s, refused at 15.25 s and 15.75 s (p1's rules), no answer from
    16.25 s to 20.25 s, connected from 20.75 s (p2 programmed); the health check node port at
    the same looks 503 counting none from 16.25 s to 20.25 s, else 200."""

    def result(t: float) -> str:
        if t <= 15 or t > 20.5:
            return "connected"
        return "refused" if t < 16.2 else "timeout"

    return [
        *replaced_on_n1(10.0, 10.05, 10.1, 15.4, 15.0, 15.7, 17.5, 17.6),
        pod(left - 0.3, "p2", "n1", "terminating", revision="bbb", deleted_at=left - 0.3),
        eps(left, [("p2", "n1", "terminating")]),
        *polled(
            "n1",
            [2.0 * k for k in range(0, 20)],
            lambda t: "draining" if 12 <= t <= 18 or t >= 24 else "healthy",
            check_port=32999,
        ),
        *looks("n1", 1.25, 38, 0.5, result),
        *health_looks(
            "n1", [1.25 + 0.5 * k for k in range(75)], lambda t: 0 if 16.2 < t < 20.5 else 1
        ),
    ]


def test_a_return_over_a_listed_replacement_is_a_registration() -> None:
    # the replacement listed ready through (18, 20]; its leaving seen at 20.3 s
    w = window_on(_returned(left=20.3), "n1")
    assert w.certain
    assert w.cls == RBF


def test_the_leaving_seen_later_reads_the_same() -> None:
    # the control: its leaving seen past the watch skew (21.5 s) read rbf before the rule too
    w = window_on(_returned(left=21.5), "n1")
    assert w.cls == RBF
