"""Alibaba Cloud SLB/CLB through `alibabacloud-slb20140515` (extra `gapwatch[alibaba]`).

Alibaba's CCM rewrites a Service's vServer group whenever its endpoints or nodes change
(endpoint-driven), so membership and weight matter as much as health. Per look:
`DescribeHealthStatus` of the load balancer (`ServerHealthStatus` per listener and backend), then
`DescribeVServerGroupAttribute` (the members: `ServerId`, `Port`, `Weight`), and the health once
more when the first did not cover every member (lb/joined.py: the two calls are not one
snapshot; a member bound or unbound between them tore the look).
A member several listeners check is as healthy as its worst answer. States: `normal` -> healthy,
`abnormal` -> unhealthy, `unavailable` (no check yet / checks off) -> unavailable; a member no
listener reports -> unavailable; weight 0 -> draining (`Target.WeightZero`).

Credentials: the Alibaba Cloud default credential chain (`ALIBABA_CLOUD_ACCESS_KEY_ID`/`_SECRET`,
the credentials file, ECS RAM role, OIDC), never gapwatch's configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gapwatch.recorder.sources.lb.darasessions import cap_alibaba
from gapwatch.recorder.sources.lb.intime import ANSWER_SECONDS, MAX_HELD
from gapwatch.recorder.sources.lb.joined import members_and_health
from gapwatch.recorder.sources.lb.sdkcalls import SdkCalls
from gapwatch.recorder.sources.lb.shape import (
    GroupLook,
    LbApiError,
    MissingExtra,
    Target,
    as_int,
    members_field,
    sdk_error,
    split_endpoint,
    weighted_state,
)
from gapwatch.recorder.sources.lb.sizecap import MAX_ANSWER_BYTES

CLOUD = "alibaba-slb"
_STATES = {"normal": "healthy", "abnormal": "unhealthy", "unavailable": "unavailable"}
_METHODS = {
    "DescribeVServerGroupAttribute": "describe_vserver_group_attribute",
    "DescribeHealthStatus": "describe_health_status",
}
_RANK = {"unhealthy": 0, "unavailable": 1, "healthy": 2}


def _error(exc: Exception, operation: str) -> LbApiError:
    code = str(getattr(exc, "code", "") or "")
    message = getattr(exc, "message", exc)
    return sdk_error(
        CLOUD, operation, exc, code=code, message=message, throttled=code.startswith("Throttling")
    )


class AlibabaSlbClient:
    """Blocking calls for one vServer group of one load balancer."""

    def __init__(
        self,
        *,
        load_balancer_id: str,
        vserver_group_id: str,
        region: str,
        endpoint: str | None = None,
        count: Callable[[str], None] = lambda _op: None,
        answer_seconds: float = ANSWER_SECONDS,
        max_held: int = MAX_HELD,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        try:
            from alibabacloud_credentials.client import Client as Credentials
            from alibabacloud_slb20140515 import models
            from alibabacloud_slb20140515.client import Client
            from alibabacloud_tea_openapi.utils_models import Config
        except ImportError as exc:
            raise MissingExtra("Alibaba Cloud SLB", "alibaba", exc) from exc
        host, protocol = split_endpoint(endpoint)
        self._models: Any = models
        self._client: Any = Client(
            Config(
                credential=Credentials(),
                region_id=region,
                endpoint=host or f"slb.{region}.aliyuncs.com",
                protocol=protocol,
            )
        )
        cap_alibaba(self._client, max_answer_bytes)  # lb/darasessions.py
        self.load_balancer_id, self.group, self.region = load_balancer_id, vserver_group_id, region
        self._calls = SdkCalls(CLOUD, _error, seconds=answer_seconds, max_held=max_held)
        self._count = count

    def _call(self, operation: str, request: Any) -> dict[str, Any]:
        self._count(operation)
        method = getattr(self._client, _METHODS[operation])
        body: dict[str, Any] = self._calls.call(operation, lambda: method(request).body.to_map())
        return body

    def _health(self) -> dict[tuple[str, int | None], tuple[str, dict[str, Any]]]:
        """`DescribeHealthStatus`: per (server, port), its worst state over the listeners."""
        health = self._call(
            "DescribeHealthStatus",
            self._models.DescribeHealthStatusRequest(
                load_balancer_id=self.load_balancer_id, region_id=self.region
            ),
        )
        worst: dict[tuple[str, int | None], tuple[str, dict[str, Any]]] = {}
        for entry in (health.get("BackendServers") or {}).get("BackendServer") or []:
            key = (str(entry.get("ServerId")), as_int(entry.get("Port")))
            raw = str(entry.get("ServerHealthStatus", ""))
            state = _STATES.get(raw, "unavailable")
            if key not in worst or _RANK[state] < _RANK[worst[key][0]]:
                worst[key] = (state, entry)
        return worst

    def _members(self) -> dict[str, Any]:
        members = self._call(
            "DescribeVServerGroupAttribute",
            self._models.DescribeVServerGroupAttributeRequest(
                vserver_group_id=self.group, region_id=self.region
            ),
        )
        members_field(members, "BackendServers")  # absent: not a group of no members
        return members

    def poll(self) -> list[GroupLook]:
        with self._calls.reading():
            return self._look()

    def _look(self) -> list[GroupLook]:
        # health first, members second (lb/joined.py: a member unbound between the two calls)
        members, worst = members_and_health(self._health, self._members, _covered)
        targets = []
        for server in _servers(members):
            sid, port = str(server.get("ServerId")), as_int(server.get("Port"))
            weight = as_int(server.get("Weight"))
            state, entry = worst.get((sid, port), ("unavailable", {}))
            reason = None if (sid, port) in worst else "Target.HealthUnknown"
            state, reason = weighted_state(state, weight, reason)
            ip = server.get("ServerIp") or entry.get("ServerIp")
            native = {"BackendServer": server, "HealthStatus": entry or None}
            targets.append(
                Target(
                    id=sid,
                    port=port,
                    state=state,
                    reason=reason,
                    description=entry.get("ServerHealthStatus"),
                    ip=ip,
                    weight=weight,
                    native=native,
                )
            )
        return [GroupLook(group=self.group, targets=tuple(targets), cloud=CLOUD)]


def _servers(members: dict[str, Any]) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = (members.get("BackendServers") or {}).get("BackendServer") or []
    return servers


def _covered(members: dict[str, Any], health: Mapping[tuple[str, int | None], Any]) -> bool:
    return all(
        (str(server.get("ServerId")), as_int(server.get("Port"))) in health
        for server in _servers(members)
    )
