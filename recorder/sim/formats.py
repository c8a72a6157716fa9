"""The simulator's run written as the postmortem formats, for end-to-end tests with ground truth.

- `k8s-audit`: every Kubernetes object change as an audit.k8s.io/v1 event at level
  RequestResponse, stage ResponseComplete, the object as `responseObject`. `stageTimestamp` is
  the watch observer's time of the same change (the simulator models one apiserver-to-observer
  delay, not two). A Pod's final deletion is the kubelet's DELETE with `gracePeriodSeconds: 0`,
  as on a real node; graceful deletion is a DELETE whose response still holds the Pod.
- `cloudtrail`: one `{"Records": [...]}` file of RegisterTargets / DeregisterTargets calls at the
  instants the CCM made them (CloudTrail's eventTime has whole seconds).
- `elb-access-log`: the ALB access log, every failed request's line and a sample of successful
  ones (recorder.sim.alblog), in request order.
- `prometheus`: kube-proxy's lag metrics per node as a Prometheus `query_range` answer
  (recorder.sim.promformat).
"""

from __future__ import annotations

from collections import Counter
from typing import IO, Any

import orjson

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim.alblog import access_log_lines
from gapwatch.recorder.sim.emit import ACCESS_LOG, K8S
from gapwatch.recorder.sim.promformat import query_range
from gapwatch.recorder.sim.result import Simulation
from gapwatch.recorder.sim.trail import trail_record, uid
from gapwatch.recorder.timefmt import format_time, to_micros

FORMATS = ("k8s-audit", "cloudtrail", "elb-access-log", "prometheus")
#: kind -> (API group/version for objectRef, resource)
_RESOURCES = {
    "EndpointSlice": ("discovery.k8s.io/v1", "endpointslices"),
    "Pod": ("v1", "pods"),
    "Node": ("v1", "nodes"),
    "Service": ("v1", "services"),
    "ReplicaSet": ("apps/v1", "replicasets"),
    "Deployment": ("apps/v1", "deployments"),
    "DaemonSet": ("apps/v1", "daemonsets"),
    "StatefulSet": ("apps/v1", "statefulsets"),
    "Event": ("v1", "events"),
}
_VERBS = {"ADDED": ("create", 201), "MODIFIED": ("update", 200), "DELETED": ("delete", 200)}


def audit_event(obs: Observation) -> dict[str, Any]:
    """The audit event an apiserver would log for one watched object change."""
    group, resource = _RESOURCES[obs.kind]
    verb, code = _VERBS[obs.op]
    meta = obs.payload.get("metadata") or {}
    request: dict[str, Any] | None = None
    if obs.op == "MODIFIED" and meta.get("deletionTimestamp") and obs.kind == "Pod":
        verb = "delete"  # graceful deletion: the Pod lives on with deletionTimestamp set
    if obs.op == "DELETED":
        request = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
    prefix = "/api/v1" if group == "v1" else f"/apis/{group}"
    ns_part = f"/namespaces/{obs.namespace}" if obs.namespace else ""
    when = format_time(obs.observed_at)
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": uid(obs.kind, obs.namespace, obs.name, obs.resource_version, obs.op),
        "stage": "ResponseComplete",
        "requestURI": f"{prefix}{ns_part}/{resource}/{obs.name}",
        "verb": verb,
        "user": {"username": "system:serviceaccount:kube-system:simulator"},
        "sourceIPs": ["10.0.0.1"],
        "userAgent": "gapwatch-simulator",
        "objectRef": {
            "resource": resource,
            "namespace": obs.namespace,
            "name": obs.name,
            "apiGroup": group.rpartition("/")[0],
            "apiVersion": group.rpartition("/")[2],
        },
        "responseStatus": {"metadata": {}, "code": code},
        "responseObject": obs.payload,
        "requestReceivedTimestamp": when,
        "stageTimestamp": when,
    }
    if request is not None:
        event["requestObject"] = request
    return event


def _trail_records(sim: Simulation) -> list[dict[str, Any]]:
    world = sim.world
    assert world is not None, "run the simulation first"
    return [trail_record(world, at_us, node, call) for at_us, node, call in world.lb.calls]


def write_format(sim: Simulation, fmt: str, out: IO[str]) -> Counter[str]:
    """Run `sim` and write its records in `fmt` (one of FORMATS); counts per record type."""
    counts: Counter[str] = Counter()
    failed: list[tuple[int, str]] = []
    for obs in sim:
        if fmt == "k8s-audit" and obs.source == K8S and obs.kind in _RESOURCES:
            out.write(orjson.dumps(audit_event(obs)).decode())
            out.write("\n")
            counts[f"audit {obs.kind}"] += 1
        elif fmt == "elb-access-log" and obs.source == ACCESS_LOG:
            assert obs.source_time is not None
            failed.append((to_micros(obs.source_time), str(obs.payload["line"])))
    world = sim.world
    assert world is not None, "run the simulation first"
    if fmt == "elb-access-log":
        start = to_micros(world.clock.dt(0))
        lines = [(at - start, line) for at, line in failed]
        for line in access_log_lines(world, sim.seed, lines):
            out.write(line)
            out.write("\n")
            counts["access-log line"] += 1
    if fmt == "prometheus":
        answer = query_range(world)
        out.write(orjson.dumps(answer).decode())
        out.write("\n")
        counts["Prometheus series"] = len(answer["data"]["result"])
    if fmt == "cloudtrail":
        records = _trail_records(sim)
        out.write(orjson.dumps({"Records": records}).decode())
        out.write("\n")
        counts["CloudTrail record"] += len(records)
    return counts
