"""Each cloud's instance ids and Node `spec.providerID`, as its cloud-controller-manager writes
them, so a simulated Tencent or Alibaba cluster reads as one (replay/platform.py names the cloud
from the providerID, and the advice names that cloud's knobs).

The formats, from each cloud's CCM and the samples (/work/shared/samples):

- `aws`: `i-0` + 16 hex; `aws:///<zone>/<id>` (a kops NodeList: `aws:///eu-west-1a/i-0f6e...`);
- `gcp`: the instance is named as its node; `gce://<project>/<zone>/<name>`;
- `tencent`: `ins-` + 8 of [0-9a-z] (CLB `DescribeTargets`: `ins-19425y2y`);
  `qcloud:///<zone id>/<id>` (a TKE node: `qcloud:///100003/ins-jifjbvhg`);
- `alibaba`: `i-bp1` + 17 of [0-9a-z] in cn-hangzhou (SLB `ServerId`: `i-bp1c3zrr37ablp8ujo7v`);
  `<region>.<id>`, no scheme (`cn-hangzhou.i-bp1...`);
- `huawei`: the ECS server's id, a UUID (the CCM reads the server through the OpenStack compute
  API, whose ids are UUIDs); `huaweicloud:///<server id>`, no zone
  (kubernetes-sigs/cloud-provider-huaweicloud `pkg/cloudprovider/huaweicloud/instances.go`:
  `providerIDRegexp` `^huaweicloud:///([^/]+)$`, `InstanceID` `"/" + server.ID`).

An id is made from the 64 random bits the simulation draws for every new node, whatever the
cloud, so the cloud changes no other draw of a run. Pure.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

Cloud = Literal["aws", "gcp", "tencent", "alibaba", "huawei"]
#: The project of a simulated GCE instance (the providerID's first part).
GCP_PROJECT = "gapwatch-sim"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _chars(bits: int, n: int) -> str:
    """`n` characters of [0-9a-z] drawn deterministically from `bits`."""
    digest = int.from_bytes(hashlib.sha256(bits.to_bytes(8, "big")).digest(), "big")
    out = []
    for _ in range(n):
        digest, i = divmod(digest, 36)
        out.append(_BASE36[i])
    return "".join(out)


def instance_id(cloud: Cloud, bits: int, name: str) -> str:
    """A new node's instance id on `cloud`, from its 64 random `bits` (a GCE instance is
    named as its node)."""
    if cloud == "gcp":
        return name
    if cloud == "tencent":
        return "ins-" + _chars(bits, 8)
    if cloud == "alibaba":
        return "i-bp1" + _chars(bits, 17)
    if cloud == "huawei":
        digest = hashlib.sha256(b"huawei" + bits.to_bytes(8, "big")).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))
    return f"i-0{bits:016x}"


def region_of(zone: str) -> str:
    """An Alibaba zone's region: `cn-hangzhou-h` -> `cn-hangzhou`."""
    return zone.rsplit("-", 1)[0]


def provider_id(cloud: str, zone: str, instance: str, *, region: str | None = None) -> str:
    """The Node's `spec.providerID` on `cloud` for an instance in `zone` (Alibaba: `region`,
    else the zone's; Huawei's names no zone)."""
    if cloud == "gcp":
        return f"gce://{GCP_PROJECT}/{zone}/{instance}"
    if cloud == "tencent":
        return f"qcloud:///{zone}/{instance}"
    if cloud == "alibaba":
        return f"{region or region_of(zone)}.{instance}"
    if cloud == "huawei":
        return f"huaweicloud:///{instance}"
    return f"aws:///{zone}/{instance}"


def instance_of(provider: str) -> str:
    """The instance id (a GCE instance's name) a providerID of `provider_id` names."""
    if "://" not in provider:  # Alibaba's <region>.<id>
        return provider.partition(".")[2] or provider
    return provider.rstrip("/").rsplit("/", 1)[-1]
