"""The CloudTrail record of one target membership call the simulated CCM made (what
recorder.sim.formats writes as `cloudtrail` and recorder.sim.evidence emits in-band)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


def uid(*parts: object) -> str:
    """A stable UUID-shaped id from `parts`."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def trail_record(world: World, at_us: int, node: str, call: str) -> dict[str, Any]:
    """RegisterTargets / DeregisterTargets at `at_us` (CloudTrail's eventTime: whole seconds)."""
    s = world.s
    name = "RegisterTargets" if call == "register" else "DeregisterTargets"
    when = world.clock.dt(at_us - at_us % 1_000_000)
    target = {"id": world.nodes[node].instance_id, "port": s.service.node_port}
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "AssumedRole", "accountId": s.lb.account},
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "elasticloadbalancing.amazonaws.com",
        "eventName": name,
        "awsRegion": s.lb.region,
        "sourceIPAddress": "10.0.0.1",
        "userAgent": "gapwatch-simulator (cloud-controller-manager)",
        "requestParameters": {"targetGroupArn": world.poller.arn, "targets": [target]},
        "responseElements": None,
        "requestID": uid("request", at_us, node, call),
        "eventID": uid("event", at_us, node, call),
        "eventType": "AwsApiCall",
        "apiVersion": "2015-12-01",
        "recipientAccountId": s.lb.account,
    }
