"""A window read `node-not-ready` names `pod-gone-before-deregistered` where a terminating local
pod's exit, which no kubelet reported, may lie in its start range (replay/podexit.py;
docs/semantics.md, "A terminating pod's exit against its node's end (session 38, branch
s38-nnr)").

Random 34,000,273 node-001's shape: kube-proxy 1.27 (ProxyTerminatingEndpoints on by default),
a rollout deletes n1's only pod p1 at 241 s (grace 60 s: deletionTimestamp 301 s); its
replacement p3 is created on n1 and never gets ready. The health-check node port counts no
ready local endpoint from 241.5 s (503), the NodePort still connects (kube-proxy forwards to
the serving terminating p1) until the look at 244.0 s; from the look at 244.5 s neither answers
(timeouts), the LB drops n1 at its third failed check (`unhealthy` polled at 280 s), the node
controller writes n1 Unknown at 284.7 s and marks its pods then. p1's exit was never reported:
its kubelet went with the node. The window is certain, its start in (244.0, 244.5]; read at
the latest instant the node was down (`node-not-ready`), but p1 may have exited first, anywhere
after its DELETE (`pod-gone-before-deregistered`, the truth there: p1 exited at 244.33 s, the
node stopped at 244.5 s). Main named only `closed-before-deregistered` (the 503 at the
earliest instant), never the truth.

Literal observations as the API server returns them (Node, Pod, EndpointSlice, Service),
kube-proxy's looks as the prober stores them, the LB poller's DescribeTargetHealth answers."""

from __future__ import annotations

import pytest

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import to_micros
from gapwatch.replay.fold import FoldState, fold, sorted_lane
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.podexit import exit_unordered
from gapwatch.replay.signals import Iv
from tests.replay.builders import (
    CLUSTER,
    NS,
    SVC,
    at,
    eps,
    facts_of,
    health,
    look_times,
    node,
    node_unknown,
    nodeport,
    pod,
    service,
    target,
    window_on,
)

VERSION = "v1.27.16"
DOWN = 244.5  # n1's first unanswered look


def _observations(
    deleted: float | None = 241.0,
    *,
    with_nodeport: bool = True,
    ready_beside: bool = False,
    prestop: float | None = None,
) -> list[Observation]:
    """n1 with p1 (deleted at `deleted`, grace 60 s; None: never deleted) and n2 with p2, both
    ready from 1 s and registered healthy; n1 stops answering from `DOWN`. `ready_beside`:
    the replacement p3 is ready on n1 from 0.5 s before p1's DELETE (listed 0.1 s later), so n1
    never lists no ready endpoint, instead of staying pending after it. `prestop`: p1's preStop
    hook, a sleep of that many seconds."""
    obs: list[Observation] = [
        service(0),
        node(0, "n1", version=VERSION),
        node(0, "n2", version=VERSION),
        pod(1, "p1", "n1", "ready"),
        pod(1, "p2", "n2", "ready"),
        eps(1, [("p1", "n1", "ready"), ("p2", "n2", "ready")]),
    ]
    counted = 1  # n1's ready local endpoints as its health check counts them
    n1_eps = [("p1", "n1", "ready")]
    if deleted is not None:
        obs += [
            pod(
                deleted + 0.18,
                "p1",
                "n1",
                "terminating",
                deleted_at=deleted + 60,
                grace=60,
                prestop=prestop,
            ),
        ]
        n1_eps = [("p1", "n1", "terminating")]
        if ready_beside:  # p3 listed ready before p1's DELETE: n1 never without a ready one
            beside = [("p3", "n1", "ready")]
            obs += [
                pod(deleted - 1.5, "p3", "n1", "pending", revision="bbb"),
                pod(deleted - 0.5, "p3", "n1", "ready", revision="bbb"),
                eps(deleted - 0.4, [*beside, ("p1", "n1", "ready"), ("p2", "n2", "ready")]),
                eps(deleted + 0.2, [*beside, *n1_eps, ("p2", "n2", "ready")]),
            ]
        else:
            obs += [
                eps(deleted + 0.2, [*n1_eps, ("p2", "n2", "ready")]),
                pod(deleted + 0.54, "p3", "n1", "pending", revision="bbb"),
            ]
    obs += [
        # the node controller: n1 Unknown, its pods marked (p1 still terminating), the slice
        node_unknown(284.68, "n1", version=VERSION),
        eps(284.64, [("p2", "n2", "ready")]),
    ]
    times = look_times(200, 300, 0.5)
    prevs: list[float | None] = [None, *times]
    for prev, t in zip(prevs, times, strict=False):
        up = t < DOWN
        if deleted is not None and not ready_beside and t >= deleted + 0.5:
            counted = 0  # only the terminating p1: not counted
        obs.append(health(t, prev, "n1", counted if up else None))
        obs.append(health(t, prev, "n2", 1))
        if with_nodeport:
            obs.append(nodeport(t, prev, "n1", "connected" if up else "timeout"))
            obs.append(nodeport(t, prev, "n2", "connected"))
    polls = look_times(200, 300, 10)
    obs += [
        target(190, None, "n1", "healthy", "ADDED"),
        target(190, None, "n2", "healthy", "ADDED"),
    ]
    for prev, t in zip([190.0, *polls], polls, strict=False):
        obs.append(target(t, prev, "n1", "healthy" if t < 280 else "unhealthy", "OBSERVED"))
        obs.append(target(t, prev, "n2", "healthy", "OBSERVED"))
    return obs


def _run(
    deleted: float | None = 241.0, *, with_nodeport: bool = True, ready_beside: bool = False
) -> Window:
    """The one window on n1 of `_observations`."""
    obs = _observations(deleted, with_nodeport=with_nodeport, ready_beside=ready_beside)
    return window_on(obs, "n1")


def _us(t: float) -> int:
    return to_micros(at(t))


@pytest.mark.parametrize("with_nodeport", [True, False])
def test_a_terminating_pods_unreported_exit_is_named_beside_the_nodes_end(
    with_nodeport: bool,
) -> None:
    # main: a certain node-not-ready naming closed-before-deregistered at most
    w = _run(with_nodeport=with_nodeport)
    assert w.certain
    assert w.cls == "node-not-ready"
    assert "pod-gone-before-deregistered" in w.also


@pytest.mark.parametrize("with_nodeport", [True, False])
def test_a_pod_never_deleted_names_no_exit(with_nodeport: bool) -> None:
    # the control: p1 ready until the node stopped; nothing made it exit
    w = _run(None, with_nodeport=with_nodeport)
    assert w.cls == "node-not-ready"
    assert "pod-gone-before-deregistered" not in w.also


def test_a_pod_deleted_after_the_node_fell_silent_names_no_exit() -> None:
    # the control: the DELETE came at 250 s, after the node's last answered look (244.0 s),
    # its silence lasting until the Node turned Unknown: the pod went with the node. Read over
    # a wide start range (244, 300] with F possible to the Unknown, as an uncertain window has
    # it (random 34,000,745 node-001: an endpoint-driven LB, R unsure); without the health
    # check lane's silence the exit would be named
    obs = sorted(_observations(250.0), key=lambda o: o.observed_at)
    state = fold(FoldState(), facts_of(obs))
    svc = ServiceRef(CLUSTER, NS, SVC)
    checks = sorted_lane(list(state.probes["health"].get((svc, "n1"), [])))
    span, serves = (_us(244.0), _us(300.0)), [Iv(_us(0), _us(284.68))]
    assert not exit_unordered(state, svc, "n1", span, serves, checks)
    assert exit_unordered(state, svc, "n1", span, serves)


def test_a_ready_pod_beside_names_no_exit() -> None:
    # the control: the replacement p3 ready on n1 before p1's DELETE: kube-proxy forwarded to
    # it, so p1's exit opened nothing (p3 ready only after the DELETE left an excursion whose
    # close is possible unseen, replay.unseen, and the range then began before p3 was ready)
    w = _run(ready_beside=True)
    assert w.cls == "node-not-ready"
    assert "pod-gone-before-deregistered" not in w.also


def test_a_pod_still_in_its_prestop_hook_names_no_exit() -> None:
    # the control: p1's preStop sleeps 30 s, so the kubelet signals it no sooner than 271 s:
    # it could not exit in (244.0, 244.5] (random 34,000,046 node-001: preStop 30.2 s, grace
    # 30 s, the node down 2.8 s after the DELETE)
    w = window_on(_observations(prestop=30), "n1")
    assert w.cls == "node-not-ready"
    assert "pod-gone-before-deregistered" not in w.also


def test_a_node_without_probes_names_no_exit() -> None:
    # the control: no kube-proxy look at all, only the Kubernetes streams and the LB's polls:
    # the node's end is bounded by the node controller's grace alone (tens of seconds), so
    # the rule is not applied (on 34,000,000- it named two right windows for one wrong)
    obs = [o for o in _observations() if o.source != "kube-proxy-probe"]
    w = window_on(obs, "n1")
    assert w.cls == "node-not-ready"
    assert "pod-gone-before-deregistered" not in w.also
