"""The NodePort self-check: does a NodePort look see what the LB sees? Pure (no I/O, no clock).

kube-proxy's iptables rules for an `externalTrafficPolicy: Local` Service send the traffic its
local-traffic detector matches (`--detect-local-mode`; ClusterCIDR: every pod of the cluster)
and the node's own traffic (`--src-type LOCAL`) to the Service's cluster-wide chain (KEP-2450;
kubernetes/kubernetes#77523). From such a client a NodePort look at a node with no local
endpoint answers `connected` while the node drops the LB's connections (docs/kubeproxy.md).

A node shows it when, at one (Service, node):
- the health-check node port answers 503 with `localEndpoints: 0` (and `serviceProxyHealthy`
  not false: a stuck kube-proxy may still run older rules) on a look that ended before the
  NodePort look started, and again on a look that started after it ended, with no other answer
  at that target in between (the two looks are not atomic with the NodePort look: a pod that
  became ready in between would show as a count above 0 on one of them);
- the Service's EndpointSlices list no endpoint on the node, in any condition, since at least
  `settle_s` before the NodePort look started, and still at the look after (a serving-
  terminating pod with ProxyTerminatingEndpoints is forwarded to while the health check
  counts 0: kube-proxy counts ready endpoints only; and kube-proxy may lag a slice that
  dropped one, up to 60 s before it calls itself unhealthy);
- and the NodePort look between them answered `connected`.
Each such look is one proof. `PROOFS_NEEDED` proofs at one (Service, node), with no NodePort
look under the same conditions that timed out or was refused in between (that look saw the
node drop, as the LB does: the proofs so far are forgotten), decide: the prober's NodePort looks
are short-circuited. Without EndpointSlices (`gapwatch probe`, the node-local agent, which
watch none) nothing is decided: a terminating pod cannot be told from a short-circuit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.targets import Target
from gapwatch.recorder.sources.kubeproxy.tracker import SOURCE
from gapwatch.recorder.timefmt import format_time

#: The observation kind of a decided self-check (docs/observation.md).
KIND = "NodePortSelfCheck"
#: Its verdict.
SHORT_CIRCUITED = "short-circuited"
#: Proofs at one (Service, node) before deciding.
PROOFS_NEEDED = 3
#: What a NodePort look that saw the node drop answers.
DROPPED = frozenset({"timeout", "refused"})


@dataclass(frozen=True, slots=True)
class Proof:
    """One NodePort look that answered `connected` between two health looks counting 0 ready
    local endpoints, the slices listing none: when each ended (the NodePort look: both ends)."""

    health_before: datetime
    nodeport_started: datetime
    nodeport_finished: datetime
    health_after_started: datetime

    def as_payload(self) -> dict[str, str]:
        """The proof as the observation stores it: RFC 3339 times, as every stored time."""
        return {
            "health_before": format_time(self.health_before),
            "nodeport_started": format_time(self.nodeport_started),
            "nodeport_finished": format_time(self.nodeport_finished),
            "health_after_started": format_time(self.health_after_started),
        }


def counts_none(payload: Mapping[str, Any]) -> bool:
    """A health-check answer saying kube-proxy has no ready local endpoint and is healthy."""
    body = payload.get("body")
    return (
        payload.get("status") == 503
        and isinstance(body, Mapping)
        and body.get("localEndpoints") == 0
        and body.get("serviceProxyHealthy") is not False
    )


@dataclass(slots=True)
class _Pair:
    """What the check knows of one (Service, node)."""

    #: since when (a look's start) the slices list no endpoint on the node; None: they list one
    none_listed_since: datetime | None = None
    #: the end of the first health look of the current run of looks counting none (None: the
    #: last health look counted some, or failed)
    none_counted_from: datetime | None = None
    #: `connected` NodePort looks (start, end) since then, waiting for the health look after
    pending: list[tuple[datetime, datetime]] = field(default_factory=list)
    proofs: list[Proof] = field(default_factory=list)


#: (namespace/name of the Service, node)
PairKey = tuple[str, str]


class SelfCheck:
    """See the module docstring. Feed it every ProxyHealth and NodePortProbe look (`health`,
    `nodeport`) with what the slices list on the node then; `health` answers the proofs once,
    when they decide."""

    def __init__(self, *, settle_s: float, needed: int = PROOFS_NEEDED) -> None:
        self.settle = timedelta(seconds=settle_s)
        self.needed = needed
        self.decided: tuple[PairKey, list[Proof]] | None = None
        self._pairs: dict[PairKey, _Pair] = {}
        #: proofs found so far, every pair (a metric)
        self.proofs = 0

    def keep_only(self, keys: set[PairKey]) -> None:
        """Forget the pairs no look feeds any more (a node or Service gone): a recorder runs for
        months, and nodes come and go under an autoscaler."""
        for key in [k for k in self._pairs if k not in keys]:
            del self._pairs[key]

    def _pair(self, key: PairKey, listed: int | None, at: datetime) -> _Pair:
        pair = self._pairs.setdefault(key, _Pair())
        if listed == 0:
            if pair.none_listed_since is None:
                pair.none_listed_since = at
        else:  # listed, or unknown: no proof can stand on this stretch
            pair.none_listed_since = None
            pair.none_counted_from = None
            pair.pending.clear()
        return pair

    def _settled(self, pair: _Pair, at: datetime) -> bool:
        since = pair.none_listed_since
        return since is not None and since + self.settle <= at

    def nodeport(
        self, key: PairKey, started: datetime, finished: datetime, result: str, listed: int | None
    ) -> None:
        """A NodePort look at the pair ended."""
        if self.decided is not None:
            return
        pair = self._pair(key, listed, started)
        counted_from = pair.none_counted_from
        if counted_from is None or counted_from > started or not self._settled(pair, started):
            return
        if result == "connected":
            pair.pending.append((started, finished))
        elif result in DROPPED:  # this look saw the node drop, as the LB does
            pair.pending.clear()
            pair.proofs.clear()

    def health(
        self,
        key: PairKey,
        started: datetime,
        finished: datetime,
        payload: Mapping[str, Any],
        listed: int | None,
    ) -> list[Proof] | None:
        """A health look at the pair ended: the proofs, when they now decide (once)."""
        if self.decided is not None:
            return None
        pair = self._pair(key, listed, started)
        if not counts_none(payload) or pair.none_listed_since is None:
            pair.none_counted_from = None
            pair.pending.clear()
            return None
        if pair.none_counted_from is None:
            pair.none_counted_from = finished
            return None
        before = pair.none_counted_from
        waiting = []
        for np_started, np_finished in pair.pending:
            if np_finished <= started:
                pair.proofs.append(Proof(before, np_started, np_finished, started))
                self.proofs += 1
            else:  # still in flight when this look began: the next one closes it
                waiting.append((np_started, np_finished))
        pair.pending = waiting
        if len(pair.proofs) >= self.needed:
            self.decided = (key, list(pair.proofs))
            return self.decided[1]
        return None


def verdict_observation(
    cluster: str, health: Target, node_port: int | None, proofs: list[Proof], at: datetime
) -> Observation:
    """The NodePortSelfCheck the prober stores when the proofs decide (docs/observation.md):
    the Service and node of the proofs, the ports and address looked at, each proof's times;
    `previous_observed_at` the first proof's health look before, `observed_at` the end of the
    look that decided."""
    key = health.key
    return Observation(
        observed_at=at,
        cluster=cluster,
        source=SOURCE,
        kind=KIND,
        op="OBSERVED",
        payload={
            "verdict": SHORT_CIRCUITED,
            "port": node_port,
            "health_port": health.port,
            "address": health.address,
            "listed_endpoints": 0,
            "proofs": [p.as_payload() for p in proofs],
        },
        namespace=key.namespace,
        name=key.name,
        node=key.node,
        previous_observed_at=proofs[0].health_before,
    )
