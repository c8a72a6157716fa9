"""Nodes and Pods as real clusters serve them, through the real writer into a real store (SQLite
and PostgreSQL), replayed.

Field semantics from the API reference (core/v1 Node and Pod,
https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/node-v1/ and
.../workload-resources/pod-v1/) and the well-known labels page
(https://kubernetes.io/docs/reference/labels-annotations-taints/):
`node.kubernetes.io/exclude-from-external-load-balancers` keeps a node out of every LB the
service controller manages, whatever its value; `status.nodeInfo.kubeletVersion` as
distributions stamp it (EKS `v1.29.3-eks-ae9a62a`, GKE `v1.28.11-gke.1019001`, k3s
`v1.30.2+k3s1`); a Pod's Ready condition is False while a readiness gate is, whatever its
containers say; `status.phase` Succeeded or Failed is a pod whose containers all ended. The
Node is the k9s minikube dump (tests/fixtures/k8s/k9s-node-minikube.json), labels as kubeadm
sets them on a control-plane node."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import EventWriter
from gapwatch.replay.facts import write_facts
from tests.replay.builders import _k8s, eps, node, pod, service, unseen_excursion, windows_of
from tests.replay.test_real_slices import _bounds, stored_windows

FIXTURES = Path(__file__).parents[1] / "fixtures" / "k8s"
MINIKUBE = json.loads((FIXTURES / "k9s-node-minikube.json").read_text())
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


def _minikube(t: float, **labels: str) -> Observation:
    payload = copy.deepcopy(MINIKUBE)
    payload["metadata"]["labels"].update(labels)
    return _k8s(t, "Node", "MODIFIED", payload, node="minikube")


def _terminating_on(node_obs: Observation) -> list[Observation]:
    """No prober, no LB poller: the Service's only pod p1 on the node terminates at 20 s."""
    name = str(node_obs.node)
    return [
        service(0),
        node_obs,
        pod(1, "p1", name, "ready"),
        eps(1, [("p1", name, "ready")]),
        pod(20, "p1", name, "terminating", deleted_at=20),
        eps(20, [("p1", name, "stopped")]),
        pod(25, "p1", name, "gone"),
        eps(26, []),
    ]


def test_a_node_labelled_out_of_the_lb_has_no_window(engine: Engine) -> None:
    """Without LB data R is inferred from the endpoints; a node the service controller never
    registers (the exclusion label) is routed to by no LB. Before: the same possible window
    (20-320 s) as on an unlabelled node."""
    plain = windows_of(_terminating_on(_minikube(0)))
    assert [(w.node, w.cls) for w in plain] == [("minikube", "closed-before-deregistered")]
    assert stored_windows(engine, _terminating_on(_minikube(0, **{EXCLUDE: ""}))) == []


def test_the_label_added_later_ends_the_routing_within_the_ccms_lag(engine: Engine) -> None:
    """Labelled at 100 s: the window of 20 s stays (the CCM may take its lag bound, 300 s, to
    drop the node: its end, 320 s, is unchanged), and a pod on the node from 500 s, terminating
    at 600 s, opens none. Before: two more possible windows for it (registered-before-forwarding
    from 500 s, closed-before-deregistered from 600 s)."""
    obs = [
        *_terminating_on(_minikube(0)),
        _minikube(100, **{EXCLUDE: "true"}),
        pod(500, "p2", "minikube", "ready"),
        eps(500, [("p2", "minikube", "ready")]),
        pod(600, "p2", "minikube", "terminating", deleted_at=600),
        eps(600, [("p2", "minikube", "stopped")]),
    ]
    found = stored_windows(engine, obs)
    assert [(w.node, w.cls) for w in found] == [("minikube", "closed-before-deregistered")]
    assert found[0].end_latest_us == windows_of(_terminating_on(_minikube(0)))[0].end_latest_us


@pytest.mark.parametrize(
    ("distribution", "upstream"),
    [
        ("v1.25.16-eks-ae9a62a", "v1.25.16"),
        ("v1.29.3-eks-ae9a62a", "v1.29.3"),
        ("v1.28.11-gke.1019001", "v1.28.11"),
        ("v1.30.2+k3s1", "v1.30.2"),
    ],
)
def test_distribution_versions_read_as_upstream(
    engine: Engine, distribution: str, upstream: str
) -> None:
    """The version rules (ProxyTerminatingEndpoints GA from 1.28: an unseen excursion is no
    window there; before it, a possible one) read a distribution's kubelet version as the
    upstream one it builds on."""
    expected = unseen_excursion(2)
    expected[1] = node(0, "n1", version=upstream)
    obs = unseen_excursion(2)
    obs[1] = node(0, "n1", version=distribution)
    assert _bounds(stored_windows(engine, obs)) == _bounds(windows_of(expected))


def _pod_payload(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "gw-1", "namespace": "istio-system", "uid": "u-1"},
        "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 30, "containers": []},
        "status": status,
    }


def test_pod_states_as_the_api_serves_them(engine: Engine) -> None:
    """A readiness gate not yet true (Ready False, ContainersReady True): pending; ready once
    the gate is; deleted with a 10 s grace (deletionTimestamp is when the kubelet kills it,
    deletionGracePeriodSeconds the grace): terminating, grace 10; a restarted container's
    lastState.terminated.finishedAt (an old crash) beside a running one is kept as the newest
    stop, and a pod whose phase is Succeeded or Failed is gone."""
    gate = [{"type": "example.com/lb-registered", "status": "False"}]
    conditions = [
        {"type": "ContainersReady", "status": "True"},
        {"type": "Ready", "status": "False"},
    ]
    running = {
        "name": "istio-proxy",
        "ready": True,
        "state": {"running": {"startedAt": "2026-11-25T09:00:05Z"}},
        "lastState": {"terminated": {"exitCode": 137, "finishedAt": "2026-11-25T09:00:04Z"}},
    }
    pending = _pod_payload(phase="Running", conditions=conditions, containerStatuses=[running])
    pending["spec"]["readinessGates"] = [{"conditionType": "example.com/lb-registered"}]
    pending["status"]["conditions"] += gate
    ready = copy.deepcopy(pending)
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    deleting = copy.deepcopy(ready)
    deleting["metadata"].update(
        deletionTimestamp="2026-11-25T09:00:40Z", deletionGracePeriodSeconds=10
    )
    succeeded = _pod_payload(phase="Succeeded", conditions=[{"type": "Ready", "status": "False"}])
    failed = _pod_payload(phase="Failed")
    observations = [
        _k8s(t, "Pod", "MODIFIED", payload, node="n1")
        for t, payload in enumerate([pending, ready, deleting, succeeded, failed], start=1)
    ]
    EventWriter(engine, derive=write_facts).write_all(observations)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT state, num1, num2, num4 FROM facts WHERE fact = 'pod' ORDER BY event_id")
        ).all()
    stop_us = 1_795_597_204_000_000  # 2026-11-25T09:00:04Z
    kill_us = stop_us + 36_000_000  # 09:00:40Z
    assert [tuple(r) for r in rows] == [
        ("pending", None, 30, stop_us),
        ("ready", None, 30, stop_us),
        ("terminating", kill_us, 10, stop_us),
        ("gone", None, 30, None),
        ("gone", None, 30, None),
    ]
