"""A ready-set excursion that no look saw stays possible when the first failing look in its
reach is one the health check did not answer (the node unreachable, not kube-proxy's close),
no health look from its loss on answered 503 counting none (kube-proxy's close of it, seen),
and a look that saw the lane fine came after the return and before it (replay.unseen.hidden's
`cut`), from literal observations shaped as random seeds 34,000,005 node-003, 34,000,745
node-001 and 30,000,265 node-002 (tests/replay/builders.py shapes)."""

from __future__ import annotations

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import (
    covers,
    eps,
    health,
    node,
    node_unknown,
    nodeport,
    pod,
    service,
    target,
    windows_of,
)


def _rollout(
    *, health_answers: bool, with_nodeport: bool, close_seen: bool = False
) -> list[Observation]:
    """kube-proxy 1.25 (ProxyTerminatingEndpoints off by default), looked at every 5 s, each
    look stored on change and once a minute. p1 is terminating from 59.6 s (the node has no
    ready endpoint), p2 ready beside it from 62.7 s: no look fell inside. The node goes down
    at 73.4 s: the looks at 75 s time out (the health check's stored at 76 s, when it gave
    up), the Node is Unknown from 113 s. `health_answers`: the health check answered 503
    counting none at 75 s instead (kube-proxy's close, not the node's). `close_seen`: kube-proxy
    1.24 (the gate may have been turned on), and the health check answered 503 counting none at
    61 s and 200 again at 65 s while the NodePort stayed connected (kube-proxy's close of this
    loss, seen, forwarding to the serving-terminating pod: 34,000,745 and 30,000,265)."""
    version = "v1.24.0" if close_seen else "v1.25.0"
    obs = [
        service(0),
        node(0, "n1", version=version),
        pod(1, "p1", "n1", "ready"),
        eps(1, [("p1", "n1", "ready")]),
        target(1, None, "n1", "healthy", "ADDED"),
        health(1, None, "n1", 1),
        health(60, 55, "n1", 1),
        pod(59.3, "p1", "n1", "terminating", deleted_at=59.3),
        eps(59.6, [("p1", "n1", "terminating")]),
        pod(60.5, "p2", "n1", "pending", revision="bbb"),
        eps(60.6, [("p1", "n1", "terminating"), ("p2", "n1", "unready")]),
        pod(62.5, "p2", "n1", "ready", revision="bbb"),
        eps(62.7, [("p1", "n1", "terminating"), ("p2", "n1", "ready")]),
        target(70, 60, "n1", "healthy"),
        health(76, 70, "n1", 0 if health_answers else None),
        node_unknown(113, "n1", version=version),
    ]
    if close_seen:
        obs += [health(61, 60, "n1", 0), health(65, 61, "n1", 1)]
    if with_nodeport:
        obs += [
            nodeport(1, None, "n1", "connected"),
            nodeport(60, 55, "n1", "connected"),
            nodeport(75, 70, "n1", "timeout", latency_ms=1000.0),
        ]
    return sorted(obs, key=lambda o: o.observed_at)


def _around(windows: list[Window]) -> bool:
    """Some window covers the gap kube-proxy may have made: the loss programmed after the look
    at 60 s, the return before the one at 65 s (the truth of 34,000,005: 60.57-62.65 s)."""
    return covers(windows, 60.6, 62.6)


def test_a_silent_look_after_good_ones_leaves_the_excursion_possible() -> None:
    """The health check got no answer at 75 s (the node down), and the looks at 65 and 70 s
    (stored as the timeout's previous look) saw the lane fine after the return: the timeout
    cannot be kube-proxy's close of this loss, so the gap may have opened and closed unseen
    before them. On main the timeout set the excursion aside and no window covered it."""
    for with_nodeport in (True, False):
        windows = windows_of(_rollout(health_answers=False, with_nodeport=with_nodeport))
        assert _around(windows), with_nodeport


def test_a_503_after_good_ones_still_sets_the_excursion_aside() -> None:
    """The control: the health check answered 503 counting none at 75 s, kube-proxy's own
    close, which a single loss makes once: the lane's steps bound it, as before."""
    for with_nodeport in (True, False):
        windows = windows_of(_rollout(health_answers=True, with_nodeport=with_nodeport))
        assert not _around(windows), with_nodeport


def test_a_503_before_the_silent_look_sets_the_excursion_aside() -> None:
    """With the NodePort probes (the lane F reads), the health check answered 503 counting none
    inside the excursion and 200 after it while the NodePort stayed connected, and the node's
    timeouts came later: that 503 was kube-proxy's close of this loss, seen (one loss makes one
    close), so the timeout does not keep the excursion possible (the uncertain false windows of
    34,000,745 node-001 and 30,000,265 node-002, which the rule without this condition,
    s38-miss-rule de4e5c7, added: here [59.1, 65.0]). Without the NodePort probes that 503 is
    the health lane's own first failing look, and its window is the lane's reading."""
    obs = _rollout(health_answers=False, with_nodeport=True, close_seen=True)
    assert not _around(windows_of(obs))
