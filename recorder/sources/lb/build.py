"""Build the LB pollers from their configuration sections (REGISTRY keys `elbv2`, `alibaba-slb`,
`tencent-clb`, `huawei-elb`). docs/recorder.md shows each section.

Common keys: `interval_s` (default 5), `heartbeat_s` (60), `max_backoff_s` (300), `endpoint`
(a private or test endpoint), `region`, `service` (`NAMESPACE/NAME` the group serves). No key
holds a credential: each SDK reads its cloud's standard chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sources.base import Source, SourceContext
from gapwatch.recorder.sources.lb.intime import ANSWER_SECONDS
from gapwatch.recorder.sources.lb.metrics import PollerMetrics
from gapwatch.recorder.sources.lb.nodemap import StoreNodes
from gapwatch.recorder.sources.lb.poller import Adapter, PollerSource, PollSettings
from gapwatch.recorder.sources.lb.sizecap import MAX_ANSWER_BYTES
from gapwatch.recorder.sources.lb.tracker import NO_SERVICE, ServiceKey
from gapwatch.recorder.sources.view import NodeInfo

NodesFn = Callable[[], Iterable[NodeInfo]]

_COMMON = {"interval_s", "heartbeat_s", "max_backoff_s", "endpoint", "region", "service"}


class Settings:
    """A configuration section, read key by key with errors that name the source and key."""

    def __init__(self, source: str, raw: Mapping[str, Any], allowed: Iterable[str]) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"sources.{source}: expected a mapping")
        unknown = sorted(set(raw) - _COMMON - set(allowed))
        if unknown:
            raise ConfigError(f"sources.{source}: unknown key(s): {', '.join(unknown)}")
        self.source, self.raw = source, raw

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise ConfigError(f"sources.{self.source}.{key}: required")
            return None
        if not isinstance(value, str) or not value:
            raise ConfigError(f"sources.{self.source}.{key}: expected a non-empty string")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"sources.{self.source}.{key}: expected a number > 0")
        return float(value)

    def texts(self, key: str) -> list[str]:
        value = self.raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"sources.{self.source}.{key}: expected a list of strings")
        return list(value)

    def service(self, key: str = "service") -> ServiceKey:
        return parse_service(self.text(key), f"sources.{self.source}.{key}")

    def plan(self, adapter: AdapterFactory) -> Plan:
        """A plan whose groups all serve the configured `service`."""
        service = self.service()
        return Plan(adapter, lambda _group: service, self.poll())

    def sdk_plan(self, client: Callable[..., Adapter], **arguments: Any) -> Plan:
        """`plan` of a cloud SDK's client: `client(count=..., answer_seconds=..., **arguments)`,
        its calls' time `answer_timeout_s` (lb/sdkcalls.py)."""
        seconds = self.number("answer_timeout_s", ANSWER_SECONDS)
        return self.plan(lambda count: client(count=count, answer_seconds=seconds, **arguments))

    def poll(self) -> PollSettings:
        default = PollSettings()
        return PollSettings(
            interval_s=self.number("interval_s", default.interval_s),
            heartbeat_s=self.number("heartbeat_s", default.heartbeat_s),
            max_backoff_s=self.number("max_backoff_s", default.max_backoff_s),
        )


def parse_service(value: str | None, where: str) -> ServiceKey:
    """`NAMESPACE/NAME` (or None) as a ServiceKey."""
    if value is None:
        return NO_SERVICE
    ns, _, name = value.partition("/")
    if not ns or not name or "/" in name:
        raise ConfigError(f"{where}: expected NAMESPACE/NAME, got {value!r}")
    return ServiceKey(ns, name)


#: An adapter factory (given the API-call counter) and the Service of each group.
AdapterFactory = Callable[[Callable[[str], None]], Adapter]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a poller's settings say: how to make its adapter, whose groups, how often."""

    adapter: AdapterFactory
    service_of: Callable[[str], ServiceKey]
    settings: PollSettings


def plan_elbv2(raw: Mapping[str, Any]) -> Plan:
    from gapwatch.recorder.sources.lb.bounded import MAX_ANSWER_BYTES
    from gapwatch.recorder.sources.lb.elbv2 import Elbv2Groups, TargetGroupRef

    keys = {
        "target_groups",
        "tags",
        "max_attempts",
        "max_answer_bytes",
        "answer_timeout_s",
        "target_group_bindings",
        "api_server",
        "kubeconfig",
    }
    s = Settings("elbv2", raw, keys)
    groups = []
    for i, item in enumerate(raw.get("target_groups") or []):
        if not isinstance(item, Mapping) or not isinstance(item.get("arn"), str):
            raise ConfigError(f"sources.elbv2.target_groups[{i}]: expected {{arn, service}}")
        where = f"sources.elbv2.target_groups[{i}].service"
        groups.append(TargetGroupRef(item["arn"], parse_service(item.get("service"), where)))
    tags = raw.get("tags") or {}
    if not isinstance(tags, Mapping) or not all(isinstance(v, str) for v in tags.values()):
        raise ConfigError("sources.elbv2.tags: expected a mapping of tag key to value")
    use_bindings = raw.get("target_group_bindings", False)
    if not isinstance(use_bindings, bool):
        raise ConfigError("sources.elbv2.target_group_bindings: expected true or false")
    if not groups and not tags and not use_bindings:
        raise ConfigError("sources.elbv2: give target_groups, tags or target_group_bindings")
    region, endpoint = s.text("region"), s.text("endpoint")
    api_server, kubeconfig = s.text("api_server"), s.text("kubeconfig")
    attempts = int(s.number("max_attempts", 3))
    answer_bytes = int(s.number("max_answer_bytes", MAX_ANSWER_BYTES))
    answer_seconds = s.number("answer_timeout_s", ANSWER_SECONDS)
    holder = Elbv2Groups(groups, dict(tags), service=s.service())

    def adapter(count: Callable[[str], None]) -> Adapter:
        if use_bindings:
            from gapwatch.recorder.sources.lb.bindings import BindingLister

            holder.bindings = BindingLister(api_server=api_server, kubeconfig=kubeconfig)
        holder.connect(
            region=region,
            endpoint_url=endpoint,
            max_attempts=attempts,
            count=count,
            max_answer_bytes=answer_bytes,
            answer_seconds=answer_seconds,
        )
        return holder

    return Plan(adapter, holder.service_of, s.poll())


def plan_alibaba(raw: Mapping[str, Any]) -> Plan:
    from gapwatch.recorder.sources.lb.alibaba import AlibabaSlbClient

    keys = {"load_balancer_id", "vserver_group_id", "answer_timeout_s", "max_answer_bytes"}
    s = Settings("alibaba-slb", raw, keys)
    lb, group = s.text("load_balancer_id", required=True), s.text("vserver_group_id", required=True)
    region, endpoint = s.text("region", required=True), s.text("endpoint")
    assert lb and group and region
    return s.sdk_plan(
        AlibabaSlbClient,
        load_balancer_id=lb,
        vserver_group_id=group,
        region=region,
        endpoint=endpoint,
        max_answer_bytes=int(s.number("max_answer_bytes", MAX_ANSWER_BYTES)),
    )


def plan_tencent(raw: Mapping[str, Any]) -> Plan:
    from gapwatch.recorder.sources.lb.tencent import TencentClbClient

    keys = {"load_balancer_id", "listener_ids", "answer_timeout_s", "max_answer_bytes"}
    s = Settings("tencent-clb", raw, keys)
    lb, region = s.text("load_balancer_id", required=True), s.text("region", required=True)
    listeners, endpoint = s.texts("listener_ids"), s.text("endpoint")
    assert lb and region
    return s.sdk_plan(
        TencentClbClient,
        load_balancer_id=lb,
        region=region,
        listener_ids=listeners,
        endpoint=endpoint,
        max_answer_bytes=int(s.number("max_answer_bytes", MAX_ANSWER_BYTES)),
    )


def plan_huawei(raw: Mapping[str, Any]) -> Plan:
    from gapwatch.recorder.sources.lb.huawei import HuaweiElbClient

    s = Settings("huawei-elb", raw, {"pool_id", "answer_timeout_s", "max_answer_bytes"})
    pool, region, endpoint = s.text("pool_id", required=True), s.text("region"), s.text("endpoint")
    if region is None and endpoint is None:
        raise ConfigError("sources.huawei-elb: give region or endpoint")
    assert pool
    return s.sdk_plan(
        HuaweiElbClient,
        pool_id=pool,
        region=region,
        endpoint=endpoint,
        max_answer_bytes=int(s.number("max_answer_bytes", MAX_ANSWER_BYTES)),
    )


#: Configuration key -> its plan (the recorder's REGISTRY and `gapwatch poll` share these).
PLANS: dict[str, Callable[[Mapping[str, Any]], Plan]] = {
    "elbv2": plan_elbv2,
    "alibaba-slb": plan_alibaba,
    "tencent-clb": plan_tencent,
    "huawei-elb": plan_huawei,
}


def _source(
    context: SourceContext, key: str, raw: Mapping[str, Any], nodes: NodesFn | None = None
) -> PollerSource:
    """A PollerSource wired to the recorder's context (its ClusterView's Nodes by default)."""
    plan = PLANS[key](raw)
    if nodes is None:
        # the Kubernetes source's live view; without one in this recorder, the store's Nodes
        stored = StoreNodes(context.engine, context.cluster)

        def nodes() -> Iterable[NodeInfo]:
            return context.view.nodes() or stored()

    from gapwatch.recorder.sources.lb.laststate import store_resume

    return PollerSource(
        name=key,
        cluster=context.cluster,
        adapter=plan.adapter,
        clock=context.clock,
        metrics=PollerMetrics(context.registry, key, context.clock),
        nodes=nodes,
        service_of=plan.service_of,
        settings=plan.settings,
        rng=context.rng,
        resume=store_resume(context.engine, context.cluster, plan.settings.heartbeat_s),
        flush_each_look=False,
    )


def build_elbv2(context: SourceContext, raw: Mapping[str, Any]) -> Source:
    return _source(context, "elbv2", raw)


def build_alibaba(context: SourceContext, raw: Mapping[str, Any]) -> Source:
    return _source(context, "alibaba-slb", raw)


def build_tencent(context: SourceContext, raw: Mapping[str, Any]) -> Source:
    return _source(context, "tencent-clb", raw)


def build_huawei(context: SourceContext, raw: Mapping[str, Any]) -> Source:
    return _source(context, "huawei-elb", raw)
