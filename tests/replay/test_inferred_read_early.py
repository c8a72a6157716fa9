"""Without any kube-proxy probe, kube-proxy may have read an EndpointSlice change up to the watch
skew before the recorder's watch delivered it (replay.lanes `inferred_forwarding`;
docs/semantics.md, "The sixteenth spent set read (session 33, branch s33-heldread)").

Random 29,000,116 node-003's shape and 7 more `closed-before-deregistered` misses of that set
without probes: kube-proxy (1.25, its ProxyTerminatingEndpoints gate at its default, off) closes
on a pod's deletion as soon as its own watch delivers the slice that lists it terminating; the
recorder's watch delivered the same version 0.04-0.25 s later. F inferred from the slice's lane
time fell after the true close, and the window found began after the true one.

Literal observations: Node, Pod and EndpointSlice objects as the watch returns them and the LB
poller's DescribeTargetHealth answers every 2 s; no kube-proxy probe."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from tests.replay import builders as b


def _closed() -> list[Window]:
    """p1 ready on n1 (1.25) from 1 s, deleted at 10 s (grace 30 s), listed terminating at
    10.3 s; the LB, polled every 2 s, saw n1 healthy to 20 s and unhealthy from 22 s."""
    obs: list[Observation] = [
        *b.one_node(version="v1.25.16"),
        b.pod(10, "p1", "n1", "terminating", deleted_at=10),
        b.eps(10.3, [("p1", "n1", "terminating")]),
        *b.polled(
            "n1",
            [2.0 * k for k in range(0, 20)],
            lambda t: "healthy" if t <= 20 else "unhealthy",
            check_port=31805,
        ),
    ]
    return [w for w in b.windows_of(obs) if w.node == "n1"]


def test_kube_proxy_may_close_before_the_recorder_sees_the_slice() -> None:
    # the slice seen at 10.3 s was written by 9.8 s at the earliest with the assumed 0.5 s
    # watch skew: kube-proxy may have closed from then
    assert b.covers(_closed(), 9.9, 15.0)


def test_not_before_the_watch_skew() -> None:
    # the control: no window before the Pod update that caused the slice (seen at 10 s) less
    # the skew: the EndpointSlice controller writes the slice after it
    assert all(w.start_earliest_us >= to_micros(b.at(9.49)) for w in _closed())
