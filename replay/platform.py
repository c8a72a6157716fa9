"""Which cloud a Service's nodes run on, from their `spec.providerID`, for the advice's knobs.

`gapwatch advise` names the knob that sets each recommended number, and some knobs exist on one
cloud only (Tencent TKE's `enable-grace-shutdown` annotation, an AWS target group's health
check). They were chosen by the LB's mode alone, so the demo's AWS cluster was told to set a
Tencent annotation. A providerID names its cloud as each cloud's CCM writes it: `aws:///zone/i-..`,
`gce://project/zone/name`, `azure:///subscriptions/..`, Tencent `qcloud:///zone/ins-..`, Huawei
`huaweicloud:///id`, Alibaba `region.i-..` (no scheme). A node without one (kind, minikube,
a capture that dropped it) says nothing, and the advice then keeps every cloud's knob, each
labelled with its cloud.
"""

from __future__ import annotations

import re

from gapwatch.replay.model import ServiceRef

_SCHEMES = {
    "aws": "aws",
    "gce": "gcp",
    "azure": "azure",
    "qcloud": "tencent",
    "tencentcloud": "tencent",
    "huaweicloud": "huawei",
    "openstack": "openstack",
}
#: Alibaba's CCM writes `<region>.<instance id>` (cn-hangzhou.i-bp1...), without a scheme.
_ALIBABA = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+\.i-[0-9a-z]+$")


def cloud_of(provider_id: str) -> str | None:
    """The cloud a Node's providerID names, or None when it names none this knows."""
    scheme, sep, _rest = provider_id.partition("://")
    if sep:
        return _SCHEMES.get(scheme.lower())
    return "alibaba" if _ALIBABA.match(provider_id) else None


def clouds(
    node_clouds: dict[tuple[str, str], str], svc: ServiceRef, nodes: set[str]
) -> frozenset[str]:
    """The clouds the Service's nodes' providerIDs name (empty: none is known)."""
    return frozenset(c for n in nodes if (c := node_clouds.get((svc.cluster, n))) is not None)
