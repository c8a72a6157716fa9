"""The version a health-check count shows kube-proxy on may have been programmed before that
look: after the last look that counted an older version, less one rules sync's span (the counts
follow the rules), and no earlier than its write (replay.held `not_forwarded`; docs/semantics.md,
"The sixteenth spent set read (session 33, branch s33-heldread)").

Random 28,000,871 node-001's shape without NodePort probes (kube-proxy 1.26, its
ProxyTerminatingEndpoints gate on by default): p1 and its replacement p2 listed ready (the health
check counting two), p2's container crashes, p1 is deleted and the slice lists it
serving-terminating beside p2 still ready. kube-proxy programmed that version 10 ms before the
recorder's watch delivered it and 41 ms before the next look counted one: it forwarded to the
dead p2 alone from then until it programmed p2's not-ready listing (503 counting none). Main
placed the gap's earliest start at the look counting one, after the true start: missed.

Literal observations, no NodePort probe: Pods and EndpointSlices as the watch returns them, the
health-check node port's answers every 0.1 s, the LB's target health every 2 s. Times in
seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from tests.replay import builders as b


def _switched() -> list[Window]:
    """p1 ready and listed from 1 s, p2 Ready at 4 s and listed ready beside it at 4.5 s (the
    health check counting two from 6 s); p2's container crashes at 12.8 s (finishedAt 12 s,
    the Pod update seen at 13.55 s); p1 is deleted at 11.9 s (grace 60 s, a long preStop hook)
    and listed serving-terminating beside p2 ready at 13.169 s; the health check counts one at
    13.2-13.8 s and none from 13.9 s (kube-proxy falls back to p1); the slice lists p2 not
    ready at 14.04 s; the LB drains n1 from 17 s."""
    obs: list[Observation] = [
        b.service(0),
        b.node(0, "n1", version="v1.26.15"),
        b.pod(1, "p1", "n1", "ready"),
        b.eps(1, [("p1", "n1", "ready")]),
        b.target(1, None, "n1", "healthy", "ADDED"),
        b.pod(3, "p2", "n1", "pending"),
        b.pod(4, "p2", "n1", "ready"),
        b.eps(4.5, [("p1", "n1", "ready"), ("p2", "n1", "ready")]),
        b.pod(11.9, "p1", "n1", "terminating", deleted_at=11.9, grace=60),
        b.eps(13.169, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        b.pod(13.55, "p2", "n1", "pending", finished=12),
        b.eps(14.04, [("p1", "n1", "terminating"), ("p2", "n1", "unready")]),
    ]
    looks = [round(2 + 0.1 * k, 1) for k in range(0, 231)]
    obs += b.health_looks(
        "n1", looks, lambda t: 1 if t < 6 else 2 if t < 13.15 else 1 if t < 13.85 else 0
    )
    for t in range(3, 26, 2):
        obs.append(b.target(t, t - 2, "n1", "healthy" if t < 17 else "draining"))
    return [w for w in b.windows_of(obs) if w.node == "n1"]


def test_the_version_counted_at_a_look_may_have_been_programmed_before_it() -> None:
    # kube-proxy forwarded to the dead p2 alone from 13.159 s (41 ms before the look counting
    # one): a window may begin by then and lasts until the 503 at 13.9 s
    assert any(
        w.start_earliest_us <= to_micros(b.at(13.15)) and w.end_latest_us >= to_micros(b.at(13.8))
        for w in _switched()
    )


def test_not_before_the_last_look_that_counted_the_older_version_less_a_sync() -> None:
    # the control: the look at 13.1 s counted two (p1 still ready at kube-proxy), so the switch
    # ended after it and its rules were written no earlier than 12.1 s (one sync's span, 1 s)
    assert all(w.start_earliest_us >= to_micros(b.at(12.1)) for w in _switched())
