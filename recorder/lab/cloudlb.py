"""The simulated CCM's load balancer on Alibaba, Tencent or Huawei (fakes/fakeclouds.py): which
backends are bound, their health and weight, from the simulator's `TargetHealth` changes, and
the state each cloud's poller must record for the lab's ledger (ledger.py).

The simulator speaks ELBv2 (recorder/sim/lb.py). fakes/cloudanswers.py's table says how each of
its states reads on the other clouds; a target the simulated CCM deregistered (`draining` without
`Weight: 0`) leaves the group at once, as no other cloud has a deregistration-delay state.
"""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.lab.fakes import cloudanswers as answers
from gapwatch.recorder.lab.fakes.cloudanswers import Member
from gapwatch.recorder.lab.fakes.fakeclouds import CREDENTIALS, CloudLbFake
from gapwatch.recorder.observation import Observation

#: `gapwatch lab --lb` names: `aws` (moto's ELBv2) and the other clouds
LB_CHOICES = ("aws", *answers.CLOUDS)
#: A target's state while it is in no group (ledger.py's word for it).
ABSENT = "absent"


def lb_of_scenario(scenario: str) -> str:
    """The cloud a simulator preset stands for (`alibaba-slb`, `tencent-clb*`), else AWS."""
    for cloud in answers.CLOUDS:
        if scenario.startswith(cloud + "-"):
            return cloud
    return "aws"


class CloudTargets:
    """Applies the simulated CCM's target changes to one cloud's fake."""

    def __init__(self, fake: CloudLbFake, *, node_port: int) -> None:
        self.fake = fake
        self.cloud = fake.cloud
        self.node_port = node_port
        self.env = dict(CREDENTIALS[self.cloud])

    def ident(self, sim_id: str, address: str | None) -> str:
        """The member's id as the cloud's API and its poller name it (Huawei: the address)."""
        if self.cloud == "huawei":
            if address is None:
                raise ValueError(f"huawei: no address for instance {sim_id}")
            return address
        return answers.instance_id(self.cloud, sim_id)

    def provider_id(self, sim_id: str, zone: str) -> str:
        """The Node's providerID as this cloud's CCM writes it."""
        ident = answers.instance_id(self.cloud, sim_id)
        return answers.provider_id(self.cloud, self.fake.region, zone, ident)

    def apply(self, obs: Observation, address: str | None) -> tuple[str, str]:
        """Make the change `obs` (a simulated `TargetHealth` transition) on the fake; returns
        (the member's id, the state its poller must record, or ABSENT)."""
        target = obs.payload["Target"]
        port = int(target.get("Port") or self.node_port)
        ident = self.ident(str(target["Id"]), address)
        health: dict[str, Any] = obs.payload.get("TargetHealth") or {}
        state = str(health.get("State", "healthy"))
        weight0 = obs.payload.get("Weight") == 0
        if obs.op == "DELETED" or (state == "draining" and not weight0):
            self.fake.remove_member(ident, port)
            return ident, ABSENT
        if weight0:
            # bound with weight 0: the health checks go on; the CCM set the weight, not health
            kept = next((m for m in self.fake.members() if m.ident == ident), None)
            word = kept.health if kept else answers.HEALTH[self.cloud]["healthy"]
            self.fake.set_member(Member(ident, address or ident, port, 0, word))
            return ident, "draining"
        words = answers.HEALTH[self.cloud]
        if state not in words:
            raise ValueError(f"{self.cloud}: no way to serve the simulator's state {state!r}")
        weight = answers.DEFAULT_WEIGHT[self.cloud]
        self.fake.set_member(Member(ident, address or ident, port, weight, words[state]))
        return ident, answers.RECORDED[self.cloud][state]
