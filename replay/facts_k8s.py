"""The facts of Kubernetes objects (replay.facts: one extractor per kind, the columns each fills
are listed there): EndpointSlices, Pods, Nodes, Services, Events and the workloads that own pods.
Each takes the observation and the row's common columns and answers its rows. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.replay.payload import as_dict, as_list, time_us
from gapwatch.replay.podstate import UNREADY, runs_unready

SERVICE_LABEL = "kubernetes.io/service-name"
#: discovery.k8s.io/v1beta1's topology key for the endpoint's node (v1 has `nodeName`; before
#: 1.21 a v1beta1 slice usually carried only this, "the hostname of the node ... should match
#: the corresponding node label": the Node's name wherever kubelet's hostname is not overridden)
HOSTNAME_KEY = "kubernetes.io/hostname"
#: a Node labelled so is never an LB target of the service controller, whatever the value (GA
#: in 1.21; kubeadm sets it on control-plane nodes)
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)")


def _text(value: Any) -> str | None:
    """`value` in a text column: None unless it is a string (as replay.facts types a row)."""
    return value if value is None or isinstance(value, str) else None


def slice_rows(obs: Observation, base: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The slice facts, each a finished row (FACT_COLUMNS order, seq numbered, the text
    columns typed): a slice version has a row per node, and building each as a dict cost
    twice what the tuple does (ingest session 28)."""
    meta = as_dict(obs.payload.get("metadata"))
    service = as_dict(meta.get("labels")).get(SERVICE_LABEL)
    if not service:
        return []
    ns = meta.get("namespace") or obs.namespace
    slice_name = _text(meta.get("name") or obs.name)
    state = _text(obs.op)
    head = (base["event_id"], 0, base["cluster"], base["at_us"], base["prev_us"],
            base["src_us"], base["fact"], base["op"], ns, service)  # fmt: skip
    rows: list[tuple[Any, ...]] = [
        (*head, None, state, None, None, None, None, slice_name, None, None)
    ]
    if obs.op == "DELETED" or obs.payload.get("addressType") == "FQDN":
        # kube-proxy programs IPv4 and IPv6 slices only: an FQDN slice forwards nothing
        return rows
    per_node: dict[str, list[Any]] = {}
    # The loop over every endpoint of every slice version (the ingest's hot path): as_dict and
    # a condition read as "its truth, the default when not stated", spelled out.
    for ep in as_list(obs.payload.get("endpoints")):
        if type(ep) is not dict:
            ep = as_dict(ep)
        node = ep.get("nodeName") or as_dict(ep.get("topology")).get(HOSTNAME_KEY)
        if not node or not isinstance(node, str):
            continue
        cond = ep.get("conditions")
        if type(cond) is not dict:
            cond = as_dict(cond)
        # as kube-proxy reads them: `ready` is ready even while terminating (the controller
        # sets that only for a Service with publishNotReadyAddresses, and kube-proxy forwards
        # to it as to any ready endpoint); a terminating one that is not is serving-terminating
        value = cond.get("ready")
        ready = True if value is None else bool(value)
        value = cond.get("serving")
        serving = ready if value is None else bool(value)
        value = cond.get("terminating")
        terminating = False if value is None else bool(value)
        counts = per_node.get(node)
        if counts is None:
            counts = per_node[node] = [0, 0, 0, [], []]
        counts[0] += ready
        counts[1] += serving and terminating and not ready
        counts[2] += terminating
        ref = ep.get("targetRef")
        if type(ref) is not dict:
            ref = as_dict(ref)
        if ref.get("name"):
            counts[3].append(str(ref["name"]))
            if ready:
                counts[4].append(str(ref["name"]))
    event_id, rest = head[0], head[2:]
    for seq, node in enumerate(sorted(per_node), start=1):
        ready, serving_term, terminating, pods, ready_pods = per_node[node]
        rows.append(
            (event_id, seq, *rest, node, state, ready, serving_term, terminating, None,
             slice_name, ",".join(sorted(set(pods))), ",".join(sorted(set(ready_pods))) or None)
        )  # fmt: skip
    return rows


def _prestop_ms(spec: Mapping[str, Any]) -> int | None:
    best: float | None = None
    for container in as_list(spec.get("containers")):
        hook = as_dict(as_dict(as_dict(container).get("lifecycle")).get("preStop"))
        seconds: float | None = None
        if "sleep" in hook:
            raw = as_dict(hook["sleep"]).get("seconds")
            seconds = float(raw) if isinstance(raw, int | float) else None
        elif "exec" in hook:
            match = _SLEEP.search(
                " ".join(str(c) for c in as_list(as_dict(hook["exec"]).get("command")))
            )
            seconds = float(match.group(1)) if match else None
        if seconds is not None:
            best = seconds if best is None else max(best, seconds)
    return None if best is None else int(best * 1000)


def _finished_us(statuses: Sequence[Mapping[str, Any]]) -> int | None:
    """When the pod's containers last stopped, as their kubelet wrote it: the newest
    `state.terminated.finishedAt` or, after a restart, `lastState.terminated.finishedAt`
    (RFC 3339, whole seconds, the node's clock); None when no container reports one."""
    best: int | None = None
    for c in statuses:
        for key in ("state", "lastState"):
            at = time_us(as_dict(as_dict(c.get(key)).get("terminated")).get("finishedAt"))
            if at is not None and (best is None or at > best):
                best = at
    return best


def restarted(statuses: Sequence[Mapping[str, Any]]) -> tuple[int, int, int, bool] | None:
    """The newest restart the kubelet reports: a container running again after a stop, as
    (its `lastState.terminated.finishedAt`, its `state.running.startedAt`, its
    `restartCount`, whether it is `ready`); RFC 3339 whole seconds on the node's clock, in
    us. None where no running container reports a stop before its start."""
    best: tuple[int, int, int, bool] | None = None
    for c in statuses:
        done = time_us(as_dict(as_dict(c.get("lastState")).get("terminated")).get("finishedAt"))
        began = time_us(as_dict(as_dict(c.get("state")).get("running")).get("startedAt"))
        if done is None or began is None or began < done:
            continue  # a new container starts after the old one stopped (same node clock)
        if best is not None and done <= best[0]:
            continue
        count = c.get("restartCount")
        best = (done, began, count if isinstance(count, int) else 0, c.get("ready") is True)
    return best


def restart_facts(
    row: dict[str, Any], statuses: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The `restart` row beside a Pod's `pod` row (same pod and node) where a container runs
    again after a stop (`restarted`): state `ready` or `running` (the restarted container's
    own `ready`), num1 the stop's finishedAt, num2 the new container's startedAt (us), num3
    its restartCount. Replay (replay.podstate.restarted) reads it only where the finishedAt is newer
    than any the pod reported before: a crash and a restart between two status writes."""
    found = restarted(statuses)
    if found is None or row["state"] == "gone":
        return []
    done, began, count, ready = found
    return [
        dict(
            row,
            fact="restart",
            state="ready" if ready else "running",
            num1=done,
            num2=began,
            num3=count,
            num4=None,
            text1=None,
            text2=None,
            text3=None,
        )
    ]


def pod_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    meta, spec, status = (as_dict(payload.get(k)) for k in ("metadata", "spec", "status"))
    deletion = time_us(meta.get("deletionTimestamp"))
    statuses = [as_dict(c) for c in as_list(status.get("containerStatuses"))]
    all_done = bool(statuses) and all("terminated" in as_dict(c.get("state")) for c in statuses)
    ready = any(
        as_dict(c).get("type") == "Ready" and as_dict(c).get("status") == "True"
        for c in as_list(status.get("conditions"))
    )
    if obs.op == "DELETED" or status.get("phase") in ("Succeeded", "Failed") or all_done:
        state = "gone"
    elif deletion is not None:
        state = "terminating"
    elif ready:
        state = "ready"
    else:  # a readiness loss while the kubelet reports it running (replay.podstate)
        state = UNREADY if runs_unready(spec, status) else "pending"
    grace = meta.get("deletionGracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    owner = next(
        (
            f"{as_dict(o).get('kind')}/{as_dict(o).get('name')}"
            for o in as_list(meta.get("ownerReferences"))
            if as_dict(o).get("controller", True)
        ),
        None,
    )
    labels = as_dict(meta.get("labels"))
    revision = labels.get("pod-template-hash") or labels.get("controller-revision-hash")
    row = dict(
        base,
        namespace=meta.get("namespace") or obs.namespace,
        name=meta.get("name") or obs.name,
        node=spec.get("nodeName") or obs.node,
        state=state,
        num1=deletion,
        num2=int(grace) if isinstance(grace, int | float) else None,
        num3=_prestop_ms(spec),
        num4=_finished_us(statuses),
        text1=owner,
        text2=revision,
        text3=status.get("podIP") or None,
    )
    return [row, *restart_facts(row, statuses)]


def node_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    meta, spec, status = (as_dict(payload.get(k)) for k in ("metadata", "spec", "status"))
    ready = next(
        (
            as_dict(c).get("status")
            for c in as_list(status.get("conditions"))
            if as_dict(c).get("type") == "Ready"
        ),
        None,
    )
    state = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    if obs.op == "DELETED":
        state = "Deleted"
    info = as_dict(status.get("nodeInfo"))
    name = meta.get("name") or obs.node or obs.name
    addresses = [
        str(as_dict(a).get("address"))
        for a in as_list(status.get("addresses"))
        if as_dict(a).get("type") in ("InternalIP", "ExternalIP") and as_dict(a).get("address")
    ]
    return [
        dict(
            base,
            name=name,
            node=name,
            state=state,
            num1=int(bool(spec.get("unschedulable"))),
            num2=int(EXCLUDE_LB_LABEL in as_dict(meta.get("labels"))),
            text1=info.get("kubeProxyVersion") or info.get("kubeletVersion"),
            text2=spec.get("providerID"),
            text3=",".join(addresses) or None,
        )
    ]


def service_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    meta, spec = as_dict(obs.payload.get("metadata")), as_dict(obs.payload.get("spec"))
    ports = [str(as_dict(p).get("nodePort")) for p in as_list(spec.get("ports"))]
    return [
        dict(
            base,
            namespace=meta.get("namespace") or obs.namespace,
            name=meta.get("name") or obs.name,
            state=spec.get("type", "ClusterIP"),
            num1=spec.get("healthCheckNodePort"),
            text1=spec.get("externalTrafficPolicy"),
            text2=",".join(p for p in ports if p != "None"),
        )
    ]


def event_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    involved = as_dict(payload.get("involvedObject") or payload.get("regarding"))
    source = as_dict(payload.get("source")).get("component") or payload.get("reportingComponent")
    when = payload.get("lastTimestamp") or payload.get("eventTime")
    return [
        dict(
            base,
            src_us=base["src_us"] or time_us(when),
            namespace=involved.get("namespace"),
            name=involved.get("name"),
            state=payload.get("reason"),
            num1=payload.get("count") if isinstance(payload.get("count"), int) else None,
            text1=source,
            text2=str(payload.get("message") or payload.get("note") or "")[:200],
            text3=involved.get("kind"),
        )
    ]


def workload_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    meta, spec = as_dict(obs.payload.get("metadata")), as_dict(obs.payload.get("spec"))
    owner = next(
        (
            f"{as_dict(o).get('kind')}/{as_dict(o).get('name')}"
            for o in as_list(meta.get("ownerReferences"))
        ),
        None,
    )
    labels = as_dict(meta.get("labels"))
    replicas = spec.get("replicas")
    return [
        dict(
            base,
            namespace=meta.get("namespace") or obs.namespace,
            name=meta.get("name") or obs.name,
            state=obs.kind,
            num1=replicas if isinstance(replicas, int) else None,
            text1=owner,
            text2=labels.get("pod-template-hash"),
        )
    ]
