"""Huawei Cloud ELB v3 through `huaweicloudsdkelb` (extra `gapwatch[huawei]`).

Huawei's CCM, like Alibaba's, maintains the pool's members from the Service's endpoints. Per look:
`ListMembers` of the backend pool, every page (`marker`). A member is identified by its ECS
`instance_id` when the API returns one, else by its `address` (IP targets), and its port.
`operating_status` `ONLINE` -> healthy, `OFFLINE` -> unhealthy, `NO_MONITOR` (no health check)
-> unavailable (`Target.HealthCheckDisabled`, ELBv2's reason for the same), `INITIAL` -> initial;
weight 0 -> draining. `Native` is the member as returned, fields the API left out dropped.

Credentials: `HUAWEICLOUD_SDK_AK`/`_SK` (and `HUAWEICLOUD_SDK_PROJECT_ID`) as the SDK's
environment provider reads them, never gapwatch's configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from gapwatch.recorder.sources.lb.intime import ANSWER_SECONDS, MAX_HELD
from gapwatch.recorder.sources.lb.sdkcalls import SdkCalls
from gapwatch.recorder.sources.lb.shape import (
    GroupLook,
    LbApiError,
    MissingExtra,
    Target,
    as_int,
    members_field,
    sdk_error,
    weighted_state,
)
from gapwatch.recorder.sources.lb.sizecap import MAX_ANSWER_BYTES, cap_session

CLOUD = "huawei-elb"
_STATES = {
    "ONLINE": ("healthy", None),
    "OFFLINE": ("unhealthy", None),
    "NO_MONITOR": ("unavailable", "Target.HealthCheckDisabled"),
    "INITIAL": ("initial", None),
}
_PAGE = 500


def _error(exc: Exception, operation: str) -> LbApiError:
    status = getattr(exc, "status_code", None)
    code = str(getattr(exc, "error_code", None) or status or type(exc).__name__)
    message = getattr(exc, "error_msg", None) or exc
    return sdk_error(CLOUD, operation, exc, code=code, message=message, throttled=status == 429)


class HuaweiElbClient:
    """Blocking calls for one backend pool."""

    def __init__(
        self,
        *,
        pool_id: str,
        region: str | None = None,
        endpoint: str | None = None,
        count: Callable[[str], None] = lambda _op: None,
        answer_seconds: float = ANSWER_SECONDS,
        max_held: int = MAX_HELD,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        try:
            from huaweicloudsdkcore.auth.provider import EnvCredentialProvider
            from huaweicloudsdkelb.v3 import ElbClient, ListMembersRequest
        except ImportError as exc:
            raise MissingExtra("Huawei Cloud ELB", "huawei", exc) from exc
        if endpoint is None and region is None:
            raise LbApiError(f"{CLOUD}: give a region or an endpoint")
        url = endpoint or f"https://elb.{region}.myhuaweicloud.com"
        creds = EnvCredentialProvider.get_basic_credential_env_provider().get_credentials()
        self._client: Any = (
            ElbClient.new_builder().with_credentials(creds).with_endpoint(url).build()
        )
        cap_session(self._client._http_client._session, max_answer_bytes)  # lb/sizecap.py
        self._request: Any = ListMembersRequest
        self.pool_id = pool_id
        self._count = count
        self._calls = SdkCalls(CLOUD, _error, seconds=answer_seconds, max_held=max_held)

    def poll(self) -> list[GroupLook]:
        with self._calls.reading():
            return self._look()

    def _list_members(self, request: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.list_members(request).to_json_object()
        return answer

    def _look(self) -> list[GroupLook]:
        members: list[dict[str, Any]] = []
        marker: str | None = None
        seen: set[str] = set()
        while True:
            self._count("ListMembers")
            request = self._request(pool_id=self.pool_id, limit=_PAGE, marker=marker)
            answer = self._calls.call("ListMembers", partial(self._list_members, request))
            listed = members_field(answer, "members")  # absent or null: not an empty pool
            page = [{k: v for k, v in m.items() if v is not None} for m in listed]
            members += page
            marker = (answer.get("page_info") or {}).get("next_marker")
            if not marker or not page or marker in seen:  # a repeated marker would never end
                break
            seen.add(marker)
        return [GroupLook(group=self.pool_id, cloud=CLOUD, targets=tuple(map(_target, members)))]


def _target(member: dict[str, Any]) -> Target:
    raw = str(member.get("operating_status", ""))
    state, reason = _STATES.get(raw, ("unavailable", None))
    weight = as_int(member.get("weight"))
    state, reason = weighted_state(state, weight, reason)
    return Target(
        id=str(member.get("instance_id") or member.get("address")),
        port=as_int(member.get("protocol_port")),
        state=state,
        reason=reason,
        description=raw or None,
        ip=member.get("address"),
        weight=weight,
        native=member,
    )
