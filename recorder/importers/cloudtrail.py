"""`cloudtrail`: Elastic Load Balancing API calls from CloudTrail, as LB membership changes.

Input: CloudTrail delivery files (`{"Records": [...]}`), JSON lines, or single records. Records
of `elasticloadbalancing.amazonaws.com` become `TargetChange` observations at `eventTime`
(CloudTrail's resolution is one second):

| eventName | op | one observation per |
|---|---|---|
| RegisterTargets, RegisterInstancesWithLoadBalancer | ADDED | target / instance |
| DeregisterTargets, DeregisterInstancesFromLoadBalancer | DELETED | target / instance |
| CreateTargetGroup | ADDED | call (no target) |
| DeleteTargetGroup | DELETED | call |
| ModifyTargetGroup, ModifyTargetGroupAttributes | MODIFIED | call (health-check settings) |

A failed call (`errorCode` set) changed nothing: it is kept as `op` OBSERVED with the error in
the payload. The payload is the record (minus `userIdentity.accessKeyId`) plus `Target` (`Id`,
`Port`) and `TargetGroupArn` or `LoadBalancerName` in the TargetHealth shape. Other ELB calls and
other services are skipped and counted. namespace/name/node stay null: a target names an instance
or IP, which replay maps to a node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gapwatch.recorder.importers.base import (
    Context,
    Format,
    Parsed,
    RecordError,
    Skip,
    list_under,
    need_dict,
    need_str,
    need_time,
    opt_dict,
)
from gapwatch.recorder.observation import Observation

SOURCE = "cloudtrail"
ELB_SOURCE = "elasticloadbalancing.amazonaws.com"
#: eventName -> (op, the requestParameters list of targets or None for a call without targets)
EVENTS: dict[str, tuple[str, str | None]] = {
    "RegisterTargets": ("ADDED", "targets"),
    "DeregisterTargets": ("DELETED", "targets"),
    "RegisterInstancesWithLoadBalancer": ("ADDED", "instances"),
    "DeregisterInstancesFromLoadBalancer": ("DELETED", "instances"),
    "CreateTargetGroup": ("ADDED", None),
    "DeleteTargetGroup": ("DELETED", None),
    "ModifyTargetGroupAttributes": ("MODIFIED", None),
    "ModifyTargetGroup": ("MODIFIED", None),
}


def _clean(record: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(record)
    identity = record.get("userIdentity")
    if isinstance(identity, Mapping) and "accessKeyId" in identity:
        out["userIdentity"] = {k: v for k, v in identity.items() if k != "accessKeyId"}
    return out


def _group(params: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
    arn = params.get("targetGroupArn")
    if arn is None:  # CreateTargetGroup: the new group's ARN is in the response
        groups = response.get("targetGroups")
        if isinstance(groups, list) and groups and isinstance(groups[0], Mapping):
            arn = groups[0].get("targetGroupArn")
    if isinstance(arn, str):
        return {"TargetGroupArn": arn}
    name = params.get("loadBalancerName")
    return {"LoadBalancerName": name} if isinstance(name, str) else {}


def _target(item: Any, key: str) -> dict[str, Any]:
    entry = need_dict(item, f"requestParameters.{key}[]")
    target_id = entry.get("id") if key == "targets" else entry.get("instanceId")
    if not isinstance(target_id, str) or not target_id:
        raise RecordError(f"requestParameters.{key}[]: no target id")
    port = entry.get("port")
    return {"Id": target_id, "Port": port} if isinstance(port, int) else {"Id": target_id}


def parse(record: Any, ctx: Context) -> Parsed:
    """One CloudTrail record: its target membership changes, or a Skip."""
    data = need_dict(record, "CloudTrail record")
    source = need_str(data, "eventSource")
    name = need_str(data, "eventName")
    at = need_time(data, "eventTime")
    if source != ELB_SOURCE:
        return Skip("not an Elastic Load Balancing call")
    if name not in EVENTS:
        return Skip("ELB call that changes no target membership")
    op, key = EVENTS[name]
    params = opt_dict(data.get("requestParameters"))
    failed = data.get("errorCode") is not None
    base = _clean(data)
    base.update(_group(params, opt_dict(data.get("responseElements"))))
    if key is None:
        payloads = [base]
    else:
        items = params.get(key)
        if not isinstance(items, list) or not items:
            if failed:  # a rejected call may lack its parameters; keep it as the failure
                items = []
            else:
                raise RecordError(f"requestParameters.{key}: missing or empty")
        payloads = [dict(base, Target=_target(item, key)) for item in items] or [base]
    return [
        Observation(
            observed_at=at,
            cluster=ctx.cluster,
            source=SOURCE,
            kind="TargetChange",
            op="OBSERVED" if failed else op,
            payload=payload,
            source_time=at,
        )
        for payload in payloads
    ]


FORMAT = Format(
    name="cloudtrail",
    source=SOURCE,
    parse=parse,
    unwrap=lambda value: list_under(value, "Records"),
    help="CloudTrail records of ELB target membership changes.",
)
