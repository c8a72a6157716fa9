"""A window whose start range holds its Node coming up names `node-not-ready` beside its class
(replay/nodeup.py; docs/semantics.md, "A NotReady node kept registered (session 37, branch
s37-nnr)").

Random 33,000,935 node-new-1's shape: the Service scaled to zero, so every target fails its
health check and the LB fails open onto all of them; a node joins (its Node NotReady at
ADDED), and an upstream service controller from 1.27 (KEP-3458) registers it at once, before
it is Ready; the LB polled every 10 s saw the new target `initial` at 240 s and `unhealthy` at
250 s: the fail-open took it in somewhere between. Its kube-proxy answered no look before 254 s
(503 from then on: no local endpoint), the Node turned Ready at 242.87 s. The window is
certain, its start anywhere in [240, 250] s: before the Ready the node itself was not up
(`node-not-ready`, the truth), after it the node was up with nothing to forward to
(`closed-before-deregistered`, the class read at the start's latest instant). Nothing in the
samples orders the LB's change against the kubelet's Ready: main read it
`closed-before-deregistered` naming nothing else.

Literal observations as the API server returns them (Node, Service), kube-proxy's
health-check node port and NodePort as the prober stores its looks, and the LB poller's
DescribeTargetHealth answers."""

from __future__ import annotations

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import health, look_times, node, nodeport, service, target, window_on

READY = 242.87


def _state(t: float) -> str:
    """n2's target at poll `t`: its health checks failed it at some instant in (240, 250]."""
    return "initial" if t < 250 else "unhealthy"


def _joined(
    ready_at: float,
    answered_from: float = 254.0,
    *,
    with_nodeport: bool = True,
    registered_at: float = 230.0,
) -> Window:
    """n1 Ready, no endpoint anywhere, its target unhealthy throughout; n2 joins NotReady at
    222.9 s and is Ready at `ready_at`; its target is first seen at `registered_at` (`initial`
    before 250 s, `unhealthy` from then on, polled every 10 s); its health check (and NodePort,
    `with_nodeport`) time out until `answered_from`, then 503 (refused: no endpoint anywhere,
    kube-proxy REJECTs)."""
    obs: list[Observation] = [
        service(0),
        node(0, "n1", version="v1.28.15"),
        node(222.9, "n2", ready=False, version="v1.28.15"),
        node(ready_at, "n2", version="v1.28.15"),
        target(200, None, "n1", "unhealthy", "ADDED"),
        # the poll before listed no n2
        target(registered_at, registered_at - 10, "n2", _state(registered_at), "ADDED"),
    ]
    polls = look_times(210, 300, 10)
    for before, t in zip([200.0, *polls], polls, strict=False):
        obs.append(target(t, before, "n1", "unhealthy", "OBSERVED"))
    later = [t for t in polls if t > registered_at]
    for before, t in zip([registered_at, *later], later, strict=False):
        obs.append(target(t, before, "n2", _state(t), "OBSERVED"))
    times = look_times(200, 300, 0.5)
    prevs: list[float | None] = [None, *times]
    for prev, t in zip(prevs, times, strict=False):
        obs.append(health(t, prev, "n1", 0))
        if with_nodeport:
            obs.append(nodeport(t, prev, "n1", "refused"))
    times = look_times(223, 300, 0.5)
    prevs = [None, *times]
    for prev, t in zip(prevs, times, strict=False):
        obs.append(health(t, prev, "n2", 0 if t >= answered_from else None))
        if with_nodeport:
            obs.append(nodeport(t, prev, "n2", "refused" if t >= answered_from else "timeout"))
    return window_on(obs, "n2")


@pytest.mark.parametrize("with_nodeport", [True, False])
def test_a_window_that_may_have_begun_before_its_node_came_up_names_node_not_ready(
    with_nodeport: bool,
) -> None:
    # main: a certain closed-before-deregistered naming nothing else
    w = _joined(READY, with_nodeport=with_nodeport)
    assert w.certain
    assert w.cls == "closed-before-deregistered"
    assert "node-not-ready" in w.also


@pytest.mark.parametrize("with_nodeport", [True, False])
def test_a_node_up_before_the_start_range_names_nothing(with_nodeport: bool) -> None:
    # the control: the Node Ready at 238 s, before the poll that still saw the target
    # `initial`: up through the whole start range, its class as before
    w = _joined(238.0, with_nodeport=with_nodeport)
    assert w.cls == "closed-before-deregistered"
    assert "node-not-ready" not in w.also


def test_a_node_that_answered_while_not_ready_names_nothing() -> None:
    # the control: kube-proxy answered (503) from 241 s, while the Node still said NotReady:
    # the node was up then, whatever its kubelet posted
    w = _joined(READY, answered_from=241.0)
    assert w.cls != "node-not-ready"
    assert "node-not-ready" not in w.also


def test_a_node_the_lb_took_in_inside_the_start_range_names_nothing() -> None:
    # the control: the poll at 240 s did not list n2 (no target), the one at 250 s saw it
    # `unhealthy`: the LB registered it inside the range, as a CCM that registers a node once
    # it is Ready (or for a ready local endpoint) does after the Ready: its class as before
    w = _joined(READY, registered_at=250.0)
    assert w.start_earliest_us < w.start_latest_us
    assert "node-not-ready" not in w.also
