"""An endpoint-driven LB may route to a target every poll saw `draining`, where the node's
endpoints were listed ready and left again between two polls (replay.unseenreturn;
docs/semantics.md, "The eleventh set's detector gaps (session 28, branch s28-misses)").

Random 24,000,536 node-003's shape (1.25, the gate at its default, off): an endpoint-driven CCM
with grace deletion, polled every 2 s, drains the node when its old pod terminates; every poll
from then on saw the target `draining`. The replacement is listed ready, the CCM takes the node
back, the replacement is deleted again (the next rollout step) and the CCM drains the node once
more, both between two polls. Meanwhile the old pod died under kube-proxy's rules (the NodePort
refused): a gap while the LB routed, which R read false (every poll said draining) and so
missed. The CCM registers a node for its ready endpoints; a poll shows a target only as it is at
the poll.

Literal observations: Pod and EndpointSlice objects as the watch returns them, NodePort probe
results, DescribeTargetHealth answers (the group checks the NodePort: endpoint-driven)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.model import Window
from tests.replay.builders import covers, eps, looks, node, pod, polled, service, windows_of

#: the CCM's lag bound as measured on such a cluster (well under a poll period)
MEASURED = DetectSettings(ccm_lag_max_s=1.0)


def _returned(left: float) -> list[Window]:
    """n1 on 1.25: p1 ready and listed at 0.5 s, deleted at 10 s (listed terminating at
    10.05 s), dead at 20 s (seen gone at 20.4 s, the slice without it from 20.5 s); p2 Ready at
    19.9 s and listed ready at 20.0 s, deleted at `left` - 0.1 s and listed terminating at
    `left`. The LB, polled every 2 s, saw n1 healthy to 10 s and draining from 12 s on. The
    NodePort every 0.1 s: connected to 20.1 s, refused (p1's rules, p1 dead) to 23.1 s,
    connected from 23.2 s."""

    def result(t: float) -> str:
        return "refused" if 20.1 < t < 23.15 else "connected"

    observations: list[Observation] = [
        service(0),
        node(0, "n1", version="v1.25.16"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        pod(10, "p1", "n1", "terminating", deleted_at=10),
        eps(10.05, [("p1", "n1", "terminating")]),
        pod(10.1, "p2", "n1", "pending", revision="bbb"),
        pod(19.9, "p2", "n1", "ready", revision="bbb"),
        eps(20.0, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(20.4, "p1", "n1", "gone", deleted_at=10, finished=20),
        eps(20.5, [("p2", "n1", "ready")]),
        pod(left - 0.1, "p2", "n1", "terminating", revision="bbb", deleted_at=left - 0.1),
        eps(left, [("p2", "n1", "terminating")]),
        *polled(
            "n1",
            [2.0 * k for k in range(0, 40)],
            lambda t: "healthy" if t <= 10 else "draining",
            check_port=32999,
        ),
        *looks("n1", 1.0, 78, 0.1, result),
    ]
    return [w for w in windows_of(observations, MEASURED) if w.node == "n1"]


def test_a_ready_run_between_two_draining_polls_may_have_been_routed() -> None:
    # p2 listed ready from 20.0 s to 21.4 s, both between the polls at 20 s and 22 s: the LB
    # may have routed to n1 while kube-proxy forwarded to the dead p1 (the NodePort refused)
    assert covers(_returned(left=21.4), 20.4, 21.4)


def test_a_ready_run_longer_than_a_poll_gap_was_not_routed_unseen() -> None:
    # the control: p2 listed ready for 10 s, longer than a poll gap plus the CCM's lag: a
    # registration would have been seen, and every poll saw draining
    assert not covers(_returned(left=30.0), 20.4, 21.4)
