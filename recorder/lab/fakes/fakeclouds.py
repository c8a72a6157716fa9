"""One load balancer of Alibaba SLB, Tencent CLB or Huawei ELB v3, served over real HTTP to the
clouds' official SDKs (the real pollers, recorder/sources/lb/), its backends set by the lab from
the simulator's CCM (recorder/lab/world.py), as fakes/fakeelb.py serves moto's ELBv2.

On the wire, as each cloud's API: Alibaba RPC over GET with `x-acs-action`/`x-acs-version` and
query parameters, JSON answers, errors as HTTP 4xx with `Code`; Tencent API 3.0, a JSON POST to
`/` with `X-TC-Action`/`X-TC-Version`, every answer HTTP 200 inside `Response` (errors as
`Response.Error`); Huawei `GET /v3/{project_id}/elb/pools/{pool_id}/members?limit&marker`, paged,
errors as HTTP 4xx with `error_code`. Every request's signature is checked (fakes/cloudsign.py)
against the secret of the credentials the lab gives its recorders: a wrongly signed request is
refused with the cloud's own error. `throttle(n)` answers the next n requests with the cloud's
throttling error (Alibaba `Throttling.User`, Tencent `RequestLimitExceeded`, Huawei HTTP 429).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from gapwatch.recorder.lab.fakes import cloudanswers as answers
from gapwatch.recorder.lab.fakes.cloudanswers import Member
from gapwatch.recorder.lab.fakes.cloudsign import (
    Refusal,
    WireRequest,
    check_acs3,
    check_huawei,
    check_tc3,
)
from gapwatch.recorder.lab.fakes.jsonserver import JsonServer

#: The credentials the lab's recorders get, per cloud, as each SDK's environment chain reads them.
CREDENTIALS: dict[str, dict[str, str]] = {
    "alibaba": {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tLabAccessKey",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "lab-alibaba-secret",
    },
    "tencent": {
        "TENCENTCLOUD_SECRET_ID": "AKIDlabSecretId",
        "TENCENTCLOUD_SECRET_KEY": "lab-tencent-secret",
    },
    "huawei": {
        "HUAWEICLOUD_SDK_AK": "LABHUAWEIAK",
        "HUAWEICLOUD_SDK_SK": "lab-huawei-secret",
        "HUAWEICLOUD_SDK_PROJECT_ID": "0a1b2c3d4e5f4a5b8c9d0e1f2a3b4c5d",
    },
}
_KEYS = {
    "alibaba": ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    "tencent": ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"),
    "huawei": ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"),
}
#: The Content-Type each API answers with. Tencent's SDK reads `Response.Error` only from an
#: answer typed exactly `application/json` (tencentcloud/common/abstract_client.py
#: `_check_error`), as its API sends: with a charset added, an error answer would pass for an
#: empty success.
CONTENT_TYPE = {
    "alibaba": "application/json;charset=utf-8",
    "tencent": "application/json",
    "huawei": "application/json",
}
ALIBABA_VERSION = "2014-05-15"
TENCENT_VERSION = "2018-03-17"


class CloudLbFake:
    """`with CloudLbFake("tencent", listener_port=80) as fake:`; `fake.url`, `fake.section()`."""

    def __init__(self, cloud: str, *, listener_port: int, region: str = "") -> None:
        if cloud not in answers.CLOUDS:
            raise ValueError(f"unknown cloud {cloud!r}: one of {', '.join(answers.CLOUDS)}")
        self.cloud = cloud
        self.listener_port = listener_port
        self.region = region or {"alibaba": "cn-hangzhou", "tencent": "ap-guangzhou"}.get(
            cloud, "cn-north-4"
        )
        self.load_balancer = {"alibaba": "lb-bp1labfake0001", "tencent": "lb-labfake1"}.get(
            cloud, ""
        )
        self.group = {
            "alibaba": "rsp-bp1labgroup",
            "tencent": "lbl-labtcp01",
            "huawei": "6a5b7c8d-1e2f-4a3b-9c8d-7e6f5a4b3c2d",
        }[cloud]
        key, secret = _KEYS[cloud]
        self.secrets = {CREDENTIALS[cloud][key]: CREDENTIALS[cloud][secret]}
        self.project = CREDENTIALS["huawei"]["HUAWEICLOUD_SDK_PROJECT_ID"]
        self._members: dict[str, Member] = {}
        self._throttle = 0
        self._seq = 0
        self._lock = threading.Lock()
        #: (action, refusal code or None) of every request, in order
        self.calls: list[tuple[str, str | None]] = []
        #: the server's clock for signature ages (Unix seconds)
        self.clock: Callable[[], float] = time.time
        self._http = JsonServer(self._answer)
        self.url = self._http.url

    def __enter__(self) -> CloudLbFake:
        self._http.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.__exit__(*exc)

    def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, str]:
        status, answer = self.respond(WireRequest(method, target, headers, body))
        return status, answer, CONTENT_TYPE[self.cloud]

    # --- the lab's side ---------------------------------------------------------------------
    def section(self, service: str, **poll: Any) -> tuple[str, dict[str, Any]]:
        """The recorder's configuration section for this load balancer (build.py's keys)."""
        out: dict[str, Any] = {"endpoint": self.url, "service": service, **poll}
        if self.cloud == "alibaba":
            out |= {"load_balancer_id": self.load_balancer, "vserver_group_id": self.group}
            out["region"] = self.region
        elif self.cloud == "tencent":
            out |= {"load_balancer_id": self.load_balancer, "listener_ids": [self.group]}
            out["region"] = self.region
        else:
            out["pool_id"] = self.group
        return answers.POLLER_KEY[self.cloud], out

    def set_member(self, member: Member) -> None:
        with self._lock:
            self._members[f"{member.ident}:{member.port}"] = member

    def remove_member(self, ident: str, port: int) -> None:
        with self._lock:
            self._members.pop(f"{ident}:{port}", None)

    def members(self) -> list[Member]:
        with self._lock:
            return sorted(self._members.values(), key=lambda m: (m.ident, m.port))

    def throttle(self, times: int) -> None:
        with self._lock:
            self._throttle += times

    # --- the wire -------------------------------------------------------------------------
    def respond(self, req: WireRequest) -> tuple[int, dict[str, Any]]:
        """The cloud's answer to one request: (HTTP status, JSON body)."""
        with self._lock:
            self._seq += 1
            rid, throttled = answers.request_id(self._seq), self._throttle > 0
            self._throttle -= int(throttled)
            members = sorted(self._members.values(), key=lambda m: (m.ident, m.port))
        serve = {"alibaba": self._alibaba, "tencent": self._tencent, "huawei": self._huawei}
        action, status, body = serve[self.cloud](req, members, rid, throttled)
        with self._lock:
            self.calls.append((action, _code(body)))
        return status, body

    def _alibaba(
        self, req: WireRequest, members: list[Member], rid: str, throttled: bool
    ) -> tuple[str, int, dict[str, Any]]:
        action = req.headers.get("x-acs-action", "")
        params = dict(req.query)

        def error(status: int, code: str, message: str) -> tuple[str, int, dict[str, Any]]:
            return action, status, answers.alibaba_error(code, message, rid)

        refusal = check_acs3(req, self.secrets)
        if refusal is not None:
            status = 404 if refusal.code.startswith("InvalidAccessKeyId") else 400
            return error(status, refusal.code, refusal.message)
        if req.headers.get("x-acs-version") != ALIBABA_VERSION:
            return error(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if throttled:
            return error(400, "Throttling.User", "Request was denied due to user flow control.")
        if params.get("RegionId") != self.region:
            return error(400, "InvalidRegionId", "The specified RegionId does not exist.")
        if action == "DescribeVServerGroupAttribute":
            if params.get("VServerGroupId") != self.group:
                return error(400, "InvalidParameter", "The specified VServerGroupId is invalid.")
            return action, 200, answers.alibaba_group(self.load_balancer, self.group, members, rid)
        if action == "DescribeHealthStatus":
            if params.get("LoadBalancerId") != self.load_balancer:
                return error(400, "InvalidLoadBalancerId.NotFound", "The specified LB is absent.")
            return action, 200, answers.alibaba_health(self.listener_port, members, rid)
        return error(404, "InvalidAction.NotFound", f"Specified api is not found: {action}")

    def _tencent(
        self, req: WireRequest, members: list[Member], rid: str, throttled: bool
    ) -> tuple[str, int, dict[str, Any]]:
        action = req.headers.get("x-tc-action", "")

        def error(code: str, message: str) -> tuple[str, int, dict[str, Any]]:
            return action, 200, answers.tencent_error(code, message, rid)

        refusal = check_tc3(req, self.secrets, service="clb", now=self.clock())
        if refusal is not None:
            return error(refusal.code, refusal.message)
        if req.headers.get("x-tc-version") != TENCENT_VERSION:
            return error("InvalidParameterValue", "The Version is not valid.")
        if req.headers.get("x-tc-region") != self.region:
            return error("InvalidParameterValue", "The Region is not valid.")
        if throttled:
            return error("RequestLimitExceeded", "Your current request times exceeds limit.")
        try:
            fields = json.loads(req.body or b"{}")
        except ValueError:
            return error("InvalidParameter", "The request body is not JSON.")
        lb, port = self.load_balancer, self.listener_port
        if action == "DescribeTargets":
            if fields.get("LoadBalancerId") != lb:
                return error("InvalidParameter.LBIdNotFound", f"LB id not found: {lb}")
            if fields.get("ListenerIds") not in (None, [self.group]):
                return error("InvalidParameter.ListenerIdNotFound", "Listener id not found.")
            return action, 200, answers.tencent_targets(self.group, port, members, rid)
        if action == "DescribeTargetHealth":
            if fields.get("LoadBalancerIds") != [lb]:
                return error("InvalidParameter.LBIdNotFound", "LB id not found.")
            return action, 200, answers.tencent_health(lb, self.group, port, members, rid)
        return error("InvalidAction", f"The action {action} is not found.")

    def _huawei(
        self, req: WireRequest, members: list[Member], rid: str, throttled: bool
    ) -> tuple[str, int, dict[str, Any]]:
        action = "ListMembers"

        def error(status: int, code: str, message: str) -> tuple[str, int, dict[str, Any]]:
            return action, status, answers.huawei_error(code, message, rid)

        refusal = check_huawei(req, self.secrets, now=self.clock())
        if refusal is not None:
            return error(401, refusal.code, refusal.message)
        if throttled:
            return error(429, "APIGW.0308", "The throttling threshold has been reached.")
        parts = req.path.strip("/").split("/")  # v3 PROJECT elb pools POOL members
        if req.method != "GET" or len(parts) != 6 or parts[2:4] != ["elb", "pools"]:
            return error(404, "APIGW.0101", "The API does not exist or has not been published.")
        if parts[0] != "v3" or parts[5] != "members":
            return error(404, "APIGW.0101", "The API does not exist or has not been published.")
        if parts[1] != self.project or req.headers.get("x-project-id") != self.project:
            return error(403, "ELB.1101", "Project id does not match the token.")
        if parts[4] != self.group:
            return error(404, "ELB.8902", f"pool {parts[4]} could not be found.")
        params = dict(req.query)
        try:
            limit = int(params.get("limit", "2000"))
        except ValueError:
            return error(400, "ELB.8904", "Invalid limit.")
        page = answers.huawei_members(
            self.project, members, limit=limit, marker=params.get("marker"), rid=rid
        )
        return action, 200, page


def _code(body: dict[str, Any]) -> str | None:
    """The error code of an answer (None for a success)."""
    inner = body.get("Response", body)
    error = inner.get("Error") if isinstance(inner, dict) else None
    if isinstance(error, dict):
        return str(error.get("Code"))
    return body.get("Code") or body.get("error_code")


__all__ = ["CREDENTIALS", "CloudLbFake", "Refusal"]
