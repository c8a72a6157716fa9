"""Narrow facts: what replay needs from each observation, extracted once at ingest.

Parsing whole Kubernetes objects on every replay caps it near 20,000 events/s, so the writer's
derive hook turns every new observation into a few narrow typed rows of the `facts` table (keyed by
event id and a sequence number) and replay reads those only. `derive(event_id, obs)` is pure;
`write_facts` is the EventWriter derive hook (COPY on PostgreSQL, executemany on SQLite). The
recorder does not import replay: whoever builds an EventWriter hands it `write_facts` (the CLI
wires it into the recorder's commands through recorder.cliutil.Wiring). The extractors, one per
observed kind: replay.facts_k8s (Kubernetes objects) and replay.facts_probes (the rest).

One row per fact; what the generic columns hold depends on `fact` (full table in docs/sql.md):

- slice, pod and node facts: src_us is when the API server wrote the object's version, to the
  second (replay.owntime: the newest managedFields time; None without managedFields or for a
  DELETED), not the observation's source_time.
- slice: namespace/name = the Service (label kubernetes.io/service-name); one header row with
  node NULL, then one row per node: num1 ready (terminating or not, as kube-proxy counts it),
  num2 serving-terminating (not ready), num3 terminating
  endpoint counts; text1 slice name, text2 the endpoints' pod names, text3 the ready ones'
  (comma-separated; NULL when none is named, as in rows written before it was added: with
  ready endpoints counted, unknown).
- pod: the Pod and its node; state pending/ready/unready/terminating/gone (unready: not Ready
  while its kubelet reports every container running, a readiness loss: replay.podstate;
  facts derived before it say pending there); num1 deletionTimestamp (us),
  num2 grace period (s), num3 preStop sleep (ms), num4 when a container last stopped (us: the
  newest containerStatuses[].state/lastState.terminated.finishedAt, the kubelet's node clock,
  whole seconds; NULL when none is reported); text1 owner Kind/name, text2 revision hash,
  text3 status.podIP (IP targets of an LB map here).
- restart: beside a pod row (same event, next seq) where a running container reports a stop
  before its start (replay.facts_k8s.restart_facts): the Pod and its node; state `ready` or
  `running` (that container's own `ready`); num1 its lastState.terminated.finishedAt, num2
  its state.running.startedAt (us, the node's clock, whole seconds), num3 its restartCount.
  Replay reads it only where the finishedAt is newer than any the pod reported before
  (replay.podstate.restarted: a crash and a restart between two status writes). Rows derived
  before it: none (read as before).
- node: state Ready/NotReady/Unknown/Deleted; num1 unschedulable, num2 1 when labelled
  node.kubernetes.io/exclude-from-external-load-balancers; text1 kube-proxy version,
  text2 providerID, text3 the node's IP addresses (comma-separated: access-log targets map here).
- service: state spec.type; num1 healthCheckNodePort; text1 externalTrafficPolicy, text2 nodePorts.
- event: namespace/name the involved object; state reason; num1 count; text1 component,
  text2 message, text3 involved kind; src_us the Event's own time.
- workload: ReplicaSet/Deployment/DaemonSet/StatefulSet; state its kind; num1 replicas;
  text1 owner Kind/name, text2 pod-template-hash.
- health: ProxyHealth; state the HTTP status or the error; num1 localEndpoints,
  num2 serviceProxyHealthy; num3 1 when prev_us is the stored observation a restarted prober
  resumed from, not a look of its own (a `resume`, or a change marked `resumed`), else NULL;
  text1 the prober's `look` (first/change/heartbeat/resume/last).
- nodeport: NodePortProbe; state connected/refused/reset/timeout/error; num1 latency (us);
  num3 as health's; text1 the prober's `look`.
- target: TargetHealth; state healthy/initial/unhealthy/draining/unused/absent (DELETED);
  num1 the target group's HealthCheckPort; num3 1 when prev_us is the stored observation a
  restarted poller resumed from (its first look at the group: payload `resumed`), else NULL;
  text1 target group, text2 reason, text3 target id.
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
  kubeproxy_sync_proxy_rules_duration_seconds `_count` (every rules sync of the process) and
  `_sum` (us); text2 the look's latency (us, decimal: the page was written between at_us and
  at_us + it); text3 process_start_time_seconds (us, decimal: which process answered). None
  without num1.
  Also from ProxyNodeHealth (kube-proxy's /healthz, /livez), a 503 only (replay.facts_nodehealth):
  state `unsynced`, at_us the earliest the answer was written, num1 its lastUpdated (the last
  sync) on the prober's clock, text1 the path; or state `ignored` (num1 NULL), text2 why the
  lastUpdated was not read. A 200's lastUpdated is the answer's own time: no fact.
  Also from ProxyConfig (kube-proxy's /configz, stored when it changes): state `config`, num1
  FeatureGates.ProxyTerminatingEndpoints, num2 AllAlpha, num3 AllBeta (1 / 0; NULL: the
  configuration does not name it, so the version's default holds), text1 the proxy mode
  (NULL: not set, the platform's default). replay.gateconf.
- apireq: APIRequest (an audit event at level Metadata/Request: no object): namespace/name the
  object (node: a Node's name); state the verb; text1 the object's kind, text2 the user, text3
  the subresource; src_us stageTimestamp.
- relist: RelistGap (a watch relisted after 410 Gone: recorder/sources/k8s/relist_gap.py):
  state the watched kind; namespace the watch's (NULL: every namespace); at_us the relist's end,
  prev_us the last instant the watch was known in sync (NULL: unknown); num1 how many objects
  changed in between and text1 their `namespace/name`s (comma-separated; both NULL: unknown,
  any object may have). replay.relisted.
- selfcheck: NodePortSelfCheck (the prober's NodePort looks were answered by the cluster-wide
  chain); a fact of the cluster: namespace and name NULL, node the node it was found at;
  state the verdict (`short-circuited`); text1 the Service it was found at (`namespace/name`),
  text2 the address looked at. Replay then reads none of the cluster's NodePort looks
  (replay.shortcircuit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.tables import copy_types
from gapwatch.recorder.timefmt import to_micros, to_micros_or_none
from gapwatch.replay import facts_k8s, facts_nodehealth, facts_probes
from gapwatch.replay.owntime import write_stamp_us
from gapwatch.replay.tables import facts as facts_table


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


#: Facts whose src_us is the write stamp of the object's version (replay.owntime): the lanes
#: they feed are bounded by it, so a late watch does not move them.
_WRITE_STAMPED = frozenset({"slice", "pod", "node"})

#: Per kind, its fact and its extractor: rows as dicts of every column (the base's, changed), or
#: for the facts in _FINISHED rows as tuples already in FACT_COLUMNS order, seq numbered and
#: the columns typed (a slice has a row per node: a dict each cost twice the tuple).
_FINISHED = frozenset({"slice"})
_EXTRACTORS: dict[str, tuple[str, Callable[[Observation, dict[str, Any]], list[Any]]]] = {
    "EndpointSlice": ("slice", facts_k8s.slice_rows),
    "Pod": ("pod", facts_k8s.pod_facts),
    "Node": ("node", facts_k8s.node_facts),
    "Service": ("service", facts_k8s.service_facts),
    "Event": ("event", facts_k8s.event_facts),
    "ReplicaSet": ("workload", facts_k8s.workload_facts),
    "Deployment": ("workload", facts_k8s.workload_facts),
    "DaemonSet": ("workload", facts_k8s.workload_facts),
    "StatefulSet": ("workload", facts_k8s.workload_facts),
    "ProxyHealth": ("health", facts_probes.health_facts),
    "NodePortProbe": ("nodeport", facts_probes.nodeport_facts),
    "TargetHealth": ("target", facts_probes.target_facts),
    "LBAccessLog": ("access", facts_probes.access_facts),
    "TargetChange": ("member", facts_probes.target_change_and_settings_facts),
    "TargetGroupAttributes": ("tgconf", facts_probes.tgconf_facts),
    "ProxyMetrics": ("sync", facts_probes.sync_facts),
    "ProxyNodeHealth": ("sync", facts_nodehealth.node_health_facts),
    "ProxyConfig": ("sync", facts_probes.config_facts),
    "APIRequest": ("apireq", facts_probes.api_request_facts),
    "RelistGap": ("relist", facts_probes.relist_gap_facts),
    "NodePortSelfCheck": ("selfcheck", facts_probes.selfcheck_facts),
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
        # the API server's time of this version's write (replay.owntime), not source_time
        "src_us": (
            write_stamp_us(obs.op, payload)
            if fact in _WRITE_STAMPED
            else to_micros_or_none(obs.source_time)
        ),
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
    rows = extract(obs, base)
    if fact in _FINISHED:
        return list(map(_new_fact, rows))
    if len(rows) == 1:  # most observations: no enumerate, no second list
        return [_new_fact(_values(_typed(rows[0])))]  # seq 0, as in base
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
    """`row` with each text and number column of a foreign type emptied (what `_retyped` does),
    checked first in one expression: every value is usually of its column's type already."""
    state, text1, text2, text3 = row["state"], row["text1"], row["text2"], row["text3"]
    num1, num2, num3, num4 = row["num1"], row["num2"], row["num3"], row["num4"]
    if (
        (state is None or type(state) is str)
        and (text1 is None or type(text1) is str)
        and (text2 is None or type(text2) is str)
        and (text3 is None or type(text3) is str)
        and (num1 is None or (type(num1) is int and -_INT64 <= num1 <= _INT64))
        and (num2 is None or (type(num2) is int and -_INT64 <= num2 <= _INT64))
        and (num3 is None or (type(num3) is int and -_INT64 <= num3 <= _INT64))
        and (num4 is None or (type(num4) is int and -_INT64 <= num4 <= _INT64))
    ):
        return row
    return _retyped(row)


def _retyped(row: dict[str, Any]) -> dict[str, Any]:
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
