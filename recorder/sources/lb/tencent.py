"""Tencent Cloud CLB through `tencentcloud-sdk-python-clb` (extra `gapwatch[tencent]`).

TKE binds nodes (or, with `local-svc-only-bind-node-with-pod`, only nodes with pods) and with
`enable-grace-shutdown` sets a terminating pod's weight to 0: record membership and weight, not
only health. Per look: `DescribeTargetHealth` (`HealthStatus`, `HealthStatusDetail`), then
`DescribeTargets` (members per listener, and per rule of a layer-7 listener, with `Weight`), and
`DescribeTargetHealth` once more when the first did not cover every member (lb/joined.py: the
two calls are not one snapshot; a member bound or unbound between them tore the look).
A group is `LOADBALANCER/LISTENER` (plus `/LOCATION` for a layer-7 rule).

States: `HealthStatusDetail` `Alive` -> healthy, `Dead` -> unhealthy, `Unknown` -> initial,
`Close` (checks off) -> unavailable; without a detail, `HealthStatus` true/false; a member no
health entry covers -> unavailable (`Target.HealthUnknown`); weight 0 -> draining.

Credentials: Tencent Cloud's default provider chain (`TENCENTCLOUD_SECRET_ID`/`_KEY`, profile
file, CVM role, TKE OIDC), never gapwatch's configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
from gapwatch.recorder.sources.lb.sizecap import MAX_ANSWER_BYTES, cap_session

CLOUD = "tencent-clb"
_DETAIL = {"Alive": "healthy", "Dead": "unhealthy", "Unknown": "initial", "Close": "unavailable"}
_THROTTLE = ("RequestLimitExceeded", "LimitExceeded")


def _error(exc: Exception, operation: str) -> LbApiError:
    code = str(getattr(exc, "code", "") or "")
    message = getattr(exc, "message", None) or str(exc)
    return sdk_error(
        CLOUD, operation, exc, code=code, message=message, throttled=code.startswith(_THROTTLE)
    )


def _health_state(entry: dict[str, Any]) -> str:
    detail = entry.get("HealthStatusDetail")
    if detail in _DETAIL:
        return _DETAIL[str(detail)]
    return "healthy" if entry.get("HealthStatus") else "unhealthy"


class TencentClbClient:
    """Blocking calls for the listeners of one CLB instance."""

    def __init__(
        self,
        *,
        load_balancer_id: str,
        region: str,
        listener_ids: Sequence[str] = (),
        endpoint: str | None = None,
        count: Callable[[str], None] = lambda _op: None,
        answer_seconds: float = ANSWER_SECONDS,
        max_held: int = MAX_HELD,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        try:
            from tencentcloud.clb.v20180317 import clb_client, models
            from tencentcloud.common import credential
            from tencentcloud.common.profile.client_profile import ClientProfile
            from tencentcloud.common.profile.http_profile import HttpProfile
        except ImportError as exc:
            raise MissingExtra("Tencent Cloud CLB", "tencent", exc) from exc
        host, protocol = split_endpoint(endpoint)
        profile = HttpProfile(endpoint=host or "clb.tencentcloudapi.com", protocol=protocol)
        cred = credential.DefaultCredentialProvider().get_credential()
        self._client: Any = clb_client.ClbClient(cred, region, ClientProfile(httpProfile=profile))
        cap_session(self._client.request.conn._session, max_answer_bytes)  # lb/sizecap.py
        self._models: Any = models
        self.load_balancer_id, self.listener_ids = load_balancer_id, list(listener_ids)
        self._count = count
        self._calls = SdkCalls(CLOUD, _error, seconds=answer_seconds, max_held=max_held)

    def _call(self, operation: str, fields: dict[str, Any]) -> dict[str, Any]:
        self._count(operation)
        request = getattr(self._models, operation + "Request")()
        request.from_json_string(json.dumps(fields))
        method = getattr(self._client, operation)
        body: dict[str, Any] = self._calls.call(
            operation, lambda: json.loads(method(request).to_json_string())
        )
        return body

    def _health(self) -> dict[_HealthKey, dict[str, Any]]:
        """`DescribeTargetHealth`, indexed by (listener, rule or None, target id, port)."""
        health = self._call("DescribeTargetHealth", {"LoadBalancerIds": [self.load_balancer_id]})
        by_rule: dict[_HealthKey, dict[str, Any]] = {}
        for balancer in health.get("LoadBalancers") or []:
            for listener in balancer.get("Listeners") or []:
                for rule in listener.get("Rules") or []:
                    for t in rule.get("Targets") or []:
                        ident = (str(t.get("TargetId")), as_int(t.get("Port")))
                        by_rule[(listener["ListenerId"], rule.get("LocationId"), *ident)] = t
                        by_rule.setdefault((listener["ListenerId"], None, *ident), t)
        return by_rule

    def _members(self) -> dict[str, Any]:
        query: dict[str, Any] = {"LoadBalancerId": self.load_balancer_id}
        if self.listener_ids:
            query["ListenerIds"] = self.listener_ids
        members = self._call("DescribeTargets", query)
        members_field(members, "Listeners")  # absent or null: not a CLB of no listeners
        return members

    def poll(self) -> list[GroupLook]:
        with self._calls.reading():
            return self._look()

    def _look(self) -> list[GroupLook]:
        # health first, members second (lb/joined.py: a member unbound between the two calls)
        members, by_rule = members_and_health(self._health, self._members, _covered)
        looks = []
        for lid, location, targets in _groups(members):
            group = f"{self.load_balancer_id}/{lid}" + (f"/{location}" if location else "")
            looks.append(
                GroupLook(
                    group=group,
                    cloud=CLOUD,
                    targets=tuple(_target(lid, location, t, by_rule) for t in targets),
                )
            )
        return looks


#: (listener, rule's LocationId or None, target id, port)
_HealthKey = tuple[str, str | None, str, int | None]


def _groups(members: dict[str, Any]) -> list[tuple[str, str | None, list[dict[str, Any]]]]:
    """(listener, rule or None, members) of a `DescribeTargets` answer: a layer-4 listener's
    targets, and each rule's of a layer-7 one."""
    groups: list[tuple[str, str | None, list[dict[str, Any]]]] = []
    for listener in members.get("Listeners") or []:
        lid = str(listener.get("ListenerId"))
        if listener.get("Targets") is not None:
            groups.append((lid, None, listener["Targets"]))
        for rule in listener.get("Rules") or []:
            groups.append((lid, rule.get("LocationId"), rule.get("Targets") or []))
    return groups


def _health_of(
    lid: str, location: str | None, t: dict[str, Any], health: Mapping[_HealthKey, Any]
) -> dict[str, Any] | None:
    tid, port = str(t.get("InstanceId") or t.get("EniIp")), as_int(t.get("Port"))
    entry: dict[str, Any] | None = health.get((lid, location, tid, port)) or health.get(
        (lid, None, tid, port)
    )
    return entry


def _covered(members: dict[str, Any], health: Mapping[_HealthKey, Any]) -> bool:
    return all(
        _health_of(lid, location, t, health) is not None
        for lid, location, targets in _groups(members)
        for t in targets
    )


def _target(
    lid: str, location: str | None, t: dict[str, Any], health: Mapping[_HealthKey, Any]
) -> Target:
    tid, port = str(t.get("InstanceId") or t.get("EniIp")), as_int(t.get("Port"))
    weight = as_int(t.get("Weight"))
    entry = _health_of(lid, location, t, health)
    state = _health_state(entry) if entry else "unavailable"
    reason = None if entry else "Target.HealthUnknown"
    state, reason = weighted_state(state, weight, reason)
    ips = t.get("PrivateIpAddresses") or []
    return Target(
        id=tid,
        port=port,
        state=state,
        reason=reason,
        description=(entry or {}).get("HealthStatusDetail"),
        ip=ips[0] if ips else None,
        weight=weight,
        native={"Target": t, "Health": entry},
    )
