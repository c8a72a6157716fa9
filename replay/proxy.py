"""What detection knows about kube-proxy on a Service's nodes: whether ProxyTerminatingEndpoints
is in force (configured, shown by the probes, or by kube-proxy's version), the probe period, and
the largest programming lag to assume. Built on the measured lags (replay.lags). Pure; results
that need the whole state are memoized in `FoldState.memo`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import islice

from gapwatch.replay import gateconf, sync_seen
from gapwatch.replay.assumptions import US, DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState, Sample, lb_facing, sorted_lane
from gapwatch.replay.lags import proxy_extent
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.signals import (
    HI,
    Iv,
    exact_steps,
    intersect,
    steps_from_samples,
    tri_from_steps,
)
from gapwatch.replay.syncperiod import assumed_bound_us


@lru_cache(maxsize=256)
def _version(text: str | None) -> tuple[int, int] | None:
    """A kube-proxy version's (major, minor) (read per node, ~1,000 times a refresh of the
    `large` store: a few distinct strings)."""
    if not text:
        return None
    parts = text.lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def pte_known(
    state: FoldState, cluster: str, settings: DetectSettings, node: str | None = None
) -> bool | None:
    """ProxyTerminatingEndpoints as configured, else as kube-proxy's own metrics and
    configuration state it (`gate_stated`: `node`'s own statements, or with no node every
    node's where all agree), else as the probes showed it in this cluster (a NodePort answering,
    or not, while the node's only endpoints had long been serving-terminating); None when none
    says. With `node`, where the nodes' probes disagree (one showed the gate on, another off:
    a node pool configured apart, a configuration rolled out node by node), the node's own
    evidence alone: the gate is each kube-proxy process's (KEP-1669's feature gate, set per
    component), so one node's says nothing of another's then."""
    if settings.proxy_terminating_endpoints is not None:
        return settings.proxy_terminating_endpoints
    stated = gate_stated(state, cluster, node)
    if stated is not None:
        return stated
    key = (cluster, settings)
    memo = state.memo.pte
    if key not in memo:
        settle = _settle_us(state, cluster, settings)
        # the evidence reads the settings through the lag bound only: one pass per bound
        by_settle = (cluster, settle)
        if by_settle not in memo:
            memo[by_settle] = _pte_evidence(state, cluster, settle)
        memo[key] = memo[by_settle]
    if node is None or memo[key] is None:
        return memo[key]
    per_node = state.memo.pte_nodes
    if key not in per_node:
        per_node[key] = _node_evidence(state, cluster, _settle_us(state, cluster, settings))
    nodes = per_node[key]
    return memo[key] if len(set(nodes.values())) < 2 else nodes.get(node)


def _settle_us(state: FoldState, cluster: str, settings: DetectSettings) -> int:
    """The lag bound the probes' PTE evidence reads: the largest of the cluster's Services."""
    services = [svc for svc in lb_facing(state) if svc.cluster == cluster]
    return max([0, *(proxy_lag_hi(state, svc, settings) for svc in services)])


def versions_of(state: FoldState, cluster: str) -> dict[str, tuple[int, int] | None]:
    """Each node of `cluster` -> its kube-proxy's (major, minor) version, as the Nodes stated it
    (None: not read from the version text)."""
    return {
        node: _version(text) for (where, node), text in state.node_versions.items()
        if where == cluster
    }  # fmt: skip


def gate_stated(state: FoldState, cluster: str, node: str | None = None) -> bool | None:
    """The ProxyTerminatingEndpoints gate as the cluster's kube-proxies state it: in their
    metrics (`kubernetes_feature_enabled`, every component from 1.26: kubernetes#112690; the
    prober keeps that one gate's sample) and in their configuration (/configz, read with the
    node's version: replay.gateconf, which states the default too where nothing configured
    turns it), where every statement says the same; None where none states it, or they differ
    (then the probes' evidence decides, as before). With `node`, that node's statements alone
    (its kube-proxy runs its own configuration: a rollout, a node pool on another version);
    a node that stated nothing states nothing, whatever the others said; its /configz answers
    only where no restart of its kube-proxy was seen after the last of them (replay.confspan)."""
    memo = state.memo.gate
    key = (cluster, node)
    if key in memo:
        return memo[key]
    if node is None:
        # (each node's gate values carried on from its last read: replay.sync_seen)
        seen = {
            gate
            for where in state.syncs
            if where[0] == cluster
            for gate in sync_seen.seen(state, where).gates
        }
        if state.proxy_confs:
            seen.update(gateconf.statements(state, cluster, versions_of(state, cluster)))
    else:  # the node's own lanes (read per node of a refresh: no pass over the others)
        version = _version(state.node_versions.get((cluster, node)))
        seen = set(sync_seen.seen(state, (cluster, node)).gates)
        from gapwatch.replay.confspan import restarted_since

        confs = state.proxy_confs.get((cluster, node), ())
        if confs and restarted_since(state, cluster, node, confs[-1].at_us):
            confs = ()  # a later process may run another configuration (replay.confspan)
        for conf in confs:
            found = gateconf.configured(conf, version)
            if found is not None:
                seen.add(found)
    memo[key] = found = seen.pop() if len(seen) == 1 else None
    return found


def pte_enabled(state: FoldState, cluster: str, node: str, settings: DetectSettings) -> bool:
    """ProxyTerminatingEndpoints (KEP-1669): always on from kube-proxy 1.28 (GA: the gate is
    gone); else known (pte_known: configured or shown by the probes); else on by default from
    1.26 (an unknown version counts as on), off before."""
    version = _version(state.node_versions.get((cluster, node)))
    if version is not None and version >= (1, 28):
        return True
    known = pte_known(state, cluster, settings, node)
    if known is not None:
        return known
    return version is None or version >= (1, 26)


def pte_possible(state: FoldState, cluster: str, node: str, settings: DetectSettings) -> bool:
    """ProxyTerminatingEndpoints may be on for `node` though `pte_enabled` reads it off: its
    kube-proxy is 1.22-1.25, where the gate exists (alpha from 1.22, KEP-1669; DESIGN.md
    section 6) and may have been enabled, and neither the configuration nor the probes say it
    is off. What kube-proxy then forwarded to a serving-terminating local pod is unknown."""
    if settings.proxy_terminating_endpoints is not None:
        return settings.proxy_terminating_endpoints
    version = _version(state.node_versions.get((cluster, node)))
    if version is None or version >= (1, 26):
        return pte_enabled(state, cluster, node, settings)
    return version >= (1, 22) and pte_known(state, cluster, settings, node) is not False


def pte_sure(state: FoldState, cluster: str, node: str, settings: DetectSettings) -> bool:
    """ProxyTerminatingEndpoints surely on for `node`: its kube-proxy is 1.28 or later (GA, no
    gate to turn it off), or configured or shown on (pte_known). A default (1.26-1.27) is no
    proof: the gate could have been turned off."""
    return _ga(state, cluster, node) or pte_known(state, cluster, settings, node) is True


def pte_by_default(state: FoldState, cluster: str, node: str, settings: DetectSettings) -> bool:
    """ProxyTerminatingEndpoints on for `node` by its kube-proxy version's default alone:
    1.26-1.27, where the gate is beta and on by default (KEP-1669), and nothing states it either
    way (the configuration, kube-proxy's feature-gate metric). The likelier reading, not a proof:
    the gate could have been turned off."""
    stated = gate_stated(state, cluster, node)
    if settings.proxy_terminating_endpoints is not None or stated is not None:
        return False
    version = _version(state.node_versions.get((cluster, node)))
    return version is not None and (1, 26) <= version < (1, 28)


def _ga(state: FoldState, cluster: str, node: str) -> bool:
    """The node's kube-proxy is 1.28 or later: ProxyTerminatingEndpoints GA, no gate."""
    version = _version(state.node_versions.get((cluster, node)))
    return version is not None and version >= (1, 28)


def pte_stated(state: FoldState, cluster: str, node: str, settings: DetectSettings) -> bool:
    """ProxyTerminatingEndpoints on for `node` by what is stated, not inferred: its kube-proxy
    is 1.28 or later (GA: no gate to turn it off) or the configuration says so. The probes'
    evidence (`pte_known`) is left out: it reads PTE from a lag bound, which fails when
    kube-proxy lags past it."""
    stated = settings.proxy_terminating_endpoints
    return stated is True or (stated is None and _ga(state, cluster, node))


def _pte_evidence(state: FoldState, cluster: str, settle_us: int) -> bool | None:
    """A NodePort that answers while the node's endpoints have only been serving-terminating
    for longer than kube-proxy's lag: PTE on. One that times out while they have been ready or
    serving-terminating that long, and are serving-terminating now: PTE off. Any lane's "on"
    wins, else any lane's "off" (`_node_evidence`: the same per node).

    Weighed against the version rules (DESIGN.md section 6): a node at 1.28 or later has no
    gate, so what it shows says nothing of the gate elsewhere (skipped). The "on" read from the
    lag bound alone (`settle_us`) is an inference that fails when kube-proxy lags past it; it
    counts only where it agrees with the version's default (1.26-1.27, or unknown). Before 1.26,
    where the gate is off unless enabled, only kube-proxy's own report proves it on: its health
    check surely answering no ready local endpoint (counts are pushed after each rule sync)
    while the NodePort surely connects."""
    verdict: bool | None = None
    for _node, found in _lane_verdicts(state, cluster, settle_us):
        if found:
            return True
        verdict = False
    return verdict


def _node_evidence(state: FoldState, cluster: str, settle_us: int) -> dict[str, bool]:
    """Each node whose lanes showed the gate -> what they showed (`_pte_evidence` per node)."""
    nodes: dict[str, bool] = {}
    for node, found in _lane_verdicts(state, cluster, settle_us):
        nodes[node] = nodes.get(node, False) or found
    return nodes


def _lane_verdicts(state: FoldState, cluster: str, settle_us: int) -> Iterator[tuple[str, bool]]:
    """(node, what its lane showed) of every (Service, node) lane of `cluster` that showed
    the gate on or off (`_pte_evidence`)."""
    for (svc, node), samples in state.probes["nodeport"].items():
        if svc.cluster != cluster:
            continue
        lane = state.endpoints.get((svc, node), [])
        if not _ever_terminating(state, (svc, node), lane):
            continue  # no evidence: `_lane_evidence` reads only serving-terminating stretches
        version = _version(state.node_versions.get((cluster, node)))
        if version is not None and version >= (1, 28):
            continue
        inferred = version is None or version >= (1, 26)
        health = state.probes["health"].get((svc, node), [])
        # the lanes only grow: a lane whose three lists kept their lengths keeps its verdict
        key, size = (svc, node, settle_us, inferred), (len(samples), len(health), len(lane))
        known = state.memo.lane_pte.get(key)
        if known is not None and known[0] == size:
            found = known[1]
        else:
            found = _lane_evidence(samples, health, lane, settle_us, inferred)
            state.memo.lane_pte[key] = (size, found)
        if found is not None:
            yield node, found


def _ever_terminating(state: FoldState, key: tuple[ServiceRef, str], lane: list[Sample]) -> bool:
    """Whether the endpoints lane shows serving-terminating anywhere; kept in the memo with the
    lane's length (the lanes only grow: a lane that showed it still does, and one that did not
    is read from where it was read to)."""
    known = state.memo.lane_terminating.get(key)
    seen, found = known if known is not None and known[0] <= len(lane) else (0, False)
    if not found:
        found = any(e.value == "serving-terminating" for e in islice(lane, seen, None))
    state.memo.lane_terminating[key] = (len(lane), found)
    return found


def _lane_evidence(
    samples: list[Sample],
    health: list[Sample],
    lane: list[Sample],
    settle_us: int,
    inferred: bool,
) -> bool | None:
    """One (Service, node)'s PTE evidence (see _pte_evidence); `inferred`: whether the "on" read
    from the lag bound alone may count."""
    if _forwards_without_ready(samples, health, lane):
        return True
    verdict: bool | None = None
    times = [e.at_us for e in lane]
    for s in samples:
        i = bisect_right(times, s.at_us) - 1
        if i < 0 or lane[i].value != "serving-terminating":
            continue
        late = s.at_us - lane[i].at_us > settle_us
        if s.value == "connected" and late and inferred and not _still_counted(health, s.at_us):
            return True
        if s.value == "timeout":
            while i > 0 and lane[i - 1].value in ("ready", "serving-terminating"):
                i -= 1
            if s.at_us - lane[i].at_us > settle_us:
                verdict = False
    return verdict


def _still_counted(health: list[Sample], at_us: int) -> bool:
    """kube-proxy's health check surely still reported a ready local endpoint at `at_us` (the
    lane read as changes with bounds, as everywhere): kube-proxy had not synced a later change
    (its lag, as measured there, outlasts any bound), so a NodePort answering then is the old
    rules."""
    counted = [s._replace(value="1" if s.value == "200" and (s.num or 0) > 0 else "0")
               for s in sorted_lane(health)]  # fmt: skip
    tri = tri_from_steps(steps_from_samples(counted, "1", False), False)
    return any(iv.start <= at_us < iv.end for iv in tri.definite)


def _forwards_without_ready(
    nodeport: list[Sample], health: list[Sample], lane: list[Sample]
) -> bool:
    """The NodePort surely connected while the health check surely answered 503 with no ready
    local endpoint and the node's endpoints (`lane`) were only serving-terminating: kube-proxy
    forwarded to terminating endpoints only, which is PTE. While the endpoints say a ready one
    is there, kube-proxy's 503 is stale (a restarted kube-proxy answers 0 until its first sync
    while the rules it left keep forwarding): no evidence."""
    if not nodeport or not health or not lane:
        return False
    connected = tri_from_steps(steps_from_samples(sorted_lane(nodeport), "connected", False), False)
    unready = [
        s._replace(value="1" if s.value == "503" and s.num == 0 else "0")
        for s in sorted_lane(health)
    ]
    no_ready = tri_from_steps(steps_from_samples(unready, "1", False), False)
    # the watched endpoints change when the watch says so (its skew is kube-proxy's too)
    changes = [(e.at_us, e.value == "serving-terminating", e.event_id) for e in lane]
    terminating = tri_from_steps(exact_steps(changes, False), False)
    return bool(intersect(intersect(connected.definite, no_ready.definite), terminating.definite))


def proxy_lag_hi(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> int:
    """The largest kube-proxy lag to assume: measured where the probes measured it often enough
    (min_measurements; the largest measured lag, x lag_margin), else the wider of that and
    2 x the sync period the nodes' /configz stated, or where one stated none the
    proxy_lag_max_s assumption (replay.syncperiod). A measured lag is the
    midpoint of a probe interval: its upper bound is half a probe period more, so that is what
    gets the margin (a 5 s probe period hides up to 2.5 s of lag)."""
    key = (svc, settings)
    known = state.memo.proxy_lag_hi.get(key)
    if known is not None:
        return known
    half = probe_period(state, svc) / 2
    count, top = proxy_extent(state, svc, settings)
    hi = seconds_us(settings.lag_margin * (top + half)) if top is not None else 0
    if count < settings.min_measurements:
        hi = max(hi, assumed_bound_us(state, svc, settings))
    state.memo.proxy_lag_hi[key] = hi
    return hi


def proxy_lag_measured(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> int:
    """How many kube-proxy lag measurements the bound rests on (0: the assumption holds)."""
    return proxy_extent(state, svc, settings)[0]


def probe_period(state: FoldState, svc: ServiceRef) -> float:
    """The kube-proxy probe period in seconds (the largest gap a sample names between itself
    and the previous look), 0 without probes. Kept in the memo until the next fold."""
    known = state.memo.probe_period.get(svc)
    if known is None:
        gaps = [
            state.look_gap.get((kind, svc.cluster, svc.namespace, svc.name, node), 0)
            for kind in ("nodeport", "health")
            for node in state.service_nodes.get(svc, ())
        ]
        known = state.memo.probe_period[svc] = max(gaps, default=0) / US
    return known


#: health-check-node-port errors of a live node whose kube-proxy health server is down
REFUSED = frozenset({"refused", "reset", "connection refused", "ECONNREFUSED"})
#: the value a refused answer takes where nothing says what the rules did (F unknown)
UNKNOWN = "unknown"


def restart_carried(
    health: list[Sample], eps: list[Sample], listing_us: int = -HI, early_us: int = 0
) -> tuple[list[Sample], list[Iv]]:
    """kube-proxy restarting: its health port refuses connections while the rules it installed
    keep forwarding. Each refused answer takes the value of the last answer before the refusal
    (what those rules did); F is unknown (the intervals returned) from the refusal's start
    where nothing answered before it, else from the first EndpointSlice change after that
    answer (a change the restarting kube-proxy may or may not have programmed), until the
    next answer; the endpoints lane's first sample, where it is part of the slices' first
    listing (by `listing_us`: what they held when the recording began), is no change where it
    agrees with that answer (tests/replay/test_restart_listing.py). `early_us`: how long before
    its lane time kube-proxy may have read that change (the watch skew: two watches of one
    write deliver it at different times), so F is unknown from then, never before the answer
    (random 25,000,491 node-002: the restarted kube-proxy closed 25 ms before the recorder saw
    the version). Refused answers with no answer before them say `UNKNOWN`."""
    out: list[Sample] = []
    unknown: list[Iv] = []
    changes = [e.at_us for e in eps]
    answered: Sample | None = None
    for i, s in enumerate(health):
        if s.value not in REFUSED:
            answered = s
            out.append(s)
            continue
        out.append(s._replace(value=answered.value if answered else UNKNOWN))
        if i and health[i - 1].value in REFUSED:
            continue  # the stretch's first refusal decided it
        began = s.prev_us if s.prev_us is not None else s.at_us
        end = next((h.at_us for h in health[i:] if h.value not in REFUSED), HI)
        if answered is not None:
            # the slices' first listing is no change where it agrees with the answer (a 200
            # over a ready endpoint, a 503 over none)
            j = bisect_right(changes, answered.at_us)
            if j == 0 and eps and eps[0].at_us <= listing_us:
                j = int((answered.value == "200") == (eps[0].value == "ready"))
            if j == len(changes) or changes[j] >= end:
                continue
            began = max(began, changes[j] - early_us)
        unknown.append(Iv(began, end))
    return out, unknown


#: Node lane values that say the node itself is down (or gone)
NODE_DOWN = frozenset({"NotReady", "Unknown", "Deleted"})


def silent(value: str) -> bool:
    """A health-check look that got no answer at all (a timeout, an error): the node may be
    down, or only kube-proxy's health server hung while its rules keep forwarding."""
    return not value.isdigit() and value not in REFUSED and value != UNKNOWN


def silent_stretches(
    health: list[Sample], node_lane: list[Sample], grace_us: int
) -> tuple[list[Iv], list[Iv]]:
    """The stretches of consecutive silent looks (from the last answer before the first to the
    next answer, HI while none came), split in two: `down`, where the Node's own status agrees
    the node stopped (it was NotReady, Unknown or deleted when the stretch began, or turned so
    after its start and within node_grace_s of its end: the node controller marks a node that
    stopped answering only that long after), and `unknown`, the rest: a look that timed out is
    by itself no evidence of what the node's rules did."""
    down: list[Iv] = []
    unknown: list[Iv] = []
    silent_run(health, 0, len(health), node_lane, grace_us, down, unknown)
    return down, unknown


def silent_run(
    health: Sequence[Sample],
    i: int,
    stop: int,
    node_lane: Sequence[Sample],
    grace_us: int,
    down: list[Iv],
    unknown: list[Iv],
) -> int:
    """`silent_stretches`' loop from look `i` (the lane's first, or one the loop reached
    between stretches) until it reaches `stop` or past it (a stretch begun before `stop` is
    read to its end), its stretches appended to `down` and `unknown`: the look it reached.
    Its state there is that look's index alone (replay.lane_tail resumes it)."""
    while i < len(health) and i < stop:
        if not silent(health[i].value):
            i += 1
            continue
        first = health[i]
        while i < len(health) and silent(health[i].value):
            i += 1
        began = first.prev_us if first.prev_us is not None else first.at_us
        end = health[i].at_us if i < len(health) else HI
        was = [n.value for n in node_lane if n.at_us <= began]
        confirmed = (bool(was) and was[-1] in NODE_DOWN) or any(
            n.value in NODE_DOWN and began < n.at_us and n.at_us - grace_us <= end
            for n in node_lane
        )
        (down if confirmed else unknown).append(Iv(began, end))
    return i


def unconfirmed_carried(health: list[Sample], unknown: list[Iv]) -> list[Sample]:
    """`health` with every silent look inside an `unknown` stretch (silent_stretches) taking the
    value of the last answer before it (`UNKNOWN` where none came before): for the classes, a
    timeout the Node's status does not confirm is no unreachable node."""
    if not unknown:
        return health
    starts = [iv.start for iv in unknown]
    out: list[Sample] = []
    answered: Sample | None = None
    for s in health:
        if not silent(s.value):
            answered = s
            out.append(s)
            continue
        j = bisect_right(starts, s.at_us) - 1
        inside = j >= 0 and unknown[j].start <= s.at_us < unknown[j].end
        out.append(s._replace(value=answered.value if answered else UNKNOWN) if inside else s)
    return out


def changed_since(stretches: list[Iv], eps: list[Sample]) -> list[Iv]:
    """Each stretch from the first EndpointSlice change inside it to its end (stretches with no
    change left out): before that change the rules kube-proxy had when the last answer came are
    still the rules; after it, whether kube-proxy followed is not known from the looks."""
    changes = [e.at_us for e in eps]
    out: list[Iv] = []
    for iv in stretches:
        j = bisect_right(changes, iv.start)
        if j < len(changes) and changes[j] < iv.end:
            out.append(Iv(changes[j], iv.end))
    return out
