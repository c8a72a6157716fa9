"""The facts of what is not a Kubernetes object (replay.facts lists the columns each fills): the
prober's kube-proxy health answers, NodePort probes and metrics scrapes, the LB's TargetHealth,
access-log lines and target-group settings, CloudTrail's target changes, audit requests and the
recorder's own relist gaps. Each takes the observation and the row's common columns and answers
its rows. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gapwatch.recorder.accessfields import is_lb_failure, target_of
from gapwatch.recorder.observation import Observation
from gapwatch.replay.facts_nodehealth import latency_us
from gapwatch.replay.payload import as_dict
from gapwatch.replay.tgsettings import settings_read


def health_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    status = obs.payload.get("status")
    body = as_dict(obs.payload.get("body"))
    local = body.get("localEndpoints")
    healthy = body.get("serviceProxyHealthy")
    return [
        dict(
            base,
            state=str(status) if status is not None else str(obs.payload.get("error") or "error"),
            num1=local if isinstance(local, int) else None,
            num2=None if healthy is None else int(bool(healthy)),
            num3=_resumed(obs),
            text1=_look(obs),
        )
    ]


def nodeport_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    latency = obs.payload.get("latency_ms")
    return [
        dict(
            base,
            state=str(obs.payload.get("result")),
            num1=int(latency * 1000) if isinstance(latency, int | float) else None,
            num3=_resumed(obs),
            text1=_look(obs),
        )
    ]


def _look(obs: Observation) -> str | None:
    """Why the prober stored the look (`first`, `change`, `heartbeat`, `resume`, `last`), None
    when the source does not say (the simulator but for its `last` looks, older recordings)."""
    look = obs.payload.get("look")
    return look if isinstance(look, str) else None


def _resumed(obs: Observation) -> int | None:
    """1 when the observation's previous_observed_at is the stored observation a restarted
    observer resumed from, not a look of its own (a prober's `resume`, or the first look after a
    restart of a prober or an LB poller that saw a change: payload `resumed`), else None: the
    fold takes no sampling period from it (replay.fold.keep_sample)."""
    if obs.payload.get("resumed") is True or obs.payload.get("look") == "resume":
        return 1
    return None


def target_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    health = as_dict(obs.payload.get("TargetHealth"))
    state = "absent" if obs.op == "DELETED" else str(health.get("State", "unknown")).lower()
    port = obs.payload.get("HealthCheckPort")
    return [
        dict(
            base,
            state=state,
            num1=int(port) if isinstance(port, str | int) and str(port).isdigit() else None,
            num3=_resumed(obs),
            text1=obs.payload.get("TargetGroupArn"),
            text2=health.get("Reason"),
            text3=as_dict(obs.payload.get("Target")).get("Id"),
        )
    ]


def access_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    fields = as_dict(obs.payload.get("fields"))
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


def target_change_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    target = as_dict(payload.get("Target"))
    params = as_dict(payload.get("requestParameters"))
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


def tgconf_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
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


def target_change_and_settings_facts(
    obs: Observation, base: dict[str, Any]
) -> list[dict[str, Any]]:
    return target_change_facts(obs, base) + tgconf_facts(obs, base)


_LAST_SYNC = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
_LAST_QUEUED = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
_SYNC_COUNT = "kubeproxy_sync_proxy_rules_duration_seconds_count"
_SYNC_SUM = "kubeproxy_sync_proxy_rules_duration_seconds_sum"
_PROCESS_START = "process_start_time_seconds"
_PTE_GATE = 'kubernetes_feature_enabled{name="ProxyTerminatingEndpoints"'


def _pte_gate(metrics: Mapping[str, Any]) -> str | None:
    """`true` / `false`: the ProxyTerminatingEndpoints gate as the page's feature-gate metric
    states it (its `stage` label varies by release); None where the page has no such sample."""
    for key, value in metrics.items():
        if key.startswith(_PTE_GATE) and isinstance(value, int | float):
            return "true" if value else "false"
    return None


def _seconds_us(value: Any) -> int | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if value != value or abs(value) > 1e11:
        return None
    return round(float(value) * 1_000_000)


def _count(value: Any) -> int | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return int(value) if ok and value == value and 0 <= value < 2**62 else None


def sync_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    metrics = as_dict(obs.payload.get("metrics"))
    synced = _seconds_us(metrics.get(_LAST_SYNC))
    if synced is None or not obs.node:
        return []
    started = _seconds_us(metrics.get(_PROCESS_START))
    # the page was written after the request went out: a "not yet" look counts from then
    # (the earliest it can have been written: `latency_ms` before it was received)
    latency = latency_us(obs.payload.get("latency_ms"))
    written = base["at_us"] - latency
    return [
        dict(
            base,
            at_us=written,
            state="synced",
            num1=synced,
            num2=_seconds_us(metrics.get(_LAST_QUEUED)),
            num3=_count(metrics.get(_SYNC_COUNT)),
            num4=_seconds_us(metrics.get(_SYNC_SUM)),
            text1=_pte_gate(metrics),
            text2=str(latency),
            text3=None if started is None else str(started),
        )
    ]


#: the `sync` fact's state for kube-proxy's configuration (ProxyConfig, replay.gateconf)
CONFIG = "config"


def _flag(value: Any) -> int | None:
    return int(value) if isinstance(value, bool) else None


def _period_us(value: Any) -> int | None:
    """A stated sync period (seconds) in microseconds; None where it is not a positive number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return round(value * 1_000_000)


def config_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    """ProxyConfig: the gates kube-proxy's configuration names (replay.gateconf), its mode and
    its sync period (replay.syncperiod), one row."""
    gates = obs.payload.get("feature_gates")
    if not isinstance(gates, Mapping) or not obs.node:
        return []
    mode = obs.payload.get("mode")
    return [
        dict(
            base,
            state=CONFIG,
            num1=_flag(gates.get("ProxyTerminatingEndpoints")),
            num2=_flag(gates.get("AllAlpha")),
            num3=_flag(gates.get("AllBeta")),
            text1=mode if isinstance(mode, str) and mode else None,
            num4=_period_us(obs.payload.get("sync_period_s")),
        )
    ]


def api_request_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    ref = as_dict(payload.get("objectRef"))
    return [
        dict(
            base,
            state=payload.get("verb"),
            text1=payload.get("objectKind"),
            text2=payload.get("username"),
            text3=ref.get("subresource") or None,
        )
    ]


def relist_gap_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    kind = obs.payload.get("kind") or obs.name
    if not isinstance(kind, str) or not kind:
        return []
    changed = obs.payload.get("changed")
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return [dict(base, state=kind)]  # unknown: any object may have changed
    return [dict(base, state=kind, num1=len(changed), text1=",".join(changed) or None)]


def selfcheck_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    """A NodePortSelfCheck: the prober's NodePort looks in this cluster were answered by the
    cluster-wide chain (recorder/sources/kubeproxy/selfcheck.py). A fact of the cluster, not of
    the Service it was found at (namespace and name NULL, the Service in text1): replay reads
    none of the cluster's NodePort looks (replay.shortcircuit)."""
    verdict = obs.payload.get("verdict")
    if not isinstance(verdict, str) or not verdict:
        return []
    address = obs.payload.get("address")
    return [
        dict(
            base,
            namespace=None,
            name=None,
            state=verdict,
            text1=f"{obs.namespace or ''}/{obs.name or ''}",
            text2=address if isinstance(address, str) else None,
        )
    ]
