"""AWS ELBv2 (NLB/ALB target groups) through boto3: `DescribeTargetHealth` per target group.

Credentials come from boto3's standard chain (environment, shared config, web identity / IRSA,
instance metadata), never from gapwatch's configuration, and are never logged. Per look and
target group: one `DescribeTargetHealth`; every `settings_every` looks also `DescribeTargetGroups`
(the `HealthCheckPort` and the health-check interval, timeout and thresholds) and
`DescribeTargetGroupAttributes` (`deregistration_delay.*`, `slow_start.*`, `target_health_state.*`,
`target_failover.*`). The payload is each `TargetHealthDescription` exactly as AWS returns it.

Target groups come from the configuration (ARN, optionally the Service) or from tags: the AWS Load
Balancer Controller tags its target groups `service.k8s.aws/stack = NAMESPACE/NAME`, the in-tree
cloud provider `kubernetes.io/service-name = NAMESPACE/NAME`; either names the Service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sources.lb.bounded import (
    ANSWER_SECONDS,
    MAX_ANSWER_BYTES,
    MAX_HELD,
    AnswerRefused,
    bound_answers,
)
from gapwatch.recorder.sources.lb.shape import (
    GroupLook,
    LbApiError,
    MissingExtra,
    Target,
    Throttled,
)
from gapwatch.recorder.sources.lb.tracker import NO_SERVICE, ServiceKey

#: Error codes AWS uses to ask a client to slow down (botocore's retry handler uses the same).
THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
)
#: The error code of a target group that does not exist (any more).
NOT_FOUND = "TargetGroupNotFound"
#: Tags that name the Service of a target group (AWS LB Controller; in-tree cloud provider).
SERVICE_TAGS = ("service.k8s.aws/stack", "kubernetes.io/service-name")
#: Target group attributes that decide how fast the LB stops or starts routing to a target.
TIMING_ATTRIBUTE_PREFIXES = (
    "deregistration_delay.",
    "slow_start.",
    "target_health_state.",
    "target_failover.",
)
_GROUP_TIMING_FIELDS = (
    "HealthCheckProtocol",
    "HealthCheckPath",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "UnhealthyThresholdCount",
)
#: Pages of one DescribeTargetGroups listing at most: ELBv2's quota is 3,000 target groups per
#: Region (AWS, "Quotas for your Network Load Balancers"), so even one group a page ends within
#: it. A marker answered before ends the listing too. Before session 33 either was a loop for
#: ever: the look never returned and the list of ARNs grew by a page at each call.
MAX_PAGES = 3_000
#: Characters of botocore's reason kept when an answer cannot be parsed (its exception's text
#: goes on with the whole answer, up to `max_answer_bytes`: not for a log line).
MAX_REASON = 200
#: Looks between two refreshes of the target groups' settings: at the default 5 s interval,
#: once a minute (settings change rarely; a change still shows within a minute).
DEFAULT_SETTINGS_EVERY = 12


@dataclass(frozen=True, slots=True)
class TargetGroupRef:
    """A target group to poll and the Service it serves (when known)."""

    arn: str
    service: ServiceKey = NO_SERVICE


def _client_error(exc: Exception, operation: str) -> LbApiError:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = str(exc.response.get("Error", {}).get("Message", ""))
        cls = Throttled if code in THROTTLE_CODES else LbApiError
        return cls(f"elbv2 {operation}: {code}: {message}", code=code)
    return LbApiError(f"elbv2 {operation}: {type(exc).__name__}: {exc}")


def service_from_tags(tags: Mapping[str, str]) -> ServiceKey:
    """The Service a target group's tags name, if any."""
    for key in SERVICE_TAGS:
        value = tags.get(key, "")
        if "/" in value:
            ns, name = value.split("/", 1)
            return ServiceKey(ns, name)
    return NO_SERVICE


class Elbv2Client:
    """Blocking ELBv2 calls; `count(operation)` is called for every HTTP attempt (retries too)."""

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = 3,
        count: Callable[[str], None] = lambda _op: None,
        settings_every: int = DEFAULT_SETTINGS_EVERY,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        answer_seconds: float = ANSWER_SECONDS,
        max_held: int = MAX_HELD,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - boto3 is a core dependency
            raise MissingExtra("AWS", None, exc) from exc
        config = Config(
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=10,
        )
        from botocore.exceptions import BotoCoreError

        try:
            self._client: Any = boto3.session.Session().client(
                "elbv2", region_name=region, endpoint_url=endpoint_url, config=config
            )
        except BotoCoreError as exc:  # no region, a bad endpoint URL, a broken AWS config
            raise ConfigError(f"elbv2: {exc} (give --region / `region:`, or AWS_REGION)") from exc
        self._client.meta.events.register(
            "before-send.elastic-load-balancing-v2",
            lambda event_name, **_kw: count(event_name.rsplit(".", 1)[-1]),
        )
        bound_answers(
            self._client,
            event_service="elastic-load-balancing-v2",
            max_bytes=max_answer_bytes,
            seconds=answer_seconds,
            max_held=max_held,
        )
        self.settings_every = max(1, settings_every)
        self._looks = 0
        self._settings: dict[str, tuple[str | None, dict[str, str]]] = {}

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        method = getattr(self._client, _snake(operation))
        try:
            return method(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _client_error(exc, operation) from exc
        except AnswerRefused as exc:  # bounded.py: too large or too slow, the poller backs off
            raise LbApiError(f"elbv2 {operation}: {exc}") from exc
        except ResponseParserError as exc:  # not a BotoCoreError; its text holds the whole body
            why = str(exc).split("\n", 1)[0][:MAX_REASON]
            raise LbApiError(f"elbv2 {operation}: not ELBv2's XML: {why}") from exc

    def discover(self, tag_filters: Mapping[str, str]) -> list[TargetGroupRef]:
        """The target groups whose tags include every `tag_filters` pair (an empty value: any)."""
        arns: dict[str, None] = {}  # in order, each once
        marker: str | None = None
        asked: set[str] = set()
        while True:
            page = self._call("DescribeTargetGroups", **({"Marker": marker} if marker else {}))
            arns.update(dict.fromkeys(tg["TargetGroupArn"] for tg in page.get("TargetGroups", [])))
            marker = page.get("NextMarker")
            if not marker:
                break
            if marker in asked or len(asked) >= MAX_PAGES:
                why = "was answered before" if marker in asked else f"is past {MAX_PAGES} pages"
                raise LbApiError(
                    f"elbv2 DescribeTargetGroups: the next page's marker {marker[:80]!r} {why}: "
                    "paging that never ends (an endpoint that is not ELBv2's?); not listed"
                )
            asked.add(marker)
        arns_listed = list(arns)
        found: list[TargetGroupRef] = []
        for start in range(0, len(arns_listed), 20):  # DescribeTags takes at most 20 ARNs
            answer = self._call("DescribeTags", ResourceArns=arns_listed[start : start + 20])
            for desc in answer.get("TagDescriptions", []):
                tags = {t["Key"]: t.get("Value", "") for t in desc.get("Tags", [])}
                if all(k in tags and (not v or tags[k] == v) for k, v in tag_filters.items()):
                    found.append(TargetGroupRef(desc["ResourceArn"], service_from_tags(tags)))
        return sorted(found, key=lambda r: r.arn)

    def _refresh_settings(self, arns: Iterable[str]) -> None:
        for arn in arns:  # one by one: a deleted group must not hide the others' settings
            try:
                answer = self._call("DescribeTargetGroups", TargetGroupArns=[arn])
            except LbApiError as exc:
                if exc.code != NOT_FOUND:
                    raise
                continue
            for tg in answer.get("TargetGroups", []):
                attrs = {f: str(tg[f]) for f in _GROUP_TIMING_FIELDS if tg.get(f) is not None}
                raw = self._call("DescribeTargetGroupAttributes", TargetGroupArn=arn)
                for item in raw.get("Attributes", []):
                    if str(item.get("Key", "")).startswith(TIMING_ATTRIBUTE_PREFIXES):
                        attrs[item["Key"]] = str(item.get("Value", ""))
                port = tg.get("HealthCheckPort")
                self._settings[arn] = (None if port is None else str(port), attrs)

    def poll(self, arns: Iterable[str]) -> list[GroupLook]:
        """One look at every target group."""
        arns = list(arns)
        if self._looks % self.settings_every == 0 or any(a not in self._settings for a in arns):
            self._refresh_settings(arns)
        self._looks += 1
        looks = []
        for arn in arns:
            try:
                answer = self._call("DescribeTargetHealth", TargetGroupArn=arn)
            except LbApiError as exc:
                if exc.code != NOT_FOUND:
                    raise
                answer = {}  # the group was deleted: every target it had has left it
            port, attrs = self._settings.get(arn, (None, {}))
            descriptions = answer.get("TargetHealthDescriptions", [])
            if not all((d.get("Target") or {}).get("Id") for d in descriptions):
                raise LbApiError(
                    "elbv2 DescribeTargetHealth: a target health with no Target.Id "
                    f"(target group {arn}): not ELBv2's answer; none of it taken"
                )
            looks.append(
                GroupLook(
                    group=arn,
                    targets=tuple(_target(d) for d in descriptions),
                    health_check_port=port,
                    attributes=attrs,
                )
            )
        return looks


def _target(desc: Mapping[str, Any]) -> Target:
    tgt, health = dict(desc.get("Target") or {}), dict(desc.get("TargetHealth") or {})
    port = tgt.pop("Port", None)
    return Target(
        id=str(tgt.pop("Id")),
        port=port,
        state=str(health.get("State", "unavailable")),
        reason=health.get("Reason"),
        description=health.get("Description"),
        target_extra=tgt,
        native=desc,
    )


def _snake(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


#: Looks between two tag discoveries (a new Service's target group shows within ~5 min at 5 s).
DISCOVER_EVERY = 60


class Elbv2Groups:
    """The target groups one poller watches: configured ones plus those its tags find."""

    def __init__(
        self,
        configured: Iterable[TargetGroupRef],
        tag_filters: Mapping[str, str],
        *,
        service: ServiceKey = NO_SERVICE,
        bindings: Callable[[], list[TargetGroupRef]] | None = None,
    ) -> None:
        """`bindings` lists the TargetGroupBindings' target groups (bindings.BindingLister)."""
        self.configured = list(configured)
        self.tag_filters = dict(tag_filters)
        self.bindings = bindings
        self.default_service = service
        self._refs: dict[str, TargetGroupRef] = {r.arn: r for r in self.configured}
        self._client: Elbv2Client | None = None
        self._looks = 0

    def connect(self, **client_kwargs: Any) -> None:
        self._client = Elbv2Client(**client_kwargs)

    def service_of(self, arn: str) -> ServiceKey:
        ref = self._refs.get(arn)
        if ref is None or ref.service == NO_SERVICE:
            return self.default_service
        return ref.service

    def poll(self) -> list[GroupLook]:
        if self._client is None:
            raise LbApiError("elbv2: not connected")
        if (self.tag_filters or self.bindings) and self._looks % DISCOVER_EVERY == 0:
            found = self._client.discover(self.tag_filters) if self.tag_filters else []
            bound = self.bindings() if self.bindings is not None else []
            refs = [*found, *bound, *self.configured]  # later entries win: config, then bindings
            self._refs = {r.arn: r for r in refs}
        self._looks += 1
        return self._client.poll(sorted(self._refs)) if self._refs else []
