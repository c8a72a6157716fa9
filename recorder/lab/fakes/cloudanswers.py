"""What the Alibaba SLB, Tencent CLB and Huawei ELB v3 APIs answer about one load balancer's
backends, shaped as their published samples (/work/shared/samples/other-clouds, tests/fixtures/lb/):
pure functions of the members the lab's simulated CCM has registered.

How the simulator's target states (ELBv2's vocabulary, recorder/sim/lb.py) read on each cloud:

| simulator | Alibaba ServerHealthStatus | Tencent HealthStatusDetail | Huawei operating_status |
|---|---|---|---|
| healthy | `normal` | `Alive` | `ONLINE` |
| initial | `unavailable` | `Unknown` | `INITIAL` |
| unhealthy | `abnormal` | `Dead` | `OFFLINE` |
| weight 0 (grace shutdown) | `Weight` 0 | `Weight` 0 | `weight` 0 |
| deregistered (`draining`) | not in the group | not bound | not in the pool |

None of these APIs has a deregistration-delay state: a backend the CCM removes is gone from the
answer at once (connection draining is a listener setting on each cloud, not a member state).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gapwatch.recorder.sim import providers

#: The clouds the lab can serve besides AWS, by the name `gapwatch lab --lb` takes.
CLOUDS = ("alibaba", "tencent", "huawei")
#: cloud -> its poller's configuration key (recorder/sources/lb/build.py)
POLLER_KEY = {"alibaba": "alibaba-slb", "tencent": "tencent-clb", "huawei": "huawei-elb"}
#: cloud -> simulator state -> the cloud's health word
HEALTH = {
    "alibaba": {"healthy": "normal", "initial": "unavailable", "unhealthy": "abnormal"},
    "tencent": {"healthy": "Alive", "initial": "Unknown", "unhealthy": "Dead"},
    "huawei": {"healthy": "ONLINE", "initial": "INITIAL", "unhealthy": "OFFLINE"},
}
#: cloud -> the state its poller records for each simulator state (recorder/sources/lb/*.py)
RECORDED = {
    "alibaba": {"healthy": "healthy", "initial": "unavailable", "unhealthy": "unhealthy"},
    "tencent": {"healthy": "healthy", "initial": "initial", "unhealthy": "unhealthy"},
    "huawei": {"healthy": "healthy", "initial": "initial", "unhealthy": "unhealthy"},
}
#: The weight each CCM gives a backend it adds (Alibaba's and Huawei's CCMs: 100 and 1 unless
#: annotated; TKE: 10, its console's default), as the samples show them.
DEFAULT_WEIGHT = {"alibaba": 100, "tencent": 10, "huawei": 1}


@dataclass(frozen=True, slots=True)
class Member:
    """One backend as the cloud holds it."""

    ident: str
    ip: str
    port: int
    weight: int
    #: the cloud's own health word (HEALTH)
    health: str


def instance_id(cloud: str, sim_id: str) -> str:
    """The cloud's instance id for a simulated instance (stable: a digest of it)."""
    digest = hashlib.sha256(f"{cloud}/{sim_id}".encode()).hexdigest()
    if cloud == "alibaba":
        return "i-bp1" + digest[:17]
    if cloud == "tencent":
        return "ins-" + digest[:8]
    return str(uuid.UUID(digest[:32]))


def provider_id(cloud: str, region: str, zone: str, ident: str) -> str:
    """The Node's `spec.providerID` as each cloud's CCM writes it (recorder/sources/lb/nodemap),
    as the simulator writes it (recorder.sim.providers)."""
    return providers.provider_id(cloud, zone, ident, region=region)


def request_id(seq: int) -> str:
    return str(uuid.UUID(int=seq))


def alibaba_group(lb: str, group: str, members: Sequence[Member], rid: str) -> dict[str, Any]:
    """`DescribeVServerGroupAttribute`."""
    return {
        "RequestId": rid,
        "VServerGroupId": group,
        "VServerGroupName": "k8s-lab",
        "LoadBalancerId": lb,
        "BackendServers": {
            "BackendServer": [
                {
                    "ServerId": m.ident,
                    "Port": m.port,
                    "Weight": m.weight,
                    "Type": "ecs",
                    "ServerIp": m.ip,
                    "Description": "",
                }
                for m in members
            ]
        },
    }


def alibaba_health(listener_port: int, members: Sequence[Member], rid: str) -> dict[str, Any]:
    """`DescribeHealthStatus` of the load balancer (one TCP listener)."""
    return {
        "RequestId": rid,
        "BackendServers": {
            "BackendServer": [
                {
                    "ListenerPort": listener_port,
                    "ServerId": m.ident,
                    "Port": m.port,
                    "ServerIp": m.ip,
                    "ServerHealthStatus": m.health,
                    "Protocol": "tcp",
                }
                for m in members
            ]
        },
    }


def alibaba_error(code: str, message: str, rid: str) -> dict[str, Any]:
    return {"RequestId": rid, "HostId": "slb.aliyuncs.com", "Code": code, "Message": message}


def tencent_targets(
    listener: str, port: int, members: Sequence[Member], rid: str
) -> dict[str, Any]:
    """`DescribeTargets` of a layer-4 listener (targets on the listener, no rules)."""
    targets = [
        {
            "Type": "CVM",
            "InstanceId": m.ident,
            "Port": m.port,
            "Weight": m.weight,
            "PublicIpAddresses": None,
            "PrivateIpAddresses": [m.ip],
            "InstanceName": f"tke-node-{m.ident}",
            "RegisteredTime": "2026-01-01 00:00:00",
            "EniId": None,
            "Tag": None,
            "Zone": None,
        }
        for m in members
    ]
    listeners = [
        {
            "ListenerId": listener,
            "Protocol": "TCP",
            "Port": port,
            "Rules": None,
            "Targets": targets,
            "EndPort": 0,
        }
    ]
    return {"Response": {"Listeners": listeners, "RequestId": rid}}


def tencent_health(
    lb: str, listener: str, port: int, members: Sequence[Member], rid: str
) -> dict[str, Any]:
    """`DescribeTargetHealth`: a layer-4 listener's one rule, as the sample's TCP listener."""
    targets = [
        {
            "IP": m.ip,
            "Port": m.port,
            "HealthStatus": m.health == "Alive",
            "TargetId": m.ident,
            "HealthStatusDetail": m.health,
        }
        for m in members
    ]
    rule = {"LocationId": "loc-" + listener[4:], "Domain": None, "Url": None, "Targets": targets}
    balancer = {
        "LoadBalancerId": lb,
        "LoadBalancerName": "k8s-lab",
        "Listeners": [
            {
                "ListenerId": listener,
                "ListenerName": "tcp",
                "Protocol": "TCP",
                "Port": port,
                "Rules": [rule],
            }
        ],
    }
    return {"Response": {"LoadBalancers": [balancer], "RequestId": rid}}


def tencent_error(code: str, message: str, rid: str) -> dict[str, Any]:
    """API 3.0 errors come with HTTP 200, inside the Response."""
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": rid}}


def huawei_members(
    project: str,
    members: Sequence[Member],
    *,
    limit: int,
    marker: str | None,
    rid: str,
) -> dict[str, Any]:
    """`ListMembers`, one page: members in id order after `marker`, at most `limit`."""
    ordered = sorted(members, key=_huawei_id)
    if marker is not None:
        ordered = [m for m in ordered if _huawei_id(m) > marker]
    page = ordered[:limit]
    info: dict[str, Any] = {"current_count": len(page)}
    if page:
        info["previous_marker"] = _huawei_id(page[0])
    if len(ordered) > limit:
        info["next_marker"] = _huawei_id(page[-1])
    rows = [
        {
            "name": f"k8s-lab-{m.ip}",
            "weight": m.weight,
            "admin_state_up": True,
            "subnet_cidr_id": "c09f620e-3492-4429-ac15-445d5dd9ca74",
            "project_id": project,
            "address": m.ip,
            "protocol_port": m.port,
            "id": _huawei_id(m),
            "operating_status": m.health,
            "ip_version": "v4",
        }
        for m in page
    ]
    return {"members": rows, "page_info": info, "request_id": rid}


def _huawei_id(member: Member) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"member/{member.ident}/{member.port}"))


def huawei_error(code: str, message: str, rid: str) -> dict[str, Any]:
    return {"error_msg": message, "error_code": code, "request_id": rid}
