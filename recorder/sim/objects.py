"""Payloads shaped like the real objects: Kubernetes API objects, kube-proxy and ELBv2 answers.

Compare with /work/shared/samples (k8s-objects, kube-proxy, aws-elb). Kubernetes timestamps have
whole seconds, as the API server writes them; `Clock.k8s` formats them.
"""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.sim.clock import Clock
from gapwatch.recorder.sim.providers import provider_id
from gapwatch.recorder.sim.scenario import Scenario
from gapwatch.recorder.sim.state import (
    Endpoint,
    KubeletReport,
    NodeState,
    PodState,
    ReplicaSetState,
)


def node_obj(n: NodeState, s: Scenario, clock: Clock, now_us: int) -> dict[str, Any]:
    status = "True" if n.ready else "Unknown" if not n.up else "False"
    reason = "KubeletReady" if n.ready else "NodeStatusUnknown" if not n.up else "KubeletNotReady"
    spec: dict[str, Any] = {"providerID": provider_id(s.nodes.cloud, n.zone, n.instance_id)}
    taints: list[dict[str, Any]] = []
    if n.unschedulable:
        spec["unschedulable"] = True
        taints.append(
            {
                "effect": "NoSchedule",
                "key": "node.kubernetes.io/unschedulable",
                "timeAdded": clock.k8s(now_us),
            }
        )
    if n.to_be_deleted:  # cluster-autoscaler's taint; its value is the Unix time it was set
        taints.append(
            {
                "effect": "NoSchedule",
                "key": "ToBeDeletedByClusterAutoscaler",
                "value": str(int(clock.dt(now_us).timestamp())),
            }
        )
    if taints:
        spec["taints"] = taints
    return {
        "metadata": {
            "name": n.name,
            "uid": n.uid,
            "resourceVersion": n.rv,
            "creationTimestamp": clock.k8s(n.created_us),
            "labels": {
                "kubernetes.io/hostname": n.name,
                "kubernetes.io/os": "linux",
                "topology.kubernetes.io/zone": n.zone,
                "node.kubernetes.io/instance-type": "m5.xlarge",
            },
        },
        "spec": spec,
        "status": {
            "addresses": [
                {"address": n.ip, "type": "InternalIP"},
                {"address": n.name, "type": "Hostname"},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": status,
                    "reason": reason,
                    "lastHeartbeatTime": clock.k8s(now_us),
                    "lastTransitionTime": clock.k8s(now_us),
                }
            ],
            "nodeInfo": {
                "kubeletVersion": s.nodes.kubelet_version,
                "kubeProxyVersion": s.nodes.kube_proxy_version,
                "containerRuntimeVersion": "containerd://1.7.11",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def service_obj(s: Scenario, uid: str, rv: str, clock: Clock) -> dict[str, Any]:
    svc = s.service
    spec: dict[str, Any] = {
        "type": svc.type,
        "externalTrafficPolicy": "Local",
        "internalTrafficPolicy": "Cluster",
        "selector": {"app": s.ingress.name},
        "ports": [
            {
                "name": "http2",
                "port": svc.port,
                "protocol": "TCP",
                "targetPort": 8080,
                "nodePort": svc.node_port,
            }
        ],
        "sessionAffinity": "None",
    }
    if svc.type == "LoadBalancer":
        spec["healthCheckNodePort"] = svc.health_check_node_port
    return {
        "metadata": {
            "name": svc.name,
            "namespace": svc.namespace,
            "uid": uid,
            "resourceVersion": rv,
            "creationTimestamp": clock.k8s(0),
            "labels": {"app": s.ingress.name},
        },
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def pod_obj(p: PodState, clock: Clock, app_label: str, port: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": p.name,
        "namespace": p.namespace,
        "uid": p.uid,
        "resourceVersion": p.rv,
        "creationTimestamp": clock.k8s(p.created_us),
        "labels": {"app": app_label, "pod-template-hash": p.revision},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": p.owner_kind,
                "name": p.owner_name,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if p.owner_kind == "DaemonSet":
        meta["labels"] = {"app": app_label, "controller-revision-hash": p.revision}
    if p.deletion_us is not None:
        meta["deletionTimestamp"] = clock.k8s(p.deletion_us + int(p.grace_s * 1e6))
        meta["deletionGracePeriodSeconds"] = int(p.grace_s)
    container: dict[str, Any] = {
        "name": app_label,
        "image": f"example/{app_label}:{p.revision}",
        "ports": [{"containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": port}},
    }
    if p.prestop_s > 0:
        container["lifecycle"] = {
            "preStop": {"exec": {"command": ["/bin/sleep", f"{p.prestop_s:g}"]}}
        }
    # the status as the kubelet last wrote it; the Ready condition as anyone last set it
    r = p.reported or KubeletReport.of(p)
    conditions = [{"type": "PodScheduled", "status": "True"}]
    if r.started_us is not None or r.exited:
        conditions.append({"type": "Ready", "status": "True" if p.ready else "False"})
        conditions.append({"type": "ContainersReady", "status": "True" if r.ready else "False"})
    last = _terminated(r.stopped, clock)
    if r.exited:
        state: dict[str, Any] = {"terminated": last or {"exitCode": 0, "reason": "Completed"}}
        last = None
    elif r.serving:
        state = {"running": {"startedAt": clock.k8s(r.started_us or p.created_us)}}
    else:
        state = {
            "waiting": {"reason": "ContainerCreating" if not r.restarts else "CrashLoopBackOff"}
        }
    status: dict[str, Any] = {"phase": r.phase, "conditions": conditions, "hostIP": "", "podIP": ""}
    if r.phase != "Pending":
        status["podIP"] = p.ip
        container_status: dict[str, Any] = {
            "name": app_label,
            "ready": r.ready,
            "restartCount": r.restarts,
            "state": state,
        }
        if last is not None:
            container_status["lastState"] = {"terminated": last}
        status["containerStatuses"] = [container_status]
    return {
        "metadata": meta,
        "spec": {
            "nodeName": p.node,
            "terminationGracePeriodSeconds": int(p.grace_s),
            "containers": [container],
        },
        "status": status,
    }


def _terminated(stopped: tuple[int, int, int, str] | None, clock: Clock) -> dict[str, Any] | None:
    """A kubelet's ContainerStateTerminated: RFC 3339 whole seconds (the node's clock: the
    simulator models no node clock skew, so the scenario's), exit code and reason."""
    if stopped is None:
        return None
    started, finished, code, reason = stopped
    return {
        "exitCode": code,
        "reason": reason,
        "startedAt": clock.k8s(started),
        "finishedAt": clock.k8s(finished),
    }


def replicaset_obj(
    rs: ReplicaSetState, ns: str, owner: str, app_label: str, clock: Clock, ready: int
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": rs.name,
            "namespace": ns,
            "uid": rs.uid,
            "resourceVersion": rs.rv,
            "creationTimestamp": clock.k8s(rs.created_us),
            "labels": {"app": app_label, "pod-template-hash": rs.revision},
            "annotations": {"deployment.kubernetes.io/revision": str(rs.number)},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": owner, "controller": True}
            ],
        },
        "spec": {"replicas": rs.replicas},
        "status": {"replicas": len(rs.pods), "readyReplicas": ready},
    }


def workload_obj(
    kind: str,
    name: str,
    ns: str,
    uid: str,
    rv: str,
    generation: int,
    spec: dict[str, Any],
    status: dict[str, Any],
    clock: Clock,
    revision: int,
) -> dict[str, Any]:
    annotations = (
        {"deployment.kubernetes.io/revision": str(revision)} if kind == "Deployment" else {}
    )
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": uid,
            "resourceVersion": rv,
            "generation": generation,
            "creationTimestamp": clock.k8s(0),
            "labels": {"app": name},
            "annotations": annotations,
        },
        "spec": spec,
        "status": status,
    }


def slice_obj(
    name: str,
    s: Scenario,
    rv: str,
    endpoints: list[Endpoint],
    clock: Clock,
    trigger_us: int | None,
    generation: int,
) -> dict[str, Any]:
    annotations = {}
    if trigger_us is not None:
        annotations["endpoints.kubernetes.io/last-change-trigger-time"] = clock.k8s(trigger_us)
    return {
        "metadata": {
            "name": name,
            "namespace": s.service.namespace,
            "resourceVersion": rv,
            "generation": generation,
            "creationTimestamp": clock.k8s(0),
            "labels": {
                "kubernetes.io/service-name": s.service.name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
            "annotations": annotations,
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [e.ip],
                "conditions": {
                    "ready": e.ready,
                    "serving": e.serving,
                    "terminating": e.terminating,
                },
                "nodeName": e.node,
                "targetRef": {"kind": "Pod", "name": e.pod, "namespace": s.service.namespace},
            }
            for e in endpoints
        ],
        "ports": [{"name": "http2", "port": 8080, "protocol": "TCP"}],
    }


def event_obj(
    s: Scenario, name: str, rv: str, reason: str, message: str, count: int, first: str, last: str
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": s.service.namespace, "resourceVersion": rv},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Service",
            "name": s.service.name,
            "namespace": s.service.namespace,
        },
        "reason": reason,
        "message": message,
        "source": {"component": "service-controller"},
        "count": count,
        "firstTimestamp": first,
        "lastTimestamp": last,
        "type": "Normal",
    }
