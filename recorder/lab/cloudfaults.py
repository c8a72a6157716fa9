"""The table's rows for the other clouds' load balancers: the lab run on Alibaba SLB's, Tencent
CLB's or Huawei ELB v3's fake (fakes/fakeclouds.py) instead of moto's ELBv2, with the cloud's
simulator preset where the simulator has one (recorder/sim/presets.py: `alibaba-slb`,
`tencent-clb-grace`; Huawei's CCM is endpoint-driven as the seed's is: `seed-3node`). No fault
moments: the claim is the recording's, over each cloud's API and signatures (0 lost, 0 duplicated,
windows match, and the API answered no error). Throttling on any cloud is `elb-throttle --lb
CLOUD` (docs/lab.md "Other clouds": why the rows do not throttle).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from gapwatch.recorder.lab.faultbase import Fault

if TYPE_CHECKING:
    from gapwatch.recorder.lab.session import Lab


class CloudRun(Fault):
    """Base: the lab on `self.lb`'s fake, with `self.scenario` (set by the subclasses)."""

    def finish(self, lab: Lab) -> list[str]:
        """Notes what the cloud's API answered: calls, and each error code's count (a poller that
        signed wrongly would show the cloud's signature error here)."""
        if lab.world.cloud is not None:
            calls = lab.world.cloud.fake.calls
            codes = Counter(code for _action, code in calls if code is not None)
            refused = ", ".join(f"{code} x{n}" for code, n in sorted(codes.items())) or "none"
            self.notes.append(
                f"the {lab.world.lb} LB API answered {len(calls)} calls; errors: {refused}"
            )
        return super().finish(lab)


class AlibabaRun(CloudRun):
    """Alibaba SLB's API (vServer group, health status; ACS3 signatures), alibaba-slb preset."""

    def __post_init__(self) -> None:
        self.lb, self.scenario = "alibaba", "alibaba-slb"


class TencentRun(CloudRun):
    """Tencent CLB's API (targets with weights, target health; TC3 signatures) on the
    tencent-clb-grace preset (weight 0 for a terminating pod)."""

    def __post_init__(self) -> None:
        self.lb, self.scenario = "tencent", "tencent-clb-grace"


class HuaweiRun(CloudRun):
    """Huawei ELB v3's API (pool members, paged; SDK-HMAC-SHA256 signatures) on seed-3node."""

    def __post_init__(self) -> None:
        self.lb, self.scenario = "huawei", "seed-3node"


CLOUD_FAULTS: dict[str, type[Fault]] = {
    "lb-alibaba": AlibabaRun,
    "lb-tencent": TencentRun,
    "lb-huawei": HuaweiRun,
}
