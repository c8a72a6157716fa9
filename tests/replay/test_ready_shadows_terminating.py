"""A terminating local pod takes no traffic while kube-proxy forwards to a ready one
(replay.podsup `_shadowed`): kube-proxy forwards to serving-terminating local endpoints only
where it programmed no ready one (KEP-1669), and an EndpointSlice never lists a terminating
endpoint ready, so a ready pod kube-proxy was shown to program, its Ready written after the
other pod's deletion, carries all of the node's traffic until the slice stops listing it ready.
Were it to crash then, its rules are what is left: the pods-up lane read the node as served
by the terminating pod still in its preStop hook, and the gap's start moved to the crash's
Pod update, 2 s after its kubelet's finishedAt (random 27,000,534 node-003 without NodePort
probes: missed).

Literal observations, no NodePort probe (the recorder's default for a LoadBalancer Service):
Pods and EndpointSlices as the watch returns them, the health-check node port's answers every
second, the LB's target health every 2 s; kube-proxy 1.24 (its ProxyTerminatingEndpoints gate
unknown). Times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import PGBD
from tests.replay.builders import (
    at,
    eps,
    health,
    node,
    pod,
    service,
    target,
    terminating_swap,
    windows_of,
)


def _crash(programmed: bool) -> list[Window]:
    """p1 on n1 is deleted at 7 s (grace 60 s, a long preStop hook: it serves past the
    recording's end at 45 s); the slice lists it serving-terminating from 7.3 s and the health
    check answers 503 counting none from 8 s (the LB drains n1). Its replacement p2 is Ready
    at 12.3 s, listed ready at 13.8 s; `programmed`: the health check counts one ready local
    endpoint from 16 s (kube-proxy programmed p2) and the LB routes to n1 again, else it stays
    503 counting none (kube-proxy never shown to program p2). p2's container crashes at 31.4 s
    (finishedAt 31, the Pod update saying so seen at 34 s, the slice listing p2 not ready at
    35 s); the health check answers 503 counting none from 36 s, the LB drains n1 again."""
    after = 1 if programmed else 0
    obs: list[Observation] = [
        service(0),
        node(0, "n1", version="v1.24.17"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        *terminating_swap(7, 7.3, 9, 12.3, 13.8, grace=60),
        pod(34, "p2", "n1", "pending", finished=31),
        eps(35, [("p1", "n1", "terminating"), ("p2", "n1", "unready")]),
    ]
    for t in range(2, 46):
        count = 1 if t < 8 else 0 if t < 16 else (after if t < 36 else 0)
        obs.append(health(t, t - 1, "n1", count))
    for t in range(3, 46, 2):
        routed = t < 8 or (programmed and 21 <= t < 36)
        obs.append(target(t, t - 2, "n1", "healthy" if routed else "draining"))
    return [w for w in windows_of(obs) if w.node == "n1"]


def test_a_programmed_replacements_crash_beside_a_terminating_pod_opens_the_gap() -> None:
    # from 16 s kube-proxy forwarded to p2 alone (ready), never to p1 (terminating): p2's
    # crash at 31.4 s (finishedAt 31: [30, 33) with the node's clock within 1 s) left n1
    # nothing to serve while the LB routed to it, at least until the slice stopped listing p2
    # ready (35 s, less the watch skew: kube-proxy may have read it first, and then, its gate
    # perhaps on, forwarded to p1). Main read n1 as served by p1 throughout: no window
    found = [w for w in _crash(programmed=True) if w.cls == PGBD]
    assert any(
        w.start_earliest_us <= to_micros(at(31)) and w.end_latest_us >= to_micros(at(34.5))
        for w in found
    ), found


def test_a_replacement_never_shown_programmed_leaves_the_terminating_pod_forwarded() -> None:
    # kube-proxy never counted p2 and the LB never routed to n1 after 8 s: p2's crash opens
    # no window (only the drain at 7-9 s, as on main)
    assert all(w.end_latest_us <= to_micros(at(9)) for w in _crash(programmed=False))
