"""A refused health-check look is no sighting of an unseen excursion (replay.lanes
`_closed_answer`; docs/semantics.md, "The fifteenth spent set read (session 32)"): random
25,000,723 node-003's and 28,000,980 node-001's shape without NodePort probes. On the
health-check node port a refused connection is kube-proxy's health server down while it
restarts, the rules it installed kept (replay.proxy.restart_carried): it shows the restart,
never kube-proxy syncing an endpoint loss, which a kube-proxy still behind may program after
it and undo on the return between two looks. The NodePort's refused looks are left as they
were (there they are the rules DNATing to a pod that does not listen; reading them so too is
rule AK, not adopted: "The twelfth spent set read").

Literal observations: Pod and EndpointSlice objects as the watch returns them, health-check
answers (200 counting 1, 503 counting none, a refused connection)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from tests.replay.builders import covers, health, windows_of
from tests.replay.test_restart_listing import _refused
from tests.replay.test_restart_no_sync import _swap


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
