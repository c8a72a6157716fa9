"""Named positions in a fact row (replay.facts.FACT_COLUMNS), per fact kind.

The `facts` table keeps a few generic columns (num1..num4, text1..text3) whose meaning depends on
the fact kind (replay/facts.py says which). The fold reads rows as plain tuples (the hot path),
so each meaning gets a named index here, derived from FACT_COLUMNS: `row[SLICE_READY]`, never
`row[12]`. A column that moves in FACT_COLUMNS moves here with it.
"""

from __future__ import annotations

from gapwatch.replay.facts import FACT_COLUMNS

_AT = {name: i for i, name in enumerate(FACT_COLUMNS)}

# Columns every fact has.
EVENT_ID = _AT["event_id"]
SEQ = _AT["seq"]
CLUSTER = _AT["cluster"]
AT_US = _AT["at_us"]
PREV_US = _AT["prev_us"]
SRC_US = _AT["src_us"]
FACT = _AT["fact"]
OP = _AT["op"]
NAMESPACE = _AT["namespace"]
NAME = _AT["name"]
NODE = _AT["node"]
STATE = _AT["state"]

# slice: one header row (node NULL), then one row per node.
SLICE_READY = _AT["num1"]
SLICE_SERVING_TERMINATING = _AT["num2"]
SLICE_NAME = _AT["text1"]
SLICE_PODS = _AT["text2"]
SLICE_READY_PODS = _AT["text3"]  # the ready ones (NULL: facts written before it was named)

# pod
POD_DELETION_US = _AT["num1"]
POD_GRACE_S = _AT["num2"]
POD_PRESTOP_MS = _AT["num3"]
POD_FINISHED_US = _AT["num4"]  # the kubelet's finishedAt (node clock, whole seconds)
POD_OWNER = _AT["text1"]
POD_REVISION = _AT["text2"]
POD_IP = _AT["text3"]

# restart (replay.facts_k8s.restart_facts: a container running again after a stop)
RESTART_FINISHED_US = _AT["num1"]
RESTART_STARTED_US = _AT["num2"]

# node
NODE_UNSCHEDULABLE = _AT["num1"]
NODE_LB_EXCLUDED = _AT[
    "num2"
]  # 1: labelled node.kubernetes.io/exclude-from-external-load-balancers
NODE_PROXY_VERSION = _AT["text1"]
NODE_PROVIDER_ID = _AT["text2"]
NODE_ADDRESSES = _AT["text3"]  # comma-separated

# service
SERVICE_HC_NODE_PORT = _AT["num1"]
SERVICE_TRAFFIC_POLICY = _AT["text1"]
SERVICE_NODE_PORTS = _AT["text2"]  # comma-separated

# workload
WORKLOAD_OWNER = _AT["text1"]

# health / nodeport: the probe's number (localEndpoints; a NodePort answer's latency in us)
PROBE_NUM = _AT["num1"]
# the prober's `look` (docs/observation.md): a `resume` names no probe interval
PROBE_LOOK = _AT["text1"]
# health / nodeport / target: 1 when prev_us is the stored observation a restarted prober or
# poller resumed from, not a look of its own (replay.facts_probes): it names no look gap
PROBE_RESUMED = _AT["num3"]

# access: 1 when the line is the LB's own failure towards the target; the target ip:port
ACCESS_FAILED = _AT["num1"]
ACCESS_TARGET = _AT["text1"]

# member (CloudTrail TargetChange): registered / deregistered / group-deleted / group-created
MEMBER_PORT = _AT["num1"]
MEMBER_HC_PORT = _AT["num2"]  # group-created: the group's healthCheckPort
MEMBER_GROUP = _AT["text1"]
MEMBER_TARGET = _AT["text3"]

# tgconf: a target group's health-check settings (NULL: not stated)
TGCONF_INTERVAL_US = _AT["num1"]
TGCONF_HEALTHY = _AT["num2"]
TGCONF_UNHEALTHY = _AT["num3"]
TGCONF_GROUP = _AT["text1"]

# sync (ProxyMetrics): kube-proxy's last sync and last queued change (us, its own clock)
SYNC_LAST_US = _AT["num1"]
SYNC_QUEUED_US = _AT["num2"]
SYNC_COUNT = _AT["num3"]  # kubeproxy_sync_proxy_rules_duration_seconds_count
SYNC_SUM_US = _AT["num4"]  # ..._sum, us
SYNC_PROCESS = _AT["text3"]  # process_start_time_seconds, us as a decimal string
SYNC_LATENCY = _AT["text2"]  # the look's latency, us as a decimal string (ProxyMetrics)
SYNC_PTE_GATE = _AT["text1"]  # `true` / `false`: ProxyTerminatingEndpoints' gate metric, or NULL
# sync of state `config` (ProxyConfig, kube-proxy's /configz): the gates as configured (1 / 0;
# NULL: not named) and its proxy mode
CONFIG_PTE = _AT["num1"]  # FeatureGates.ProxyTerminatingEndpoints
CONFIG_ALL_ALPHA = _AT["num2"]  # FeatureGates.AllAlpha
CONFIG_ALL_BETA = _AT["num3"]  # FeatureGates.AllBeta
CONFIG_MODE = _AT["text1"]
CONFIG_SYNC_US = _AT["num4"]  # the sync period its health server times out by, us (NULL: unstated)

# relist (RelistGap): how many objects changed in between, and their namespace/name (NULL: unknown)
RELIST_COUNT = _AT["num1"]
RELIST_CHANGED = _AT["text1"]

# apireq (APIRequest, an audit event without its object): the verb is the state
APIREQ_KIND = _AT["text1"]
APIREQ_USER = _AT["text2"]
APIREQ_SUBRESOURCE = _AT["text3"]
