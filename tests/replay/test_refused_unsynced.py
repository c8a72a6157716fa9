"""A refused look is no sighting of an unseen excursion (replay.unseen `KEPT_RULES`,
`closed_look`): random 26,000,604 node-001's shape. kube-proxy 1.24 (ProxyTerminatingEndpoints
off), one pod p1 on n1 behind an endpoint-driven LB that checks the traffic port. p1's container
crashed at 100 s and came back Ready at 115.6 s; the EndpointSlice listed it not ready at
101.3 s and ready again at 116 s, the LB took n1 out and back in (healthy from 117 s). kube-proxy
was behind: it had not synced the loss by 115 s (the NodePort connected to the restarted
container, the health check counted 1 at every look), so it could still program the loss after
that look and the return only later, a gap while the LB routed. The NodePort's refused looks at
105 and 110 s (the crashed container behind rules kept: kube-proxy DROPs where it holds no local
endpoint, DESIGN.md section 6) were read as having seen the excursion, and no window was given
where the true one (kube-proxy closing at 119.4 s, opening at 122.2 s) lay."""

from __future__ import annotations

from collections.abc import Callable

from gapwatch.recorder.observation import Observation
from tests.replay.builders import (
    covers,
    eps,
    health,
    health_looks,
    looks,
    node,
    pod,
    service,
    target,
    windows_of,
)
from tests.replay.test_restart_listing import _refused
from tests.replay.test_restart_no_sync import _swap

_EVERY = [float(t) for t in range(5, 131, 5)]


def _crash(nodeport: Callable[[float], str]) -> list[Observation]:
    """n1 (kube-proxy 1.24) with p1 listed ready at 1 s; its container stops at 100 s (seen
    restarting at 101 s), p1 is Ready again at 115.6 s; the slice lists it not ready at 101.3 s
    and ready at 116 s. The LB (polled every 1 s) sees n1 healthy to 102 s, draining from
    103 s, healthy again from 117 s; the health check counts 1 at every look (5 s), the
    NodePort answers `nodeport(t)`."""
    return [
        service(0),
        node(0, "n1", version="v1.24.17"),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        pod(101, "p1", "n1", "pending", finished=100),
        eps(101.3, [("p1", "n1", "unready")]),
        pod(115.6, "p1", "n1", "ready"),
        eps(116, [("p1", "n1", "ready")]),
        *[
            target(t, t - 1 if t > 1 else None, "n1", state, check_port=32999)
            for t in range(1, 131)
            for state in ["draining" if 103 <= t < 117 else "healthy"]
        ],
        *health_looks("n1", _EVERY, lambda t: 1),
        *looks("n1", 5, 130, 5, nodeport),
    ]


def test_refused_looks_leave_the_excursion_unseen() -> None:
    found = windows_of(_crash(lambda t: "refused" if t in (105, 110) else "connected"))
    # the crash's own gap (the refused looks, to the LB's drain) and a possible one after the
    # return, uncertain: kube-proxy may as well have read both changes before one sync
    assert covers(found, 100, 103)
    assert covers(found, 119.4, 122.2)
    assert all(not w.certain for w in found if covers([w], 119.4, 122.2))


def test_a_timeout_still_sees_it() -> None:
    # the control: the looks that timed out at 110 and 115 s show kube-proxy dropped the
    # endpoint (the rules DROP: the loss synced), and the connected look at 120 s that it
    # programmed the return by then: the window ends by that look, as before
    found = windows_of(
        _crash(lambda t: "refused" if t == 105 else "timeout" if t in (110, 115) else "connected")
    )
    assert covers(found, 117, 119.9)
    assert not covers(found, 119.4, 122.2)


def _health_only(*, refused: float = 0.0, none: float = 0.0) -> list[Observation]:
    """random 25,000,723 node-003's shape without NodePort probes: `test_restart_no_sync`'s
    swap (kube-proxy 1.25, n1 without a ready endpoint from 101.3 to 101.8 s, which no look
    saw), the health check looked at every 1 s from 2 s, answering 200 counting 1 but at
    `refused` (a refused connection) and at `none` (503 counting none)."""
    swap = [o for o in _swap([]) if o.kind not in ("NodePortProbe", "ProxyHealth")]
    out = [health(2, None, "n1", 1)]
    for t in [float(t) for t in range(3, 121)]:
        out.append(_refused(t, t - 1) if t == refused else health(t, t - 1, "n1", int(t != none)))
    return [*swap, *out]


def test_a_restart_refusal_leaves_the_excursion_unseen() -> None:
    # kube-proxy restarts at 108.5 s: its health port refuses the look at 109 s
    found = windows_of(_health_only(refused=109))
    assert covers(found, 101.4, 102.0)
    assert all(not w.certain for w in found if covers([w], 101.4, 102.0))


def test_a_503_still_sees_the_excursion() -> None:
    # the control: a 503 counting none at 102 s, 200 again from 103 s: the looks saw it, and
    # the window ends by the 200, as before
    found = windows_of(_health_only(none=102))
    assert covers(found, 101.9, 102.1)
    assert not covers(found, 101.4, 103.5)
