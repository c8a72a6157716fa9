"""Which nodes a node-driven CCM keeps in the target group of an `externalTrafficPolicy: Local`
Service: does a NotReady node stay registered, by controller and release.

- **The AWS Load Balancer Controller** (instance targets; `ccm.controller:
  aws-load-balancer-controller`): only nodes whose Ready condition is True, on every release
  (kubernetes-sigs/aws-load-balancer-controller `ResolveNodePortEndpoints`,
  `filterNodesByReadyConditionStatus(candidateNodes, corev1.ConditionTrue)`; its node event
  handler requeues the target group when a node's Ready status changes). It is no part of a
  Kubernetes release. Its `EndpointsFailOpen` (every node Unknown: register the Unknown ones) is
  not modelled.
- **The upstream service controller** (k8s.io/cloud-provider `controllers/service`, run by every
  in-tree and cloud-provider CCM: AWS's own NLB support, GCE, Azure, OpenStack, ...;
  `ccm.controller: service-controller`; cloud-provider-aws's `findInstancesForELB` narrows the
  nodes it is given by the target-node-labels annotation and found instances, cloud-provider-
  azure's node cache excludes deleted nodes: neither reads the Ready condition in the code
  read). Its node predicates for an eTP=Local Service, read at the k8s.io/cloud-provider tag of
  each release (the staging copy kubernetes/kubernetes publishes at every release):

  - up to 1.24: deregistered at NotReady, registered again at Ready (the Ready predicate for
    every Service);
  - 1.25.0-1.25.2: stays (kubernetes/kubernetes#109706 dropped the Ready predicate for eTP=Local);
  - 1.25.3 and later 1.25: deregistered (#112807 reverted #109706 on release-1.25, regression
    #112793);
  - 1.26.0-1.26.10: stays (#109706; master kept it, with #111663's fix);
  - 1.26.11 and later 1.26: deregistered (#121116 put the Ready predicate back for eTP=Local,
    issue #121094, cherry-picked to 1.26.11; "Fix 121094 by re-introducing the readiness
    predicate for externalTrafficPolicy: Local services" in the 1.26-1.28 CHANGELOGs);
  - 1.27 and later: stays. KEP-3458 (`StableLoadBalancerNodeSet`, kubernetes/enhancements
    keps/sig-network/3458-remove-transient-node-predicates-from-service-controller; kep.yaml:
    beta v1.27, no alpha): beta and on by default in 1.27, GA in 1.30, the gate removed after
    1.31 (kubernetes/website's feature-gate page). A Ready change no longer triggers a sync
    (`shouldSyncUpdatedNode`) and no sync's predicates drop a NotReady node
    (`stableNodeSetPredicates`).

  Where a NotReady node stays, a new node is registered when it appears (the node informer's
  add triggers a sync), before it is Ready; the LB's health check on the healthCheckNodePort
  keeps it out until kube-proxy there answers 200. With the gate turned off (1.27-1.31) the
  older predicates hold: not modelled (the gate's default is).

The release is the control plane's, read as the simulator reads it elsewhere
(`nodes.kubelet_version`, recorder.sim.nodegrace).
"""

from __future__ import annotations

from gapwatch.recorder.sim.scenario import CcmController, Scenario

#: the first release whose service controller keeps NotReady nodes for every Service
#: (StableLoadBalancerNodeSet on by default, KEP-3458)
STABLE_NODE_SET_FROM = 27
#: the first patch of a minor that restored the Ready predicate for eTP=Local Services after
#: kubernetes/kubernetes#109706 dropped it: 1.25.3 (#112807, the revert), 1.26.11 (#121116)
READY_PREDICATE_BACK_IN = {25: 3, 26: 11}


def _minor_patch(version: str) -> tuple[int, int] | None:
    parts = version.lstrip("v").split(".")
    if len(parts) < 3 or parts[0] != "1" or not parts[1].isdigit():
        return None
    digits = ""
    for ch in parts[2]:
        if not ch.isdigit():
            break
        digits += ch
    return (int(parts[1]), int(digits)) if digits else None


def service_controller_keeps_not_ready(version: str) -> bool:
    """True where the upstream service controller of release `version` (e.g. "v1.29.10") keeps
    a NotReady node in an eTP=Local Service's target group (module docstring's table); an
    unreadable version gets the current behaviour."""
    parsed = _minor_patch(version)
    if parsed is None:
        return True
    minor, patch = parsed
    if minor >= STABLE_NODE_SET_FROM:
        return True
    if minor in READY_PREDICATE_BACK_IN:
        return patch < READY_PREDICATE_BACK_IN[minor]
    return False


def keeps_not_ready(controller: CcmController, version: str) -> bool:
    """Does `controller` of release `version` keep a NotReady node registered (and register a
    new node before it is Ready)?"""
    if controller == "aws-load-balancer-controller":
        return False
    return service_controller_keeps_not_ready(version)


def scenario_keeps_not_ready(s: Scenario) -> bool:
    """`keeps_not_ready` for a scenario's node-driven CCM (an endpoint-driven one reads no
    node condition: False)."""
    if s.ccm.mode != "node-driven":
        return False
    return keeps_not_ready(s.ccm.controller, s.nodes.kubelet_version)
