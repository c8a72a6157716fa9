"""A cluster whose prober's NodePort looks were short-circuited: read none of them.

The prober's self-check (recorder/sources/kubeproxy/selfcheck.py) stores a NodePortSelfCheck
when its NodePort looks were answered by kube-proxy's cluster-wide chain (the prober is a pod
its local-traffic detector matches, or the node itself): such a look says `connected` while the
node drops the LB's connections, and hides a local pod's death behind any other pod's answer.
What makes a look short-circuited is where the prober sits and how kube-proxy is configured
(`--detect-local-mode`, `--cluster-cidr`), not the moment the check could show it: the check
can only show it at a node with no local endpoint, which may first happen long after the prober
started, and every earlier look went through the same chain. So the verdict holds over the
whole store, before it as after, and for every Service of the cluster (the chain is the same for
each): the fold forgets the cluster's NodePort lanes when it meets the verdict and folds none
after (`FoldState.short_circuited`), and detection reads F as without NodePort probes
(docs/semantics.md, "Without NodePort probes"). The Service a verdict was found at changes
nothing: the fact is the cluster's (replay.facts: `selfcheck`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gapwatch.replay.fold import FoldState

#: The fact, and the verdict that says the looks were short-circuited.
FACT = "selfcheck"
SHORT_CIRCUITED = "short-circuited"
#: The probe fact it voids.
NODEPORT = "nodeport"


def short_circuit(state: FoldState, cluster: str) -> None:
    """Fold a verdict of `cluster`: forget its NodePort lanes (and what the fold kept of them),
    as if they had never been folded; `state.short_circuited` keeps the fold from adding any."""
    if cluster in state.short_circuited:
        return
    state.short_circuited.add(cluster)
    lanes = state.probes[NODEPORT]
    for svc, node in [k for k in lanes if k[0].cluster == cluster]:
        del lanes[(svc, node)]
        key = (NODEPORT, svc.cluster, svc.namespace, svc.name, node)
        for kept in (state.lanes, state.seen, state.look_gap, state.newest_kept):
            kept.pop(key, None)
        if not _has_lane(state, svc, node):
            nodes = state.service_nodes.get(svc)
            if nodes is not None:
                nodes.discard(node)
                if not nodes:
                    del state.service_nodes[svc]


def _has_lane(state: FoldState, svc: object, node: str) -> bool:
    """Whether another lane than the NodePort's puts `node` under the Service."""
    key = (svc, node)
    return key in state.endpoints or any(
        key in lanes for kind, lanes in state.probes.items() if kind != NODEPORT
    )
