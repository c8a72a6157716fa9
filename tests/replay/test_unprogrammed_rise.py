"""The LB's rise onto a node for a ready endpoint kube-proxy never programmed, the endpoint
terminating before the LB was first seen routing: a registration is caused by a ready endpoint
(an endpoint-driven CCM registers the nodes of ready endpoints: the design notes, section 6),
and a kube-proxy that forwarded nothing closed nothing, so the window is
`registered-before-forwarding`, not `closed-before-deregistered` (replay.unprogrammed_rise, rule
CC of docs/semantics.md, "Classes on the fourteenth spent set (session 31)"). Literal
observations shaped like random 27,000,753 node-004; times in seconds."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from gapwatch.replay.undecided import RBF
from tests.replay import builders as b

#: the group's health check on the traffic port: an endpoint-driven LB (replay.policy)
_PORT = 32999
_POLLS = (3, 13, 23, 33, 43)


def _observations(programmed: bool, probes: bool) -> list[Observation]:
    """kube-proxy 1.25 on two nodes, the health check every second (and, with `probes`, a
    NodePort look every second), an endpoint-driven LB polled every 10 s. n2 serves q1
    throughout. On n1, p1 turns ready at 4.0 s and is listed ready at 4.9 s; the LB, which did
    not route to n1 at its 3 s poll, routes to it at 13 s and 23 s and drains it at 33 s. p1 is
    deleted at 11 s (listed serving-terminating at 11.2 s, gone at 15 s). With `programmed`,
    kube-proxy forwarded to p1 from 6 s to 12 s (its health check counting it, the NodePort
    connecting); else never (a 503, the NodePort timing out: no rules)."""
    every = [k + 0.001 for k in range(1, 46)]

    def up(t: float) -> bool:
        return programmed and 6 <= t < 12

    nodeports = [
        *b.looks("n1", 1.5, 45.5, 1, lambda t: "connected" if up(t) else "timeout"),
        *b.looks("n2", 1.5, 45.5, 1),
    ]
    return [
        *(nodeports if probes else []),
        b.service(0),
        *[b.node(0, name, version="v1.25.16") for name in ("n1", "n2")],
        *b.health_looks("n2", every, lambda t: 1),
        *b.health_looks("n1", every, lambda t: 1 if up(t) else 0),
        b.pod(0.2, "q1", "n2", "ready"),
        b.eps(0.5, [("q1", "n2", "ready")]),
        *b.polled_healthy("n2", _POLLS, _PORT),
        b.pod(1, "p1", "n1", "pending"),
        b.eps(1.1, [("q1", "n2", "ready"), ("p1", "n1", "unready")]),
        b.pod(4.0, "p1", "n1", "ready"),
        b.eps(4.9, [("q1", "n2", "ready"), ("p1", "n1", "ready")]),
        b.pod(11.07, "p1", "n1", "terminating", deleted_at=11),
        b.eps(11.2, [("q1", "n2", "ready"), ("p1", "n1", "terminating")]),
        b.target(13, 3, "n1", "healthy", "ADDED", check_port=_PORT),
        b.target(23, 13, "n1", "healthy", "OBSERVED", check_port=_PORT),
        b.eps(14.7, [("q1", "n2", "ready")]),
        b.pod(15.1, "p1", "n1", "gone", deleted_at=11, finished=15),
        b.target(33, 23, "n1", "draining", check_port=_PORT),
        b.target(43, 33, "n1", "draining", check_port=_PORT),
    ]


def _on_n1(programmed: bool, probes: bool) -> Window:
    """n1's one certain window: the one that holds the LB's first look at 13 s."""
    (window,) = [
        w for w in b.windows_of(_observations(programmed, probes)) if w.node == "n1" and w.certain
    ]
    return window


def test_a_rise_for_an_endpoint_never_programmed_is_a_registration() -> None:
    # the NodePort and the health check never found p1 programmed: kube-proxy had not synced it
    # when it turned terminating (1.25: without ProxyTerminatingEndpoints by default, dropped
    # at its next sync), so the LB, registering n1 for p1's listing somewhere in (4.9, 13] s,
    # routed to a node that never forwarded. On main the endpoints read at the window's latest
    # start (13 s: p1 serving-terminating) made it kube-proxy's close, with nothing else named
    window = _on_n1(programmed=False, probes=True)
    assert window.cls == RBF


def test_without_nodeport_looks_the_gate_off_reading_is_named() -> None:
    # F from the health check alone: with the alpha gate possibly turned on, kube-proxy may
    # have programmed p1 as a serving-terminating fallback after 11.2 s (the health check
    # counts ready endpoints only), so its close may open the window; the gate-off reading,
    # nothing ever programmed, is named beside it (on main: nothing right named)
    window = _on_n1(programmed=False, probes=False)
    assert window.cls != RBF
    assert RBF in window.also


def test_a_programmed_endpoint_keeps_the_close() -> None:
    # kube-proxy forwarded to p1 from 6 s to 12 s: its close after the termination, with the
    # LB routing, is the window's cause; the rule does not read it as a registration (an
    # uncertain window before 6.5 s is the LB's possible rise before the sync, read as such)
    window = _on_n1(programmed=True, probes=True)
    assert window.cls != RBF
