"""Classing a window on a node that goes away, from literal observations (the shapes of
tests/replay/builders.py): a Node's deletion carries no write time, so the watch may show it up
to the watch skew after the probe that saw the node stop; a health check that times out after
a window has ended says nothing about that window's cause."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.replay.model import Window
from tests.replay.builders import (
    _k8s,
    _sample,
    eps,
    health,
    nodeport,
    one_node,
    pod,
    target,
    windows_of,
)


def _deleted(t: float, name: str, op: str = "DELETED") -> Observation:
    payload: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {"providerID": f"aws:///eu-west-1a/i-{name}"},
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
    }
    return _k8s(t, "Node", op, payload, node=name)


def _windows(obs: list[Observation]) -> list[Window]:
    return windows_of(obs)


def _deleted_after_probe(seen: float, drained: bool = False) -> list[Window]:
    """The machine is deleted at 100.2 s: the probe sent at 100.5 s times out (known 1 s
    later), its pod's forced deletion and the emptied EndpointSlice are seen at 100.45 and
    100.6 s, the Node's DELETED at `seen`. `drained`: the pod was deleted gracefully first
    (seen terminating at 100.0 s), so its removal is its own, not PodGC's of a deleted Node's
    pods (replay.orphans)."""
    first = [pod(100.0, "p1", "n1", "terminating", deleted_at=100)] if drained else []
    gone = (
        pod(100.45, "p1", "n1", "gone", deleted_at=100)
        if drained
        else pod(100.45, "p1", "n1", "gone")
    )
    return _windows(
        [
            *one_node(),
            nodeport(2, None, "n1", "connected"),
            *first,
            gone,
            eps(100.6, []),
            _deleted(seen, "n1"),
            nodeport(101.5, 100.0, "n1", "timeout", latency_ms=1000),
            target(110, 105, "n1", "draining"),
        ]
    )


def test_a_node_deleted_just_before_the_watch_shows_it_is_node_not_ready() -> None:
    # the DELETED seen 0.3 s after the probe: within the 0.5 s watch skew
    (window,) = _deleted_after_probe(100.8)
    assert window.certain and window.cls == "node-not-ready"


def test_a_deletion_seen_later_than_the_watch_skew_leaves_the_pods_cause() -> None:
    # seen 2 s after the probe, the pod deleted gracefully before: not the cause the probe saw
    (window,) = _deleted_after_probe(102.5, drained=True)
    assert window.cls == "pod-gone-before-deregistered"


def test_a_pod_removed_at_once_dates_a_deletion_seen_later() -> None:
    # the pod's forced removal before the Node's deletion was seen: PodGC removes the pods of a
    # Node already deleted, so the node was gone by then (rule L), however late the watch
    (window,) = _deleted_after_probe(102.5)
    assert window.certain and window.cls == "node-not-ready"


def _health_timeout(t: float, prev: float, name: str) -> Observation:
    payload: dict[str, Any] = {"status": None, "body": None, "error": "timeout", "port": 31805}
    return _sample(t, prev, "ProxyHealth", "kube-proxy-probe", name, payload)


def test_a_health_timeout_after_the_window_is_not_its_cause() -> None:
    # The pod crashes at 50.2 s (the NodePort refuses at 50.3 s), a replacement is forwarded
    # from 52.4 s; the health check, stored as changes, said 200 since 2 s. At 100 s the
    # machine stops: its health check times out, and the node controller marks the Node
    # Unknown 40 s later (node_grace_s), which confirms the crash (a timeout alone is a hung
    # health server: replay.proxy.silent_stretches). The first window is the pod's, not a node
    # down 50 s before the node went.
    obs = [
        *one_node(),
        health(2, None, "n1", 1),
        nodeport(2, None, "n1", "connected"),
        nodeport(50.3, 50.2, "n1", "refused"),
        pod(50.4, "p1", "n1", "gone"),
        pod(51, "p2", "n1", "ready"),
        eps(51, [("p2", "n1", "ready")]),
        nodeport(52.4, 52.3, "n1", "connected"),
        _health_timeout(101, 96, "n1"),
        nodeport(101, 96, "n1", "timeout", latency_ms=1000),
        _deleted(140, "n1", op="MODIFIED"),
    ]
    first, last = _windows(obs)
    assert first.cls == "pod-gone-before-deregistered" and first.certain
    assert last.cls == "node-not-ready" and last.start_earliest_us > first.end_latest_us
