"""Nodes the service controller keeps out of every LB: those labelled
`node.kubernetes.io/exclude-from-external-load-balancers` (any value; GA in 1.21, kubeadm sets
it on control-plane nodes). Where no LB data says otherwise (no poller, no CloudTrail), the LB
is inferred not to route to such a node: the label added, the CCM removes the node within its
lag (R possible up to the lag bound after the Node version that has it); removed, it may add
the node from then on. Pure.
"""

from __future__ import annotations

from gapwatch.replay.fold import FoldState
from gapwatch.replay.signals import Step, Tri, t_and, tri_from_steps


def lb_eligible(state: FoldState, cluster: str, node: str, ccm_hi_us: int) -> Tri | None:
    """Where the Node could be an LB target (possibly, definitely); None when it never carried
    the label (nothing to narrow)."""
    changes = state.lb_excluded.get((cluster, node))
    if not changes or not any(excluded for _, excluded, _ in changes):
        return None
    (_at, first, _eid), *rest = changes
    steps = [Step(at, at + ccm_hi_us, not excluded, eid) for at, excluded, eid in rest]
    return tri_from_steps(steps, not first)


def unless_excluded(routed: Tri, state: FoldState, cluster: str, node: str, ccm_hi_us: int) -> Tri:
    """An inferred R held to where the Node could be an LB target."""
    eligible = lb_eligible(state, cluster, node, ccm_hi_us)
    return routed if eligible is None else t_and(routed, eligible)
