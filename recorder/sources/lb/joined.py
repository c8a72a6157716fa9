"""One look from two API reads: a load balancer's members and their health, joined.

Alibaba SLB (`DescribeVServerGroupAttribute` + `DescribeHealthStatus`) and Tencent CLB
(`DescribeTargets` + `DescribeTargetHealth`) answer membership and health in two calls, each
the load balancer as it stands when that call is answered. A CCM that binds or unbinds a member
between the two calls tears the look: read members first and a member unbound meanwhile is
listed without a health entry, so the look says "health unknown" about a member already gone
(the lab's Tencent run: TKE's weight-0 member unbound between the calls was stored as a second
`draining`, a transition to the state it already had, then `DELETED` one look later).

So health is read first and membership second: a member unbound between the calls is absent
from the newer answer (the look sees it gone, which it is); a member bound between them is the
one the health answer can lack, and only then health is read once more, its entries taking
precedence over the first read's (a member the second read lacks keeps the first read's entry).
A member neither read covers is what the cloud did not report: health unknown, as before.
Cost: a third call only in a look whose members the first health answer did not all cover.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
M = TypeVar("M")


def members_and_health(
    read_health: Callable[[], Mapping[K, Any]],
    read_members: Callable[[], M],
    covered: Callable[[M, Mapping[K, Any]], bool],
) -> tuple[M, dict[K, Any]]:
    """(members, health index) for one look (module doc). `read_health` returns the health
    answer indexed by member; `covered` says whether every member has an entry."""
    health = dict(read_health())
    members = read_members()
    if not covered(members, health):
        health.update(read_health())
    return members, health
