"""What opened a window (docs/semantics.md, "Classes" and "What opened a window"). Each rule is
a named assumption about upstream behaviour.

`forwarded_at_start`: the local pods stopping opened a window (`pod-gone-before-deregistered`,
replay.detect's `_pods_stopped_first`) only if kube-proxy still had endpoints to forward to when
the window could begin. kube-proxy programs only what the EndpointSlice holds and closes after
the change that drops the node's last forwardable endpoint; where that change came before the
window's earliest start, the node had stopped forwarding for it already (kube-proxy closing,
`closed-before-deregistered`, or a replacement the LB registered before kube-proxy programmed
it, `registered-before-forwarding`), and a pod stopping after it is not what opened the window.

`went_down_silent`: a node whose health check (healthCheckNodePort) answered before the
window's classing instant, got no answer at all from then on, and whose Node turned NotReady
(or Unknown, or was deleted) within `node_grace_s` of that instant without answering in between,
went down there: the node controller marks a node NotReady only `--node-monitor-grace-period`
after its last heartbeat (kube-controller-manager: 40 s before Kubernetes 1.29, 50 s from 1.29),
so a NotReady seen after the window has closed may still date the node's end inside its start.
replay.detect.classify reads it only after the pod-death rules: a local pod seen stopping in the
start's range opened the window before a node that was shut down later (a scale-down after a
drain). Pure.

`nodeport_went_silent`: the same read from the NodePort where no health check was probed, to
name the node's end beside a window's class.

`up_unserved_at`: a node read as down may still have been answering, with no local endpoint
(503), when the window could begin: the gap may have opened before it went silent (the window
names the endpoints' class too, replay.detect).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.fold import AT_US, Sample
from gapwatch.replay.signals import Step

#: Node states that say the node is down (the node controller's, or the Node deleted).
NODE_DOWN = ("NotReady", "Unknown", "Deleted")
#: health-check-node-port answers that are not HTTP statuses but a refused connection
#: (kube-proxy's health server down while the node answers); anything else that is not a
#: status (a timeout) means the node itself did not answer.
_ANSWERS = ("refused", "reset")


def answered(value: str) -> bool:
    """An HTTP status or a refused/reset connection: the node answered (a timeout: it did not)."""
    return value.isdigit() or value in _ANSWERS


def answered_in(lane: Sequence[Sample], lo_us: int, hi_us: int) -> bool:
    """A look of `lane` in [`lo_us`, `hi_us`) that the node answered (connected, refused,
    reset, an HTTP status). The lane keeps its changes only: a run of answered looks goes on
    from its sample to the next sample's `prev_us` (the last look that saw it)."""
    for i, a in enumerate(lane):
        if not (answered(a.value) or a.value == "connected") or a.at_us >= hi_us:
            continue
        last = lane[i + 1].prev_us if i + 1 < len(lane) else None
        if max(a.at_us, last or a.at_us) >= lo_us:
            return True
    return False


def went_down_silent(
    health: Sequence[Sample], node_lane: Sequence[Sample], at_us: int, grace_us: int
) -> bool:
    """Whether the node answered its health check at some point before `at_us`, then never
    answered again until its Node turned NotReady, Unknown or Deleted, at most `grace_us`
    after `at_us` (both lanes time-ordered), with at least one check from `at_us` on
    unanswered. A node never seen answering is joining, not going down."""
    limit = at_us + grace_us
    down = next(
        (n.at_us for n in node_lane if at_us < n.at_us <= limit and n.value in NODE_DOWN), None
    )
    if down is None:
        return False
    i = bisect_right(health, at_us, key=AT_US)
    if not any(answered(h.value) for h in health[:i]):
        return False
    after = [h for h in health[i:] if h.at_us <= down]
    return bool(after) and not answered_in(health, at_us + 1, down + 1)


def nodeport_went_silent(
    nodeport: Sequence[Sample],
    node_lane: Sequence[Sample],
    since_us: int,
    at_us: int,
    grace_us: int,
) -> bool:
    """Whether a node read only through its NodePort (no health-check lane) may have gone
    down inside a start range (`since_us`, `at_us`]: the NodePort answered (connected,
    refused, reset) before it, every look from there until the Node turned NotReady, Unknown
    or Deleted, at most `grace_us` after `at_us`, timed out (at least one), as
    `went_down_silent` reads the health check. A NodePort timeout is also kube-proxy dropping
    with no local rules, so this names the node's end beside the class, never as it."""
    down = next(
        (
            n.at_us
            for n in node_lane
            if at_us < n.at_us <= at_us + grace_us and n.value in NODE_DOWN
        ),
        None,
    )
    if down is None:
        return False
    i = bisect_right(nodeport, since_us, key=AT_US)
    if not any(s.value != "timeout" for s in nodeport[:i]):
        return False
    after = [s for s in nodeport[i:] if s.at_us <= down]
    return bool(after) and all(s.value == "timeout" for s in after)


def holds(steps: Sequence[Step], at_us: int, initial: bool) -> bool:
    """The value of a step lane at `at_us`, each step taken at its latest instant (`initial`
    before the first)."""
    value = initial
    for s in steps:
        if s.latest > at_us:
            break
        value = s.value
    return value


def forwarded_at_start(forwardable: Sequence[Step], since_us: int) -> bool:
    """Whether the node had endpoints kube-proxy forwards to (`forwardable`:
    replay.lanes.Lanes.forwardable) until the window's earliest start `since_us`: a change
    that dropped them at that very instant is the one the window may have opened with."""
    return holds(forwardable, since_us - 1, False)


def up_unserved_at(health: Sequence[Sample], start_us: int) -> bool:
    """Whether the node was still answering at `start_us` without a local endpoint to serve:
    the last health check at or before it answered with a status other than 200 (kube-proxy's
    healthCheckNodePort answers 503 while it has no local endpoint), and the first check that
    went unanswered came after it. A node read as down from a silent check may then have
    stopped only after a gap that its missing endpoint opened."""
    i = bisect_right(health, start_us, key=AT_US)
    if not i or not health[i - 1].value.isdigit() or health[i - 1].value == "200":
        return False
    return any(not answered(h.value) for h in health[i:])


def first_unserved(health: Sequence[Sample], lo_us: int, hi_us: int) -> int | None:
    """The time of the first health check in [`lo_us`, `hi_us`] that answered with a status
    other than 200 (`unserved_inside`); None where none did."""
    return next(
        (
            h.at_us
            for h in health
            if lo_us <= h.at_us <= hi_us and h.value.isdigit() and h.value != "200"
        ),
        None,
    )


def unserved_inside(health: Sequence[Sample], lo_us: int, hi_us: int) -> bool:
    """Whether a health check in [`lo_us`, `hi_us`] (a start range) answered with a status
    other than 200: the node was up there with no local endpoint to serve (kube-proxy's
    healthCheckNodePort answers 503 then), so a gap that began there is the missing
    endpoint's, whatever the Node said later."""
    return any(lo_us <= h.at_us <= hi_us and h.value.isdigit() and h.value != "200" for h in health)
