"""The fold: facts (replay/facts.py rows) into per-(service, node) lane samples.

Pure: no database, clock or I/O. `fold(state, facts)` appends to `state` and returns it; folding
in chunks equals folding at once, and every lane is fed by exactly one source, so the order of
equal-time facts from different sources does not matter. Interpreting the samples (signals,
windows, segments) happens later, in replay.signals and replay.detect.

`fold_probes` is the bulk path for the probe and LB samples (most of a real log): rows already
grouped by lane, as replay.load reads them from PostgreSQL; it builds the same lanes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from gapwatch.replay import factrow as F
from gapwatch.replay.facts_nodehealth import UNSYNCED
from gapwatch.replay.facts_probes import CONFIG
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.owntime import StampedTimes, own_time
from gapwatch.replay.platform import cloud_of
from gapwatch.replay.podstate import lane_state, restarted
from gapwatch.replay.shortcircuit import FACT as SELFCHECK
from gapwatch.replay.shortcircuit import SHORT_CIRCUITED, short_circuit

if TYPE_CHECKING:
    from gapwatch.replay.assumptions import DetectSettings
    from gapwatch.replay.signals import Step, Tri

#: Lane sample sources in the state (facts of one kind each).
PROBE_FACTS = ("health", "nodeport", "target")
_PROBES = frozenset(PROBE_FACTS)


class Sample(NamedTuple):
    """One observed value: seen at `at_us`; `prev_us` the last look that saw the old value."""

    at_us: int
    prev_us: int | None
    value: str
    event_id: int
    num: int | None = None


#: A sample's time as a bisect key: `bisect_right(lane, t, key=AT_US)` finds what
#: `bisect_right([s.at_us for s in lane], t)` finds, without the list.
AT_US = itemgetter(0)


class MemberRow(NamedTuple):
    """One CloudTrail membership change (a `member` fact) before it is tied to a lane: the
    importer cannot name the Service or node, replay.membership resolves them."""

    at_us: int  # eventTime (whole seconds)
    event_id: int
    state: str  # registered / deregistered / group-deleted / group-created
    cluster: str
    namespace: str | None
    name: str | None
    node: str | None
    target: str | None  # instance id or IP
    port: int | None
    group: str | None  # target group ARN or Classic LoadBalancerName
    health_check_port: int | None = None  # group-created only


#: a `sync` fact's gate text as a value
_GATE = {"true": True, "false": False}


class SyncLook(NamedTuple):
    """One look at kube-proxy's metrics on a node (a `sync` fact): at `at_us` its last rules
    sync had happened at `synced_us` and the last change was queued at `queued_us` (None when
    not scraped), both in kube-proxy's clock. `complete` False: a 503 from its /healthz or
    /livez (replay.facts_nodehealth; `synced_us` on the prober's clock), which says only that
    nothing was synced since: never that a change was programmed. `syncs` and `busy_us`: the
    rules-sync histogram's count and sum (us) so far, `process_us` the answering process's
    start (None: not scraped; replay.synccount compares two looks of one process);
    `answered_us` the latest the page can have been written (the answer's receipt; None:
    not known)."""

    at_us: int
    synced_us: int
    queued_us: int | None
    event_id: int
    complete: bool = True
    syncs: int | None = None
    busy_us: int | None = None
    process_us: int | None = None
    answered_us: int | None = None
    #: the ProxyTerminatingEndpoints gate as the page's feature-gate metric stated it (None:
    #: not stated; replay.proxy.pte_known)
    pte_gate: bool | None = None


class ConfLook(NamedTuple):
    """kube-proxy's configuration on a node as its /configz stated it (a `sync` fact of state
    `config`, stored when it changed): the ProxyTerminatingEndpoints, AllAlpha and AllBeta
    gates as configured (None: not named, the version's default holds), the proxy mode
    (replay.gateconf) and the sync period its health server times out by (us; None: not
    stated: replay.syncperiod)."""

    at_us: int
    event_id: int
    pte: bool | None
    all_alpha: bool | None
    all_beta: bool | None
    mode: str | None
    sync_us: int | None = None


def _flag(value: int | None) -> bool | None:
    return None if value is None else value == 1


class LbConf(NamedTuple):
    """A target group's health-check settings as one observation stated them (a `tgconf`
    fact; None: not stated): the poller's read names the Service, a CloudTrail call only its
    group (replay.measure ties it through the membership calls)."""

    at_us: int
    cluster: str
    namespace: str | None
    name: str | None
    group: str | None
    interval_us: int | None
    healthy: int | None
    unhealthy: int | None


class RelistRow(NamedTuple):
    """A stretch a watch relist passed over (a `relist` fact): `kind`'s changes in
    (`since_us`, `until_us`] were seen only as the relist's diff (replay.relisted)."""

    since_us: int | None
    until_us: int
    kind: str
    namespace: str | None
    event_id: int
    #: `namespace/name` of the objects that changed in between (None: unknown, any may have)
    changed: frozenset[str] | None = None


class PodSample(NamedTuple):
    at_us: int
    state: str  # pending / ready / unready / terminating / gone (replay.podstate)
    deletion_us: int | None
    grace_s: int | None
    prestop_ms: int | None
    event_id: int
    owner: str | None
    revision: str | None
    #: when a container last stopped, as its kubelet wrote it (finishedAt: the node's clock,
    #: whole seconds; None when not reported): replay.deaths
    finished_us: int | None = None
    #: where this update reports a container crashed and restarted since the pod's previous
    #: update (replay.podstate.restarted): the new container's startedAt (node clock, whole seconds)
    started_us: int | None = None


@dataclass(slots=True)
class ServiceInfo:
    """What the Service objects said (the last version seen)."""

    type: str | None = None
    external_traffic_policy: str | None = None
    health_check_node_port: int | None = None
    deleted: bool = False
    #: when the Service became, or stopped being, an externalTrafficPolicy Local NodePort or
    #: LoadBalancer one (its type, its policy or its deletion moved): (time, Local, event id),
    #: the first version seen first (replay.policy)
    local: tuple[tuple[int, bool, int], ...] = ()
    #: every healthCheckNodePort it had (a Service changed to Cluster and back gets a new one:
    #: a target group's HealthCheckPort may name any of them)
    health_check_ports: frozenset[int] = frozenset()


LaneKey = tuple[ServiceRef, str]


#: a node's local pods, each with its samples (the list itself) and their count then
PodLanes = list[tuple[str, list[PodSample], int]]


@dataclass(slots=True)
class Memo:
    """Values detection derives from the whole state, one typed map each; every fold clears
    them (the state they were derived from changed). Those that depend on the settings are
    keyed by them too."""

    horizon: dict[ServiceRef, int] = field(default_factory=dict)
    ccm_mode: dict[tuple[ServiceRef, str | None], str] = field(default_factory=dict)
    #: per Service: node -> the pods backing it there (`service_pods` by node); `clear` keeps
    #: it: the fold moves a pod in it where an EndpointSlice puts it on another node
    #: (`_apply_slice`, the one writer of `service_pods`)
    local_pods: dict[ServiceRef, dict[str, list[str]]] = field(default_factory=dict)
    fail_open: dict[ServiceRef, Tri] = field(default_factory=dict)
    #: per (cluster, settings), and per (cluster, the lag bound the evidence read)
    pte: dict[tuple[str, DetectSettings | int], bool | None] = field(default_factory=dict)
    #: per (cluster, settings): each node's own PTE evidence (replay.proxy `_node_evidence`)
    pte_nodes: dict[tuple[str, DetectSettings], dict[str, bool]] = field(default_factory=dict)
    #: per cluster: each node's latest kube-proxy restart seen (replay.confspan)
    restarts: dict[str, dict[str, int]] = field(default_factory=dict)
    #: replay.proxy.gate_stated per cluster, and per (cluster, node)
    gate: dict[tuple[str, str | None], bool | None] = field(default_factory=dict)
    proxy_lag_hi: dict[tuple[ServiceRef, DetectSettings], int] = field(default_factory=dict)
    ccm_lag_hi: dict[tuple[ServiceRef, DetectSettings], int] = field(default_factory=dict)
    #: replay.measure.measured_settings per (Service, settings): detection and the stored
    #: context read it for the same state
    measured: dict[tuple[ServiceRef, DetectSettings], DetectSettings] = field(default_factory=dict)
    #: the CloudTrail membership lanes (replay.membership), once resolved: one map or none
    members: list[dict[LaneKey, list[Sample]]] = field(default_factory=list)
    #: the membership lanes whose targets are pods (IP targets: no kube-proxy on the path)
    pod_targets: set[LaneKey] = field(default_factory=set)
    #: observer clock offsets (replay.clocks): (cluster, observer, settings) -> microseconds
    clock: dict[tuple[str, str, DetectSettings], int] = field(default_factory=dict)
    #: replay.proxy's PTE evidence per (Service, node, settle), with the lengths of the lanes it
    #: read: the lanes only grow, so `clear` keeps it (an entry holds while they did not)
    lane_pte: dict[tuple[ServiceRef, str, int, bool], tuple[tuple[int, int, int], bool | None]] = (
        field(default_factory=dict)
    )
    #: replay.lags' lags per (Service, node, match window, CCM mode is "node", other settings
    #: read), with the lane lengths they were found from (`lags.node_inputs`), all and
    #: kube-proxy's, and the lanes' pairings (`lags.Paired`): kept by `clear` like `lane_pte`
    lane_lags: dict[
        tuple[ServiceRef, str, int, bool, Any], tuple[Any, list[Any], list[Any], Any]
    ] = field(default_factory=dict)
    #: replay.lags.proxy_extent's count and largest of a node's kube-proxy lags, per (Service,
    #: node), with the list of `lane_lags` they were read from: kept by `clear` like it
    proxy_tops: dict[LaneKey, tuple[list[Any], float]] = field(default_factory=dict)
    #: replay.routed's share of fail-open per LB poll lane, with the lane's length: kept by
    #: `clear` like `lane_pte`
    lane_fail_open: dict[LaneKey, tuple[int, Tri, Tri]] = field(default_factory=dict)
    #: replay.lags' largest gap between an LB poll and the look before, per poll lane, with
    #: the lane's length: kept by `clear` like `lane_pte`
    lane_poll_gap: dict[LaneKey, tuple[int, int]] = field(default_factory=dict)
    #: replay.proxy: whether an endpoints lane ever showed its endpoints serving-terminating,
    #: with the lane's length read: kept by `clear` like `lane_pte`
    lane_terminating: dict[LaneKey, tuple[int, bool]] = field(default_factory=dict)
    #: replay.lane_order: per (probe kind, Service, node), the lane, how many of its samples
    #: were read and `sorted_lane` of them (the lane itself where in time order): kept by
    #: `clear` like `lane_pte`
    lane_order: dict[tuple[str, ServiceRef, str], tuple[list[Any], int, list[Any]]] = field(
        default_factory=dict
    )
    #: replay.sync_tail's trail per (cluster, node): kept by `clear` like `lane_pte`
    sync_spans: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: replay.sync_index: per (cluster, node), the node's looks, how many were read and
    #: `syncs.index_looks` of them: kept by `clear` like `lane_pte`
    sync_index: dict[tuple[str, str], tuple[list[Any], int, Any]] = field(default_factory=dict)
    #: replay.sync_seen: per (cluster, node), the node's looks, how many were read and what
    #: they stated (gate values, latest process start): kept by `clear` like `lane_pte`
    sync_seen: dict[tuple[str, str], tuple[list[Any], int, Any]] = field(default_factory=dict)
    #: replay.checkpoint.lane_versions per (Service, the settings they were read under)
    versions: dict[tuple[ServiceRef, Any], dict[str, tuple[Any, ...]]] = field(default_factory=dict)
    #: replay.proxy.probe_period per Service (a scan of its nodes' lanes, read per node)
    probe_period: dict[ServiceRef, float] = field(default_factory=dict)
    #: replay.lags' lags of a Service's nodes as one map, per (Service, what `_per_node` keys
    #: a node's lags by besides the node; without the sync settings where no node reads
    #: them): found once per fold, read by every lag bound
    lags_of: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    #: replay.context.endpoint_steps per (Service, node, values read as forwarding), with the
    #: lane object and length it was found from: the four readers of a node's lanes share it
    #: replay.unseen's pod deaths per (Service, node, which reading, clock bound), and
    #: replay.context's local pods' changes (reading "alive" and "ready"), with the local
    #: pods' sample lists and lengths they were found from: the lists only grow, so `clear`
    #: keeps it (an entry holds while they are the same lists, as long: context.kept_by_pods)
    pod_deaths: dict[tuple[ServiceRef, str, str, int | None], tuple[PodLanes, list[Any]]] = field(
        default_factory=dict
    )
    eps_steps: dict[
        tuple[ServiceRef, str, tuple[str, ...]], tuple[list[Sample], int, list[Step]]
    ] = field(default_factory=dict)
    #: replay.unseen.listed_at of every Service, found in one pass over the endpoints lanes
    #: (one map or none)
    listed_at: list[dict[ServiceRef, int]] = field(default_factory=list)
    #: replay.openness_scope.probe_lanes: per Service, its probe and LB lanes' (kind, node),
    #: with the lanes' counts per kind it was found at (one entry or none)
    probe_lanes: list[tuple[tuple[int, ...], dict[ServiceRef, list[tuple[str, str]]]]] = field(
        default_factory=list
    )

    def clear(self) -> None:
        self.horizon.clear()
        self.versions.clear()
        self.ccm_mode.clear()
        self.fail_open.clear()
        self.pte.clear()
        self.pte_nodes.clear()
        self.gate.clear()
        self.restarts.clear()
        self.clock.clear()
        self.proxy_lag_hi.clear()
        self.ccm_lag_hi.clear()
        self.measured.clear()
        self.members.clear()
        self.pod_targets.clear()
        self.probe_period.clear()
        self.lags_of.clear()
        self.eps_steps.clear()
        self.listed_at.clear()
        self.probe_lanes.clear()


#: (fact, cluster, namespace, name, node) of a probe/LB lane
ProbeKey = tuple[str, str, str, str, str]


@dataclass(slots=True)
class FoldState:
    """Everything replay keeps from the facts; see the module docstring."""

    services: dict[ServiceRef, ServiceInfo] = field(default_factory=dict)
    #: per Service, per slice: the current per-node (ready, serving-terminating, pods)
    slices: dict[ServiceRef, dict[str, dict[str, tuple[int, int, str]]]] = field(
        default_factory=dict
    )
    endpoints: dict[LaneKey, list[Sample]] = field(default_factory=dict)
    probes: dict[str, dict[LaneKey, list[Sample]]] = field(
        default_factory=lambda: {k: {} for k in PROBE_FACTS}
    )
    #: access-log lines (value: the target ip:port, num: 1 for the LB's own failure), under the
    #: (Service, node) the line names, or (cluster-only ref, "") when it names neither
    access: dict[LaneKey, list[Sample]] = field(default_factory=dict)
    #: (cluster, IP address) -> node, and (cluster, nodePort) -> Service: to tie access-log
    #: targets to lanes (replay.impact.access_impact)
    node_addresses: dict[tuple[str, str], str] = field(default_factory=dict)
    node_ports: dict[tuple[str, int], ServiceRef] = field(default_factory=dict)
    #: (cluster, instance id from the Node's providerID) -> node: CloudTrail targets map here
    node_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (cluster, node) -> the cloud its providerID names (replay.platform: the advice's knobs)
    node_clouds: dict[tuple[str, str], str] = field(default_factory=dict)
    #: CloudTrail membership changes, in fold order (replay.membership ties them to lanes)
    members: list[MemberRow] = field(default_factory=list)
    #: (cluster, pod IP) -> (namespace, pod, node): IP targets (AWS LB Controller
    #: target-type ip) map here (replay.membership)
    pod_ips: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    #: (cluster, node) -> kube-proxy's metrics looks, in fold order (replay.syncs)
    syncs: dict[tuple[str, str], list[SyncLook]] = field(default_factory=dict)
    pods: dict[tuple[str, str, str], list[PodSample]] = field(default_factory=dict)
    #: (Service, pod) -> the lane times its endpoint entered an EndpointSlice as ready (from
    #: slice facts that name the ready pods: replay.deaths), and per (Service, slice) the pods
    #: its last version listed ready
    slice_ready: dict[tuple[ServiceRef, str], list[int]] = field(default_factory=dict)
    ready_listed: dict[tuple[ServiceRef, str], frozenset[str]] = field(default_factory=dict)
    #: (Service, node) -> how many `slice_ready` times were recorded for a pod the slices put
    #: on that node then (replay.checkpoint.lane_versions: a listing moves its node's version)
    slice_listed: dict[LaneKey, int] = field(default_factory=dict)
    #: (Service, node) -> the node's count of ready endpoints over the Service's slices, at each
    #: version that changed it: (lane time, count), in fold order (replay.podsup reads which
    #: versions a health-check count can be kube-proxy's; the endpoints lane keeps its state's
    #: changes only)
    ready_counts: dict[LaneKey, list[tuple[int, int]]] = field(default_factory=dict)
    #: (Service, node) -> the node's ready local pods over the Service's slices, at each version
    #: that changed them: (lane time, the pods; None where a slice did not name its ready pods),
    #: in fold order (replay.held reads which versions kube-proxy can hold at a health look)
    ready_sets: dict[LaneKey, list[tuple[int, frozenset[str] | None]]] = field(default_factory=dict)
    #: (Service, slice) -> its last version's ready pods per node (None: not named)
    slice_ready_on: dict[tuple[ServiceRef, str], dict[str, frozenset[str] | None]] = field(
        default_factory=dict
    )
    #: pods named by a Service's EndpointSlices, with the node they were on
    service_pods: dict[ServiceRef, dict[str, str]] = field(default_factory=dict)
    #: the nodes that have an endpoints or probe lane, per Service
    service_nodes: dict[ServiceRef, set[str]] = field(default_factory=dict)
    nodes: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    node_versions: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (cluster, node) -> when the Node gained or lost the label that keeps it out of every LB
    #: (time, excluded, event id), the first version seen first (replay.excluded)
    lb_excluded: dict[tuple[str, str], list[tuple[int, bool, int]]] = field(default_factory=dict)
    events: dict[ServiceRef, list[Sample]] = field(default_factory=dict)
    workloads: dict[tuple[str, str, str], tuple[str, str | None]] = field(default_factory=dict)
    last_event_id: int = 0
    #: the newest non-probe fact per Service (see `horizon` for the whole)
    last_at_us: dict[ServiceRef, int] = field(default_factory=dict)
    #: values detection derives from the whole state; every fold clears them
    memo: Memo = field(default_factory=Memo)
    refs: dict[tuple[str, str, str], ServiceRef] = field(default_factory=dict)
    lanes: dict[ProbeKey, list[Sample]] = field(default_factory=dict)
    #: the newest time each probe/LB lane was looked at (its repeats are not kept)
    seen: dict[ProbeKey, int] = field(default_factory=dict)
    #: the longest interval between two looks a probe/LB sample names (at_us - prev_us,
    #: repeats included): the lane's sampling period
    look_gap: dict[ProbeKey, int] = field(default_factory=dict)
    #: per probe/LB lane, the index of its newest sample in time (`last_in_time`): samples
    #: that came late sit after newer ones
    newest_kept: dict[ProbeKey, int] = field(default_factory=dict)
    #: target groups' health-check settings, in fold order (replay.measure.lb_settings)
    lb_confs: list[LbConf] = field(default_factory=list)
    #: EndpointSlice, Pod and Node changes timed by the API server's own stamps where they
    #: carry them (replay.owntime): the first observation per group, how late each was seen
    own: StampedTimes = field(default_factory=StampedTimes)
    #: per cluster, the stretches watch relists passed over, in fold order (replay.relisted)
    relists: dict[str, list[RelistRow]] = field(default_factory=dict)
    #: the clusters whose prober's NodePort looks were short-circuited: none of their NodePort
    #: lanes is kept (replay.shortcircuit)
    short_circuited: set[str] = field(default_factory=set)
    #: (cluster, node) -> kube-proxy's configuration as its /configz stated it, in fold order
    #: (replay.gateconf)
    proxy_confs: dict[tuple[str, str], list[ConfLook]] = field(default_factory=dict)


def _ref(state: FoldState, cluster: str, namespace: str | None, name: str | None) -> ServiceRef:
    key = (cluster, namespace or "", name or "")
    ref = state.refs.get(key)
    if ref is None:
        ref = state.refs[key] = ServiceRef(*key)
    return ref


def probe_lane(state: FoldState, key: ProbeKey) -> list[Sample]:
    lane = state.lanes.get(key)
    if lane is None:
        kind, cluster, ns, name, node = key
        svc = _ref(state, cluster, ns, name)
        lane = state.probes[kind].setdefault((svc, node), [])
        state.lanes[key] = lane
        state.service_nodes.setdefault(svc, set()).add(node)
    return lane


#: a restarted prober's first look in the stored state (docs/observation.md): its
#: previous_observed_at is the stored look before the restart, a stretch nobody of its own
#: looked, not a probe interval (replay.proxy.probe_period). Facts derived before the
#: `resumed` column (factrow.PROBE_RESUMED) say so by this look alone.
RESUME = "resume"


def keep_sample(
    state: FoldState, key: ProbeKey, lane: list[Sample], sample: Sample, *, interval: bool = True
) -> None:
    """Append a probe/LB sample unless it repeats the lane's last value (a heartbeat): detection
    needs the changes, and how long each value was seen (`seen`, and each change's prev_us).
    `interval`: the sample's prev_us is the previous look of a prober that kept looking (False
    for a `resume` or a restarted prober's or poller's first change), so its distance is a look
    gap (`look_gap`)."""
    at_us, prev_us = sample[0], sample[1]
    if prev_us is None:
        # stored without previous_observed_at: the previous look (repeats included) saw the
        # old value, as a source that stores every sample or changes with bounds says
        last = state.seen.get(key)
        if last is not None and last < at_us:
            prev_us = last
            sample = sample._replace(prev_us=last)
    if interval and prev_us is not None and at_us - prev_us > state.look_gap.get(key, 0):
        state.look_gap[key] = at_us - prev_us
    newest_kept = last_in_time(state, key, lane) if lane else None
    if newest_kept is None or at_us < newest_kept[0] or _changes(key, sample, newest_kept):
        lane.append(sample)
        appended(state, key, lane)
        newest = state.seen.get(key)
        if (
            newest is not None
            and newest_kept is not None
            and _answered_late(sample, newest_kept, newest)
        ):
            # a late answer (a timeout is known a timeout after it was sent) after a newer look
            # whose repeat was dropped: that look still saw the lane's newest value
            lane.append(Sample(newest, at_us, newest_kept[2], sample[3]))
            appended(state, key, lane)
    if at_us > state.seen.get(key, at_us - 1):
        state.seen[key] = at_us


def _changes(key: ProbeKey, sample: Sample, kept: Sample) -> bool:
    """`sample` is no repeat of `kept`: its value differs, or on a health-check lane its count
    of ready local endpoints (`localEndpoints`) does: kube-proxy's count rising or falling under
    the same status is what shows which endpoints a sync programmed (replay.podsup)."""
    return sample[2] != kept[2] or (key[0] == "health" and sample[4] != kept[4])


def last_in_time(state: FoldState, key: ProbeKey, lane: list[Sample]) -> Sample:
    """The lane's newest sample in time (the last of equal ones), not the last to arrive: a
    repeat of a late sample's value is no repeat of the lane's newest value (issue 17: the other
    replica's heartbeat committed after a change hid the next change back, and NODE2's window
    stayed open to the end of the log; two late samples in a row hid it from a check of the
    last two). Kept as an index (`newest_kept`, moved by `appended`), so a late sample costs no
    scan of the lane; a lane without one is scanned once."""
    at = state.newest_kept.get(key)
    if at is None or at >= len(lane):
        times = list(map(itemgetter(0), lane))
        newest = max(times)
        at = state.newest_kept[key] = len(times) - 1 - times[::-1].index(newest)
    return lane[at]


def appended(state: FoldState, key: ProbeKey, lane: list[Sample]) -> None:
    """A sample was appended to the lane: it is the newest in time unless an earlier one is
    newer (it came late). Without a known index (lanes grown elsewhere) `last_in_time` scans."""
    at = state.newest_kept.get(key)
    if len(lane) == 1 or (at is not None and at < len(lane) and lane[-1][0] >= lane[at][0]):
        state.newest_kept[key] = len(lane) - 1
    elif at is None or at >= len(lane):
        state.newest_kept.pop(key, None)


def _answered_late(late: Sample, top: Sample, newest_us: int) -> bool:
    """`late` (just kept) changes the value between the lane's newest sample in time before it
    (`top`, last_in_time: not the last to arrive, which may be an earlier late answer) and the
    newest look, which saw `top`'s value (it was a dropped repeat)."""
    return top[0] < late[0] < newest_us and late[2] != top[2]


def _eps_state(ready: int, serving: int) -> str:
    if ready > 0:
        return "ready"
    return "serving-terminating" if serving > 0 else "none"


def _node_counts(slices: dict[str, dict[str, tuple[int, int, str]]], node: str) -> tuple[int, int]:
    ready = serving = 0
    for per_node in slices.values():
        if node in per_node:
            r, s, _ = per_node[node]
            ready += r
            serving += s
    return ready, serving


def _touch(state: FoldState, svc: ServiceRef, at_us: int) -> None:
    if at_us > state.last_at_us.get(svc, 0):
        state.last_at_us[svc] = at_us


def _apply_slice(state: FoldState, rows: list[Sequence[Any]]) -> None:
    """One EndpointSlice version: its header row then one row per node."""
    head = rows[0]
    svc = _ref(state, head[F.CLUSTER], head[F.NAMESPACE], head[F.NAME])
    slices = state.slices.setdefault(svc, {})
    slice_name = head[F.SLICE_NAME] or ""
    old = slices.get(slice_name, {})
    new: dict[str, tuple[int, int, str]] = {}
    deleted = head[F.OP] == "DELETED"
    if not deleted:
        for row in rows[1:]:
            new[row[F.NODE]] = (
                row[F.SLICE_READY] or 0,
                row[F.SLICE_SERVING_TERMINATING] or 0,
                row[F.SLICE_PODS] or "",
            )
    slices[slice_name] = new
    known = state.service_pods.setdefault(svc, {})
    index = state.memo.local_pods.get(svc)  # kept across folds: moved with the pods
    for node, (_r, _s, pods) in new.items():
        for pod in pods.split(","):
            if pod and known.get(pod) != node:
                if index is not None:
                    if pod in known:
                        index[known[pod]].remove(pod)
                    index.setdefault(node, []).append(pod)
                known[pod] = node
    at_us, event_id = head[F.AT_US], head[F.EVENT_ID]
    _touch(state, svc, at_us)
    at_us = own_time(state.own, ("slice", svc), ("slice", svc), at_us, head[F.SRC_US])
    # each node row's ready pods (none of a deletion's), split once for both readers
    named = [] if deleted else [_named(row) for row in rows[1:]]
    _entered_ready(state, svc, slice_name, named, at_us)
    ready_on = {} if deleted else dict(zip((row[F.NODE] for row in rows[1:]), named, strict=True))
    state.slice_ready_on[(svc, slice_name)] = ready_on
    nodes = state.service_nodes.setdefault(svc, set())
    single = len(slices) == 1  # the usual case: one slice per Service
    for node in sorted(old.keys() | new.keys()):
        if single:
            ready, serving, _pods = new.get(node, (0, 0, ""))
        else:
            ready, serving = _node_counts(slices, node)
        value = _eps_state(ready, serving)
        lane = state.endpoints.setdefault((svc, node), [])
        nodes.add(node)
        if not lane or lane[-1].value != value:
            when = max(at_us, lane[-1].at_us) if lane else at_us
            lane.append(tuple.__new__(Sample, (when, None, value, event_id, ready)))
        counts = state.ready_counts.setdefault((svc, node), [])
        if not counts or counts[-1][1] != ready:
            counts.append((max(at_us, counts[-1][0]) if counts else at_us, ready))
        # one slice: its own version's pods, what `_ready_on` unites over the Service's slices
        on_node = ready_on.get(node, _NO_PODS) if single else _ready_on(state, svc, slices, node)
        if on_node is not None and len(on_node) != ready:
            on_node = None  # a slice row that did not name them all
        sets = state.ready_sets.setdefault((svc, node), [])
        if not sets or sets[-1][1] != on_node or on_node is None:
            sets.append((max(at_us, sets[-1][0]) if sets else at_us, on_node))


def _named(row: Sequence[Any]) -> frozenset[str] | None:
    """A slice row's ready pods on its node (None: counted but not named)."""
    names = row[F.SLICE_READY_PODS]
    if not names:
        return None if names is None and row[F.SLICE_READY] else _NO_PODS
    pods = frozenset(names.split(","))
    return pods - _NO_NAME if "" in pods else pods


_NO_PODS: frozenset[str] = frozenset()
_NO_NAME = frozenset(("",))


def _ready_on(
    state: FoldState, svc: ServiceRef, slices: dict[str, dict[str, tuple[int, int, str]]], node: str
) -> frozenset[str] | None:
    """The node's ready pods over the Service's slices' last versions (None: one not named)."""
    out: set[str] = set()
    for name in slices:
        pods = state.slice_ready_on.get((svc, name), {}).get(node, frozenset())
        if pods is None:
            return None
        out |= pods
    return frozenset(out)


def _entered_ready(
    state: FoldState,
    svc: ServiceRef,
    slice_name: str,
    named: list[frozenset[str] | None],
    at_us: int,
) -> None:
    """Record when pods entered this slice as ready (`named`: its node rows' `_named`, none
    for a deletion; rows that name them: SLICE_READY_PODS; NULL there with ready endpoints
    counted, None in `named`: facts written before they were named, unknown)."""
    if None in named:
        return
    now: frozenset[str] = frozenset().union(*cast(list[frozenset[str]], named))
    key = (svc, slice_name)
    placed = state.service_pods.get(svc, {})
    for pod in now - state.ready_listed.get(key, frozenset()):
        state.slice_ready.setdefault((svc, pod), []).append(at_us)
        on = (svc, placed.get(pod, ""))
        state.slice_listed[on] = state.slice_listed.get(on, 0) + 1
    state.ready_listed[key] = now


def _decimal(text: str | None) -> int | None:
    """A `sync` fact's number kept as text (decimal us), None when absent or not a number."""
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


def _answered(at_us: int, latency: str | None) -> int | None:
    late = _decimal(latency)
    return None if late is None or late < 0 else at_us + late


def _sample(kind: str, at_us: int, prev_us: int | None, value: str, eid: int, num: Any) -> Sample:
    if kind == "nodeport" and num:
        # the answer describes the moment the probe was sent, `latency` before it came
        at_us = max(at_us - num, prev_us if prev_us is not None else at_us - num)
    return tuple.__new__(Sample, (at_us, prev_us, value, eid, num))


def fold(state: FoldState, facts: Iterable[Sequence[Any]]) -> FoldState:
    """Fold fact rows (columns as replay.facts.FACT_COLUMNS), whole events in id order.

    A chunk must not split one event's facts (the loader reads whole events).
    """
    pending: list[Sequence[Any]] = []
    state.memo.clear()
    last_id = state.last_event_id
    for row in facts:
        kind = row[F.FACT]
        if pending and (kind != "slice" or row[F.SEQ] == 0):
            _apply_slice(state, pending)
            pending = []
        if row[F.EVENT_ID] > last_id:
            last_id = row[F.EVENT_ID]
        cluster, ns, name = row[F.CLUSTER], row[F.NAMESPACE], row[F.NAME]
        if kind in _PROBES:
            if kind == "nodeport" and state.short_circuited and cluster in state.short_circuited:
                continue
            key = (kind, cluster, ns or "", name or "", row[F.NODE] or "")
            lane = state.lanes.get(key) or probe_lane(state, key)
            sample = _sample(
                kind,
                row[F.AT_US],
                row[F.PREV_US],
                row[F.STATE] or "",
                row[F.EVENT_ID],
                row[F.PROBE_NUM],
            )
            resumed = row[F.PROBE_RESUMED] == 1 or (
                kind != "target" and row[F.PROBE_LOOK] == RESUME
            )
            keep_sample(state, key, lane, sample, interval=not resumed)
        elif kind == "slice":
            pending.append(row)
        elif kind == "pod":
            pod_key = (cluster, ns or "", name or "")
            pod_lane = state.pods.setdefault(pod_key, [])
            group = ("pod", cluster, ns or "")
            when = own_time(state.own, group, pod_key, row[F.AT_US], row[F.SRC_US])
            # tuple.__new__ with every field (started_us None): the namedtuple's own __new__
            # was 5-6 % of the row fold's CPU (benchmarks/README.md, "Session 28: replay")
            pod_lane.append(
                tuple.__new__(
                    PodSample,
                    (
                        max(when, pod_lane[-1].at_us) if pod_lane else when,
                        lane_state(row[F.STATE], row[F.POD_FINISHED_US], pod_lane),
                        row[F.POD_DELETION_US],
                        row[F.POD_GRACE_S],
                        row[F.POD_PRESTOP_MS],
                        row[F.EVENT_ID],
                        row[F.POD_OWNER],
                        row[F.POD_REVISION],
                        row[F.POD_FINISHED_US],
                        None,
                    ),
                )
            )
            if row[F.POD_IP] and row[F.NODE]:
                state.pod_ips[(cluster, row[F.POD_IP])] = (ns or "", name or "", row[F.NODE])
        elif kind == "restart":
            lane_of = state.pods.get((cluster, ns or "", name or ""))
            if lane_of and lane_of[-1].event_id == row[F.EVENT_ID]:
                lane_of[-1] = restarted(lane_of, row[F.RESTART_STARTED_US])
        elif kind == "node":
            node_key = (cluster, name or "")
            node_lane = state.nodes.setdefault(node_key, [])
            when = own_time(state.own, ("node", cluster), node_key, row[F.AT_US], row[F.SRC_US])
            node_lane.append(
                Sample(
                    max(when, node_lane[-1].at_us) if node_lane else when,
                    None,
                    row[F.STATE] or "Unknown",
                    row[F.EVENT_ID],
                    row[F.NODE_UNSCHEDULABLE],
                )
            )
            if row[F.NODE_PROXY_VERSION]:
                state.node_versions[(cluster, name or "")] = row[F.NODE_PROXY_VERSION]
            excluded = state.lb_excluded.setdefault(node_key, [])
            if not excluded or excluded[-1][1] != (row[F.NODE_LB_EXCLUDED] == 1):
                excluded.append((row[F.AT_US], row[F.NODE_LB_EXCLUDED] == 1, row[F.EVENT_ID]))
            provider = row[F.NODE_PROVIDER_ID]
            if provider:  # aws:///eu-west-1a/i-0abc: the instance id is the last part
                state.node_ids[(cluster, provider.rstrip("/").rsplit("/", 1)[-1])] = name or ""
                cloud = cloud_of(provider)
                if cloud is not None:
                    state.node_clouds[(cluster, name or "")] = cloud
            for address in (row[F.NODE_ADDRESSES] or "").split(","):
                if address:
                    state.node_addresses[(cluster, address)] = name or ""
        elif kind == "service":
            svc = _ref(state, cluster, ns, name)
            deleted = row[F.OP] == "DELETED"
            was = state.services.get(svc)
            ports = was.health_check_ports if was is not None else frozenset()
            if row[F.SERVICE_HC_NODE_PORT] is not None:
                ports = ports | {row[F.SERVICE_HC_NODE_PORT]}
            state.services[svc] = ServiceInfo(
                row[F.STATE],
                row[F.SERVICE_TRAFFIC_POLICY],
                row[F.SERVICE_HC_NODE_PORT],
                deleted,
                _local_history(was, row, deleted),
                ports,
            )
            for port in (row[F.SERVICE_NODE_PORTS] or "").split(","):
                if port.isdigit():
                    state.node_ports[(cluster, int(port))] = svc
        elif kind == "event":
            svc = _ref(state, cluster, ns, name)
            own = row[F.SRC_US]
            when = own if own is not None else row[F.AT_US]
            state.events.setdefault(svc, []).append(
                Sample(row[F.AT_US], when, row[F.STATE] or "", row[F.EVENT_ID], None)
            )
        elif kind == "workload":
            state.workloads[(cluster, ns or "", name or "")] = (
                row[F.STATE],
                row[F.WORKLOAD_OWNER],
            )
        elif kind == "member":
            own = row[F.SRC_US]
            state.members.append(
                MemberRow(
                    own if own is not None else row[F.AT_US],
                    row[F.EVENT_ID],
                    row[F.STATE] or "",
                    cluster,
                    ns,
                    name,
                    row[F.NODE],
                    row[F.MEMBER_TARGET],
                    row[F.MEMBER_PORT],
                    row[F.MEMBER_GROUP],
                    row[F.MEMBER_HC_PORT],
                )
            )
        elif kind == "sync":
            synced = row[F.SYNC_LAST_US]
            if row[F.STATE] == CONFIG:
                state.proxy_confs.setdefault((cluster, row[F.NODE] or ""), []).append(
                    ConfLook(
                        row[F.AT_US],
                        row[F.EVENT_ID],
                        _flag(row[F.CONFIG_PTE]),
                        _flag(row[F.CONFIG_ALL_ALPHA]),
                        _flag(row[F.CONFIG_ALL_BETA]),
                        row[F.CONFIG_MODE],
                        row[F.CONFIG_SYNC_US],
                    )
                )
            elif synced is not None:  # an `ignored` health answer has none
                state.syncs.setdefault((cluster, row[F.NODE] or ""), []).append(
                    SyncLook(
                        row[F.AT_US],
                        synced,
                        row[F.SYNC_QUEUED_US],
                        row[F.EVENT_ID],
                        row[F.STATE] != UNSYNCED,
                        row[F.SYNC_COUNT],
                        row[F.SYNC_SUM_US],
                        _decimal(row[F.SYNC_PROCESS]),
                        _answered(row[F.AT_US], row[F.SYNC_LATENCY]),
                        _GATE.get(row[F.SYNC_PTE_GATE] or ""),
                    )
                )
        elif kind == "apireq":
            _apply_request(state, row)
        elif kind == SELFCHECK:
            if row[F.STATE] == SHORT_CIRCUITED:
                short_circuit(state, cluster)
        elif kind == "relist":
            count, names = row[F.RELIST_COUNT], row[F.RELIST_CHANGED]
            changed = None if count is None else frozenset((names or "").split(",")) - {""}
            state.relists.setdefault(cluster, []).append(
                RelistRow(
                    row[F.PREV_US], row[F.AT_US], row[F.STATE] or "", ns, row[F.EVENT_ID], changed
                )
            )
        elif kind == "tgconf":
            state.lb_confs.append(
                LbConf(
                    row[F.AT_US],
                    cluster,
                    ns,
                    name,
                    row[F.TGCONF_GROUP],
                    row[F.TGCONF_INTERVAL_US],
                    row[F.TGCONF_HEALTHY],
                    row[F.TGCONF_UNHEALTHY],
                )
            )
        elif kind == "access":
            svc = _ref(state, cluster, ns, name)
            # an access-log line is shipped later; its own time is when the request was made
            own = row[F.SRC_US]
            when = own if own is not None else row[F.AT_US]
            state.access.setdefault((svc, row[F.NODE] or ""), []).append(
                Sample(
                    when,
                    row[F.PREV_US],
                    row[F.ACCESS_TARGET] or "",
                    row[F.EVENT_ID],
                    row[F.ACCESS_FAILED],
                )
            )
    if pending:
        _apply_slice(state, pending)
    state.last_event_id = last_id
    return state


#: Who deletes a Pod for good: the kubelet (user system:node:NAME), once its containers stopped
#: (the first DELETE, from anyone else, only sets deletionTimestamp: the pod terminates).
KUBELET_USER_PREFIX = "system:node:"


def _apply_request(state: FoldState, row: Sequence[Any]) -> None:
    """An API request whose object the audit log did not keep (level Metadata/Request): what it
    proves alone. A Pod's create: pending; its DELETE: terminating, or gone when the kubelet
    sent it; a Node's DELETE: the Node is gone. Everything else is timing evidence only."""
    cluster, ns, name = row[F.CLUSTER], row[F.NAMESPACE], row[F.NAME]
    verb, kind, user = row[F.STATE], row[F.APIREQ_KIND], row[F.APIREQ_USER] or ""
    own = row[F.SRC_US]
    at_us = own if own is not None else row[F.AT_US]
    if kind == "Pod" and name and not row[F.APIREQ_SUBRESOURCE] and verb in ("create", "delete"):
        if verb == "create":
            pod_state, deletion = "pending", None
        elif user.startswith(KUBELET_USER_PREFIX):
            pod_state, deletion = "gone", None
        else:
            pod_state, deletion = "terminating", at_us
        pods = state.pods.setdefault((cluster, ns or "", name), [])
        pods.append(PodSample(at_us, pod_state, deletion, None, None, row[F.EVENT_ID], None, None))
    elif kind == "Node" and name and verb == "delete" and not row[F.APIREQ_SUBRESOURCE]:
        lane = state.nodes.setdefault((cluster, name), [])
        lane.append(Sample(at_us, None, "Deleted", row[F.EVENT_ID], None))


def horizon(state: FoldState, svc: ServiceRef) -> int:
    """The newest time any lane of the Service was observed (the end of its data)."""
    known = state.memo.horizon.get(svc)
    if known is not None:
        return known
    newest = state.last_at_us.get(svc, 0)
    for node in state.service_nodes.get(svc, ()):
        for kind in PROBE_FACTS:
            seen = state.seen.get((kind, svc.cluster, svc.namespace, svc.name, node))
            if seen is not None and seen > newest:
                newest = seen
    state.memo.horizon[svc] = newest
    return newest


LB_TYPES = ("LoadBalancer", "NodePort")


def _local_history(
    was: ServiceInfo | None, row: Sequence[Any], deleted: bool
) -> tuple[tuple[int, bool, int], ...]:
    """`ServiceInfo.local` after the Service version `row`."""
    local = not deleted and row[F.SERVICE_TRAFFIC_POLICY] == "Local" and row[F.STATE] in LB_TYPES
    history = was.local if was is not None else ()
    if history and history[-1][1] == local:
        return history
    return (*history, (row[F.AT_US], local, row[F.EVENT_ID]))


def lb_facing(state: FoldState) -> list[ServiceRef]:
    """Services that matter: those ever seen an eTP Local NodePort/LoadBalancer one (where
    they were not, replay.policy keeps them out of the windows), or any with probe/LB data."""
    found = {
        svc for svc, info in state.services.items() if any(local for _, local, _ in info.local)
    }
    for lanes in state.probes.values():
        found.update(svc for svc, _node in lanes)
    return sorted(found)


#: A sample's place in time order: (at_us, event_id), read in C (a lane out of time order is
#: sorted whole on every read, so a Python key cost a call per sample and read)
IN_TIME = itemgetter(0, 3)


def sorted_lane(samples: list[Sample]) -> list[Sample]:
    """Samples in time order (late-arriving ones slot in); equal times keep id order."""
    times = list(map(itemgetter(0), samples))
    if times == sorted(times):
        return samples
    return sorted(samples, key=IN_TIME)
