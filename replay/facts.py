"""Narrow facts: what replay needs from each observation, extracted once at ingest.

Parsing whole Kubernetes objects on every replay caps it near 20,000 events/s, so the writer's
derive hook turns every new observation into a few narrow typed rows of the `facts` table (keyed by
event id and a sequence number) and replay reads those only. `derive(event_id, obs)` is pure;
`write_facts` is the EventWriter derive hook (COPY on PostgreSQL, executemany on SQLite). The
recorder does not import replay: whoever builds an EventWriter hands it `write_facts` (the CLI
wires it into the recorder's commands through recorder.cliutil.Wiring).

One row per fact; what the generic columns hold depends on `fact` (full table in docs/sql.md):

- slice, pod and node facts: src_us is when the API server wrote the object's version, to the
  second (replay.owntime: the newest managedFields time; None without managedFields or for a
  DELETED), not the observation's source_time.
- slice: namespace/name = the Service (label kubernetes.io/service-name); one header row with
  node NULL, then one row per node: num1 ready, num2 serving-terminating, num3 terminating
  endpoint counts; text1 slice name, text2 the endpoints' pod names, text3 the ready ones'
  (comma-separated; NULL when none is named, as in rows written before it was added: with
  ready endpoints counted, unknown).
- pod: the Pod and its node; state pending/ready/terminating/gone; num1 deletionTimestamp (us),
  num2 grace period (s), num3 preStop sleep (ms), num4 when a container last stopped (us: the
  newest containerStatuses[].state/lastState.terminated.finishedAt, the kubelet's node clock,
  whole seconds; NULL when none is reported); text1 owner Kind/name, text2 revision hash,
  text3 status.podIP (IP targets of an LB map here).
- node: state Ready/NotReady/Unknown/Deleted; num1 unschedulable; text1 kube-proxy version,
  text2 providerID, text3 the node's IP addresses (comma-separated: access-log targets map here).
- service: state spec.type; num1 healthCheckNodePort; text1 externalTrafficPolicy, text2 nodePorts.
- event: namespace/name the involved object; state reason; num1 count; text1 component,
  text2 message, text3 involved kind; src_us the Event's own time.
- workload: ReplicaSet/Deployment/DaemonSet/StatefulSet; state its kind; num1 replicas;
  text1 owner Kind/name, text2 pod-template-hash.
- health: ProxyHealth; state the HTTP status or the error; num1 localEndpoints,
  num2 serviceProxyHealthy.
- nodeport: NodePortProbe; state connected/refused/reset/timeout/error; num1 latency (us).
- target: TargetHealth; state healthy/initial/unhealthy/draining/unused/absent (DELETED);
  num1 the target group's HealthCheckPort; text1 target group, text2 reason, text3 target id.
- access: LBAccessLog; state the LB's status code; num1 1 when the line is the LB's own failure
  towards the target (recorder.accessfields.is_lb_failure), else 0; text1 the target ip:port,
  text2 error_reason.
- member: TargetChange (CloudTrail); state registered (op ADDED: RegisterTargets,
  RegisterInstancesWithLoadBalancer), deregistered (op DELETED with a target: DeregisterTargets,
  DeregisterInstancesFromLoadBalancer), group-deleted (DeleteTargetGroup: every target gone) or
  group-created (CreateTargetGroup: no membership; num2 its healthCheckPort when a number);
  num1 the target's port (a NodePort for instance targets; the group's port when created);
  text1 target group ARN or Classic LoadBalancerName, text3 target id (instance id or IP).
  Membership only, no health. A failed call (op OBSERVED, errorCode) and
  ModifyTargetGroupAttributes produce no fact. src_us is eventTime (whole seconds).
- tgconf: a target group's health-check settings (TargetGroupAttributes from the LB poller;
  TargetChange CreateTargetGroup / ModifyTargetGroup from CloudTrail, beside its member row):
  num1 HealthCheckIntervalSeconds (us), num2 HealthyThresholdCount, num3
  UnhealthyThresholdCount (NULL: not stated); text1 the target group ARN.
- sync: ProxyMetrics (the prober's scrape of kube-proxy's /metrics, or a Prometheus import) of
  one node; at_us the scrape; num1 kubeproxy_sync_proxy_rules_last_timestamp_seconds and num2
  ..._last_queued_timestamp_seconds (both in us, kube-proxy's clock); num3 and num4
  kubeproxy_network_programming_duration_seconds `_count` and `_sum` (us). None without num1.
- apireq: APIRequest (an audit event at level Metadata/Request: no object): namespace/name the
  object (node: a Node's name); state the verb; text1 the object's kind, text2 the user, text3
  the subresource; src_us stageTimestamp.
- relist: RelistGap (a watch relisted after 410 Gone: recorder/sources/k8s/relist_gap.py):
  state the watched kind; namespace the watch's (NULL: every namespace); at_us the relist's end,
  prev_us the last instant the watch was known in sync (NULL: unknown); num1 how many objects
  changed in between and text1 their `namespace/name`s (comma-separated; both NULL: unknown,
  any object may have). replay.relisted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection

from gapwatch.recorder.accessfields import is_lb_failure, target_of
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.tables import copy_types
from gapwatch.recorder.timefmt import parse_time, to_micros, to_micros_or_none
from gapwatch.replay.owntime import write_stamp_us
from gapwatch.replay.tables import facts as facts_table
from gapwatch.replay.tgsettings import settings_read

SERVICE_LABEL = "kubernetes.io/service-name"
_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)")


class Fact(NamedTuple):
    """One row of the `facts` table (times in microseconds since the epoch)."""

    event_id: int
    seq: int
    cluster: str
    at_us: int
    prev_us: int | None
    src_us: int | None
    fact: str
    op: str
    namespace: str | None
    name: str | None
    node: str | None
    state: str | None
    num1: int | None = None
    num2: int | None = None
    num3: int | None = None
    num4: int | None = None
    text1: str | None = None
    text2: str | None = None
    text3: str | None = None


#: The `facts` columns in row order (replay.tables.facts has the same, checked by a test).
FACT_COLUMNS: tuple[str, ...] = Fact._fields


def _time_us(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return to_micros(parse_time(text))
    except ValueError:
        return None


def _dict(value: Any) -> Mapping[str, Any]:
    # `type is dict` first: JSON gives dicts, and the ABC check costs ~0.5 us a call
    return value if type(value) is dict or isinstance(value, Mapping) else _EMPTY


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else ()


#: What `_dict` answers for a non-object (read-only: never mutated, shared).
_EMPTY: Mapping[str, Any] = {}


def _cond(conditions: Mapping[str, Any], key: str, default: bool) -> bool:
    value = conditions.get(key)
    return default if value is None else bool(value)


def _slice(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    meta = _dict(obs.payload.get("metadata"))
    service = _dict(meta.get("labels")).get(SERVICE_LABEL)
    if not service:
        return []
    ns = meta.get("namespace") or obs.namespace
    slice_name = meta.get("name") or obs.name
    rows = [dict(base, namespace=ns, name=service, node=None, state=obs.op, text1=slice_name)]
    if obs.op == "DELETED":
        return rows
    per_node: dict[str, list[Any]] = {}
    for ep in _list(obs.payload.get("endpoints")):
        ep = _dict(ep)
        node = ep.get("nodeName")
        if not node:
            continue
        cond = _dict(ep.get("conditions"))
        ready = _cond(cond, "ready", True)
        serving = _cond(cond, "serving", ready)
        terminating = _cond(cond, "terminating", False)
        counts = per_node.setdefault(node, [0, 0, 0, [], []])
        counts[0] += ready and not terminating
        counts[1] += serving and terminating
        counts[2] += terminating
        ref = _dict(ep.get("targetRef"))
        if ref.get("name"):
            counts[3].append(str(ref["name"]))
            if ready and not terminating:
                counts[4].append(str(ref["name"]))
    for node in sorted(per_node):
        ready, serving_term, terminating, pods, ready_pods = per_node[node]
        rows.append(
            dict(
                base,
                namespace=ns,
                name=service,
                node=node,
                state=obs.op,
                num1=ready,
                num2=serving_term,
                num3=terminating,
                text1=slice_name,
                text2=",".join(sorted(set(pods))),
                text3=",".join(sorted(set(ready_pods))) or None,
            )
        )
    return rows


def _prestop_ms(spec: Mapping[str, Any]) -> int | None:
    best: float | None = None
    for container in _list(spec.get("containers")):
        hook = _dict(_dict(_dict(container).get("lifecycle")).get("preStop"))
        seconds: float | None = None
        if "sleep" in hook:
            raw = _dict(hook["sleep"]).get("seconds")
            seconds = float(raw) if isinstance(raw, int | float) else None
        elif "exec" in hook:
            match = _SLEEP.search(
                " ".join(str(c) for c in _list(_dict(hook["exec"]).get("command")))
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
            at = _time_us(_dict(_dict(c.get(key)).get("terminated")).get("finishedAt"))
            if at is not None and (best is None or at > best):
                best = at
    return best


def _pod(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    meta, spec, status = (_dict(payload.get(k)) for k in ("metadata", "spec", "status"))
    deletion = _time_us(meta.get("deletionTimestamp"))
    statuses = [_dict(c) for c in _list(status.get("containerStatuses"))]
    all_done = bool(statuses) and all("terminated" in _dict(c.get("state")) for c in statuses)
    ready = any(
        _dict(c).get("type") == "Ready" and _dict(c).get("status") == "True"
        for c in _list(status.get("conditions"))
    )
    if obs.op == "DELETED" or status.get("phase") in ("Succeeded", "Failed") or all_done:
        state = "gone"
    elif deletion is not None:
        state = "terminating"
    else:
        state = "ready" if ready else "pending"
    grace = meta.get("deletionGracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    owner = next(
        (
            f"{_dict(o).get('kind')}/{_dict(o).get('name')}"
            for o in _list(meta.get("ownerReferences"))
            if _dict(o).get("controller", True)
        ),
        None,
    )
    labels = _dict(meta.get("labels"))
    revision = labels.get("pod-template-hash") or labels.get("controller-revision-hash")
    return [
        dict(
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
    ]


def _node(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    meta, spec, status = (_dict(payload.get(k)) for k in ("metadata", "spec", "status"))
    ready = next(
        (
            _dict(c).get("status")
            for c in _list(status.get("conditions"))
            if _dict(c).get("type") == "Ready"
        ),
        None,
    )
    state = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    if obs.op == "DELETED":
        state = "Deleted"
    info = _dict(status.get("nodeInfo"))
    name = meta.get("name") or obs.node or obs.name
    addresses = [
        str(_dict(a).get("address"))
        for a in _list(status.get("addresses"))
        if _dict(a).get("type") in ("InternalIP", "ExternalIP") and _dict(a).get("address")
    ]
    return [
        dict(
            base,
            name=name,
            node=name,
            state=state,
            num1=int(bool(spec.get("unschedulable"))),
            text1=info.get("kubeProxyVersion") or info.get("kubeletVersion"),
            text2=spec.get("providerID"),
            text3=",".join(addresses) or None,
        )
    ]


def _service(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    meta, spec = _dict(obs.payload.get("metadata")), _dict(obs.payload.get("spec"))
    ports = [str(_dict(p).get("nodePort")) for p in _list(spec.get("ports"))]
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


def _event(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    involved = _dict(payload.get("involvedObject") or payload.get("regarding"))
    source = _dict(payload.get("source")).get("component") or payload.get("reportingComponent")
    when = payload.get("lastTimestamp") or payload.get("eventTime")
    return [
        dict(
            base,
            src_us=base["src_us"] or _time_us(when),
            namespace=involved.get("namespace"),
            name=involved.get("name"),
            state=payload.get("reason"),
            num1=payload.get("count") if isinstance(payload.get("count"), int) else None,
            text1=source,
            text2=str(payload.get("message") or payload.get("note") or "")[:200],
            text3=involved.get("kind"),
        )
    ]


def _workload(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    meta, spec = _dict(obs.payload.get("metadata")), _dict(obs.payload.get("spec"))
    owner = next(
        (
            f"{_dict(o).get('kind')}/{_dict(o).get('name')}"
            for o in _list(meta.get("ownerReferences"))
        ),
        None,
    )
    labels = _dict(meta.get("labels"))
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


def _health(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    status = obs.payload.get("status")
    body = _dict(obs.payload.get("body"))
    local = body.get("localEndpoints")
    healthy = body.get("serviceProxyHealthy")
    return [
        dict(
            base,
            state=str(status) if status is not None else str(obs.payload.get("error") or "error"),
            num1=local if isinstance(local, int) else None,
            num2=None if healthy is None else int(bool(healthy)),
        )
    ]


def _nodeport(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    latency = obs.payload.get("latency_ms")
    return [
        dict(
            base,
            state=str(obs.payload.get("result")),
            num1=int(latency * 1000) if isinstance(latency, int | float) else None,
        )
    ]


def _target(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    health = _dict(obs.payload.get("TargetHealth"))
    state = "absent" if obs.op == "DELETED" else str(health.get("State", "unknown")).lower()
    port = obs.payload.get("HealthCheckPort")
    return [
        dict(
            base,
            state=state,
            num1=int(port) if isinstance(port, str | int) and str(port).isdigit() else None,
            text1=obs.payload.get("TargetGroupArn"),
            text2=health.get("Reason"),
            text3=_dict(obs.payload.get("Target")).get("Id"),
        )
    ]


def _access(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    fields = _dict(obs.payload.get("fields"))
    state = fields.get("elb_status_code")
    reason = fields.get("error_reason")
    return [
        dict(
            base,
            state=None if state is None else str(state),
            num1=int(is_lb_failure(fields)),
            text1=target_of(fields),
            text2=None if reason in (None, "-") else str(reason),
        )
    ]


def _target_change(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    target = _dict(payload.get("Target"))
    params = _dict(payload.get("requestParameters"))
    port, check = target.get("Port"), None
    if obs.op == "ADDED" and target:
        state = "registered"
    elif obs.op == "DELETED":
        state = "deregistered" if target else "group-deleted"
    elif obs.op == "ADDED" and payload.get("eventName") == "CreateTargetGroup":
        # no membership, but which port the group sends to and which one it health-checks
        state, port, check = "group-created", params.get("port"), params.get("healthCheckPort")
    else:  # a failed call (OBSERVED) or new attributes: no membership changed
        return []
    return [
        dict(
            base,
            state=state,
            num1=port if type(port) is int else None,
            num2=int(check) if isinstance(check, str) and check.isdigit() else check,
            text1=payload.get("TargetGroupArn") or payload.get("LoadBalancerName"),
            text3=target.get("Id"),
        )
    ]


def _tgconf(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    """A target group's health-check settings, where the observation states any."""
    read = settings_read(obs.kind, obs.op, obs.payload)
    interval = read.get("hc_interval_s")
    healthy, unhealthy = read.get("hc_healthy_threshold"), read.get("hc_unhealthy_threshold")
    if interval is None and healthy is None and unhealthy is None:
        return []
    return [
        dict(
            base,
            fact="tgconf",
            num1=None if interval is None else round(interval * 1_000_000),
            num2=None if healthy is None else int(healthy),
            num3=None if unhealthy is None else int(unhealthy),
            text1=obs.payload.get("TargetGroupArn"),
        )
    ]


def _target_change_and_settings(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    return _target_change(obs, base) + _tgconf(obs, base)


_LAST_SYNC = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
_LAST_QUEUED = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
_PROGRAMMING = "kubeproxy_network_programming_duration_seconds"


def _seconds_us(value: Any) -> int | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if value != value or abs(value) > 1e11:
        return None
    return round(float(value) * 1_000_000)


def _count(value: Any) -> int | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return int(value) if ok and value == value and abs(value) < 2**62 else None


def _sync(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    metrics = _dict(obs.payload.get("metrics"))
    synced = _seconds_us(metrics.get(_LAST_SYNC))
    if synced is None or not obs.node:
        return []
    count = metrics.get(_PROGRAMMING + "_count")
    return [
        dict(
            base,
            state="synced",
            num1=synced,
            num2=_seconds_us(metrics.get(_LAST_QUEUED)),
            num3=_count(count),
            num4=_seconds_us(metrics.get(_PROGRAMMING + "_sum")),
        )
    ]


def _api_request(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    ref = _dict(payload.get("objectRef"))
    return [
        dict(
            base,
            state=payload.get("verb"),
            text1=payload.get("objectKind"),
            text2=payload.get("username"),
            text3=ref.get("subresource") or None,
        )
    ]


def _relist_gap(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    kind = obs.payload.get("kind") or obs.name
    if not isinstance(kind, str) or not kind:
        return []
    changed = obs.payload.get("changed")
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return [dict(base, state=kind)]  # unknown: any object may have changed
    return [dict(base, state=kind, num1=len(changed), text1=",".join(changed) or None)]


#: Facts whose src_us is the write stamp of the object's version (replay.owntime): the lanes
#: they feed are bounded by it, so a late watch does not move them.
_WRITE_STAMPED = frozenset({"slice", "pod", "node"})

_EXTRACTORS = {
    "EndpointSlice": ("slice", _slice),
    "Pod": ("pod", _pod),
    "Node": ("node", _node),
    "Service": ("service", _service),
    "Event": ("event", _event),
    "ReplicaSet": ("workload", _workload),
    "Deployment": ("workload", _workload),
    "DaemonSet": ("workload", _workload),
    "StatefulSet": ("workload", _workload),
    "ProxyHealth": ("health", _health),
    "NodePortProbe": ("nodeport", _nodeport),
    "TargetHealth": ("target", _target),
    "LBAccessLog": ("access", _access),
    "TargetChange": ("member", _target_change_and_settings),
    "TargetGroupAttributes": ("tgconf", _tgconf),
    "ProxyMetrics": ("sync", _sync),
    "APIRequest": ("apireq", _api_request),
    "RelistGap": ("relist", _relist_gap),
}


def derive(event_id: int, obs: Observation) -> list[Fact]:
    """The facts of one stored observation (none for kinds replay does not use)."""
    entry = _EXTRACTORS.get(obs.kind)
    payload = obs.payload
    if entry is None or not (type(payload) is dict or isinstance(payload, Mapping)):
        return []
    fact, extract = entry
    # Every column present (the extractors fill theirs): a row becomes its tuple by one
    # itemgetter call, without a second dict or keyword arguments (the ingest hot path).
    base: dict[str, Any] = {
        "event_id": event_id,
        "seq": 0,
        "cluster": obs.cluster,
        "at_us": to_micros(obs.observed_at),
        "prev_us": to_micros_or_none(obs.previous_observed_at),
        "src_us": to_micros_or_none(obs.source_time),
        "fact": fact,
        "op": obs.op,
        "namespace": obs.namespace,
        "name": obs.name,
        "node": obs.node,
        "state": None,
        "num1": None,
        "num2": None,
        "num3": None,
        "num4": None,
        "text1": None,
        "text2": None,
        "text3": None,
    }
    if fact in _WRITE_STAMPED:
        # the API server's time of this version's write (replay.owntime), not source_time
        base["src_us"] = write_stamp_us(obs.op, obs.payload)
    rows = extract(obs, base)
    out = []
    for i, row in enumerate(rows):  # each row is the extractor's own copy: safe to change
        row["seq"] = i
        out.append(_new_fact(_values(_typed(row))))
    return out


#: A row dict's values in FACT_COLUMNS order, and a Fact from them (tuple.__new__: no kwargs).
_values = itemgetter(*FACT_COLUMNS)
_new_fact = Fact._make


_INT64 = 2**63 - 1
#: What an extractor copies out of the payload: a mutated or foreign object may hold any JSON
#: there (a list for a providerID, a string for a count); the column keeps only its own type.
_TEXT_KEYS = ("state", "text1", "text2", "text3")
_NUM_KEYS = ("num1", "num2", "num3", "num4")


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    for key in _TEXT_KEYS:
        value = row[key]
        if value is not None and type(value) is not str and not isinstance(value, str):
            row[key] = None
    for key in _NUM_KEYS:
        value = row[key]
        if value is None or (type(value) is int and -_INT64 <= value <= _INT64):
            continue
        finite = isinstance(value, float) and value == value and abs(value) < _INT64
        row[key] = int(value) if isinstance(value, bool) or finite else None
    return row


def derive_all(rows: Iterable[tuple[int, Observation]]) -> list[Fact]:
    """Facts of many (event id, observation) pairs, in event id order."""
    out: list[Fact] = []
    for event_id, obs in rows:
        out.extend(derive(event_id, obs))
    return out


#: Binary COPY: the server parses no text (measured with the writer's events COPY: 58,000-69,000
#: rows/s against 48,000-50,000 in text format, recorder/writer.py).
_BINARY = "(FORMAT BINARY)"
_FACT_TYPES = copy_types(facts_table, FACT_COLUMNS)


def insert_facts(conn: Connection, facts: Sequence[Fact]) -> None:
    """Append facts inside the caller's transaction (COPY on PostgreSQL)."""
    if not facts:
        return
    raw: Any = conn.connection.driver_connection
    cols = ", ".join(FACT_COLUMNS)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY facts ({cols}) FROM STDIN {_BINARY}") as copy:
            copy.set_types(_FACT_TYPES)
            for fact in facts:
                copy.write_row(fact)
    else:
        marks = ", ".join("?" for _ in FACT_COLUMNS)
        raw.executemany(f"INSERT INTO facts ({cols}) VALUES ({marks})", facts)


def write_facts(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    """The EventWriter derive hook: facts for the batch's new events, same transaction."""
    insert_facts(conn, derive_all(rows))
