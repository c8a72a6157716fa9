"""kube-proxy's /metrics, read with prometheus_client's own text parser.

Kept (the kube-proxy lag metrics):
- `kubeproxy_sync_proxy_rules_last_timestamp_seconds`: the last successful rules sync;
- `kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds`: the last time a sync was queued
  (queued later than synced, for long, means kube-proxy is stuck);
- `kubeproxy_network_programming_duration_seconds` `_sum` and `_count` (cumulative; the mean
  between two scrapes is d(sum)/d(count); measured from the EndpointSlice annotation
  `endpoints.kubernetes.io/last-change-trigger-time`, so skewed by clock drift between machines);
- `kubeproxy_sync_proxy_rules_no_local_endpoints_total` per `traffic_policy` (1.24+);
- `kubeproxy_sync_proxy_rules_duration_seconds` `_count` and `_sum` (cumulative, every rules
  sync since the process started, failed ones too: upstream observes it in a deferred call at
  the end of every sync, pkg/proxy/iptables/proxier.go, metric defined in
  pkg/proxy/metrics/metrics.go): two scrapes of one process whose counts differ by 0 or 1 say
  no sync, or exactly one, ran in between (replay.synccount);
- `process_start_time_seconds` (the Prometheus client's process collector, registered by every
  Kubernetes component): which kube-proxy process answered, so counts are compared only within
  one;
- `kubernetes_feature_enabled{name="ProxyTerminatingEndpoints",...}` (component-base's feature
  gate metric, every component from 1.26: kubernetes#112690): whether this kube-proxy runs with
  ProxyTerminatingEndpoints on, which its version alone does not say on 1.26-1.27 (on by
  default, can be turned off); the other gates' samples are not kept.
A sample with labels is keyed `name{label="value",...}` (labels sorted), as Prometheus prints it.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

LAST_SYNC = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
LAST_QUEUED = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
PROGRAMMING = "kubeproxy_network_programming_duration_seconds"
NO_LOCAL = "kubeproxy_sync_proxy_rules_no_local_endpoints_total"
SYNC_DURATION = "kubeproxy_sync_proxy_rules_duration_seconds"
SYNC_COUNT = SYNC_DURATION + "_count"
SYNC_SUM = SYNC_DURATION + "_sum"
PROCESS_START = "process_start_time_seconds"
FEATURE = "kubernetes_feature_enabled"
#: The one feature gate detection reads (replay.proxy.pte_known).
PTE_GATE = "ProxyTerminatingEndpoints"
WANTED = frozenset(
    {
        LAST_SYNC,
        LAST_QUEUED,
        PROGRAMMING + "_sum",
        PROGRAMMING + "_count",
        NO_LOCAL,
        SYNC_COUNT,
        SYNC_SUM,
        PROCESS_START,
    }
)
#: A real kube-proxy /metrics page is ~75 KB (elastic/beats' 1.29 fixture); refuse far larger.
MAX_METRICS_BYTES = 4 * 1024 * 1024


class MetricsError(ValueError):
    """The page is not Prometheus text."""


def _key(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return name
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def parse_metrics(text: str) -> dict[str, float]:
    """The kept samples of one /metrics page; MetricsError when it does not parse."""
    out: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in WANTED or (
                    sample.name == FEATURE and sample.labels.get("name") == PTE_GATE
                ):
                    out[_key(sample.name, dict(sample.labels))] = float(sample.value)
    except ValueError as exc:
        raise MetricsError(str(exc)[:200]) from exc
    return out


def summarize(metrics: dict[str, float]) -> dict[str, Any]:
    """Derived figures stored beside the raw ones: `queued_unsynced_s` is last queued minus last
    synced when positive (a sync is pending that long), else 0; None when either is missing."""
    synced, queued = metrics.get(LAST_SYNC), metrics.get(LAST_QUEUED)
    pending = None if synced is None or queued is None else round(max(0.0, queued - synced), 6)
    return {"queued_unsynced_s": pending}
