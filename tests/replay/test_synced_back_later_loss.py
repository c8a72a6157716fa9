"""An unseen excursion of a node's ready endpoints is placed by the health check's 503s only
where they came before the next loss (replay.unseen `_next_losses`; docs/semantics.md, "The
sixteenth spent set read (session 33, branch s33-heldread)").

Random 29,000,697 node-new-1's shape (kube-proxy 1.25, its ProxyTerminatingEndpoints gate at its
default, off): a DaemonSet rollout with `maxUnavailable` 1 deletes the node's old pod p1; the
endpoint-driven CCM drains the node and, once the replacement p2 is listed ready 2.8 s later,
registers it again. kube-proxy, behind, may close on p1's loss and open on p2's return between
two looks 5 s apart, with the LB routing again: a gap no look saw. 24 s later the next rollout
deletes p2, and that loss is seen (the NodePort times out, the health check answers 503
counting none, then 200 once p3 is ready). Main read those 503s as kube-proxy's sync of the
first loss and placed the first excursion's gap just before the 200 that followed them, 40 s
after it: the registration inside it was missed. kube-proxy never goes back to an older
version, so the 200 still shows the first return programmed by then; but a 503 from the next
loss on may be that loss's sync, and says nothing of when the first gap opened (as
`unseen.hidden` reads no bad look after the next loss as the earlier excursion's).

Literal observations: Pod and EndpointSlice objects as the watch returns them, NodePort and
health-check-node-port probe results every 5 s, DescribeTargetHealth answers every second (the
group checks the NodePort: endpoint-driven)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import (
    covers,
    eps,
    health_looks,
    looks,
    node,
    pod,
    polled,
    service,
    windows_of,
)


def _rolled(second_loss: bool) -> list[Window]:
    """n1 on 1.25: p1 ready and listed at 0.5 s, deleted at 20 s (listed terminating at
    20.05 s), dead at 25.3 s; p2 Ready at 22.8 s, listed ready at 22.85 s. The LB, polled every
    second, saw n1 healthy to 21 s, draining 22-24 s, healthy from 25 s. With `second_loss`,
    p2 is deleted at 46.5 s (listed terminating then) and p3 listed ready at 61 s: the NodePort
    times out and the health check answers 503 counting none at 50-60 s, the LB drains n1 from
    48 s and takes it back from 63 s."""

    def np_result(t: float) -> str:
        return "timeout" if second_loss and 47.0 < t < 62.0 else "connected"

    def counted(t: float) -> int:
        return 0 if second_loss and 47.0 < t < 62.0 else 1

    def state(t: float) -> str:
        if 21.5 < t < 24.5 or (second_loss and 47.5 < t < 62.5):
            return "draining"
        return "healthy"

    observations: list[Observation] = [
        service(0),
        node(0, "n1", version="v1.25.16"),
        pod(0.5, "p1", "n1", "ready"),
        eps(0.5, [("p1", "n1", "ready")]),
        pod(20.0, "p1", "n1", "terminating", deleted_at=20),
        eps(20.05, [("p1", "n1", "terminating")]),
        pod(20.1, "p2", "n1", "pending", revision="bbb"),
        pod(22.8, "p2", "n1", "ready", revision="bbb"),
        eps(22.85, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        pod(25.4, "p1", "n1", "gone", deleted_at=20, finished=25),
        eps(25.5, [("p2", "n1", "ready")]),
        *polled("n1", [float(k) for k in range(0, 80)], state, check_port=32999),
        *looks("n1", 0.0, 75.0, 5.0, np_result),
        *health_looks("n1", [5.0 * k for k in range(0, 16)], counted),
    ]
    if second_loss:
        observations += [
            pod(46.5, "p2", "n1", "terminating", revision="bbb", deleted_at=46.5),
            eps(46.5, [("p2", "n1", "terminating")]),
            pod(47.0, "p3", "n1", "pending", revision="ccc"),
            pod(60.9, "p3", "n1", "ready", revision="ccc"),
            eps(61.0, [("p2", "n1", "terminating"), ("p3", "n1", "ready")]),
        ]
    return [w for w in windows_of(observations) if w.node == "n1"]


def test_a_later_loss_does_not_place_an_earlier_unseen_gap() -> None:
    # the LB routed to n1 again from 24-25 s while kube-proxy, behind, may still have held
    # p1's loss unsynced or its close unopened: the 503s of p2's loss at 50-60 s say nothing
    # of when that first gap opened
    assert covers(_rolled(second_loss=True), 25.0, 27.0)


def test_without_a_later_loss_the_unseen_gap_is_found() -> None:
    # the control: no later 503 to misread; found both ways
    assert covers(_rolled(second_loss=False), 25.0, 27.0)
