"""Detection of a touched Service, node by node, reusing the windows of nodes nothing moved on.

`detect` finds a Service's windows per node from that node's lanes and a few values derived
from the whole Service or cluster. A refresh from a checkpoint keeps, per Service, what each
node's windows were computed from, and recomputes a node only when something it reads moved:

- the node's own inputs (`node_key`): its lanes' lengths (`checkpoint.lane_versions`: the
  endpoints, the three probe/LB lanes, the Node, each local pod's samples; all append-only,
  a repeated probe value is not appended), kube-proxy's scraped syncs there, its kube-proxy
  version and what it makes of ProxyTerminatingEndpoints on the node (the versions also count
  how often the EndpointSlices listed a local pod ready: a slice version listing one may leave
  the node's endpoints lane as it was, and replay.deaths reads when it came), and for a node
  down now its probe lanes' newest looks (`down_looks`: a repeated value moves no length);
- the Service's and cluster's derived values (`service_key`), compared by value: the measured
  settings, the kube-proxy and CCM lag bounds, fail-open, the CCM mode, the probe period, when
  the endpoints were first listed, the service-controller Events (only where the LB is not
  polled: they stand in for the polls there), the Service object, whether
  the LB is polled, its first poll, the observers' clock offsets and ProxyTerminatingEndpoints
  as the cluster's probes showed it; any change recomputes every node;
- the end of the data (`horizon`): it only ends windows still open there, so it recomputes the
  nodes with a gap reaching past the end of the data;
- the LB's median measured drop lag (`lags.lb_drop_lag`, moved by any new lag sample): detect
  reads it only to compare how long a node's endpoints stayed not ready with it
  (`detect._dropped`), so a moved median recomputes just the nodes with such a stretch between
  the old and the new value (`losses`); to or from None (too few measurements), every node;
- what a refused NodePort look may be (modeshape.refusal_readings: the node's NodePort lane
  up to its newest look, a repeat no length counts, and every node's endpoints): a node whose
  windows read it keeps the readings they were read with, and is found again whole where
  they moved (`readings_read`).

A node found again whose LB poll lane alone moved (its R, and the checks read after F) keeps F
as `lanes.serves_signal` gave it (`Found.find`): F reads the node's other lanes, its local pods'
samples and when the EndpointSlices listed them ready (`serves_key`: all `node_key` holds but
the poll lane), and the Service's values `service_key` holds (tests/replay/test_refresh12.py).
A node whose kube-proxy metrics looks alone moved (a scrape moves them for every Service on the
node: `moved_syncs_only`) has F found again, and where F comes out equal keeps the rest of its
finding (`_syncs_kept`; tests/replay/test_sync_kept.py); where its new looks lie beyond every
item of the looks and sync spans that F's last find read, it keeps the whole finding without
finding F (`_read_kept`, replay.sync_read; tests/replay/test_sync_read.py), and where it has a
probe look it keeps its windows whole too: detection reads the looks only where it has none
(`_looks_kept`, replay.nodealone.reads_looks; tests/replay/test_windows_kept.py).

Clusters with CloudTrail membership lanes are always recomputed whole (a membership lane ties
nodes to each other through instance ids and addresses). `windows` must give what `detect`
gives (tests/replay/test_node_cache.py compares them; the refresh properties compare with a
rebuild).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from gapwatch.recorder.progresslines import ticking
from gapwatch.replay import gap_tail, nodealone, suffix, sync_tail
from gapwatch.replay.accessed import Proof, ProofMemo, access_proofs, decided
from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.chains import Chain, Chains
from gapwatch.replay.checkpoint import first_poll, lane_versions
from gapwatch.replay.clocks import OBSERVERS, clock_offset
from gapwatch.replay.context import alive_steps, ccm_mode, nodes_of
from gapwatch.replay.detect import Candidates, finished, windows_from
from gapwatch.replay.fold import PROBE_FACTS, FoldState, Sample, horizon, sorted_lane
from gapwatch.replay.gap_tail import GapTrail
from gapwatch.replay.impact import Impact, access_impact
from gapwatch.replay.lags import ccm_lag_hi, lb_drop_lag
from gapwatch.replay.lane_tail import Carried, Looks, refused
from gapwatch.replay.lanes import Lanes, Serves, lanes, serves_carried
from gapwatch.replay.logclock import LogClock, OutsideKept
from gapwatch.replay.measure import measured_settings
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.modeshape import refusal_readings
from gapwatch.replay.opener import NODE_DOWN
from gapwatch.replay.proxy import (
    gate_stated,
    probe_period,
    proxy_lag_hi,
    pte_enabled,
    pte_known,
    pte_sure,
)
from gapwatch.replay.relisted import node_stretches, stretches
from gapwatch.replay.routed import fail_open
from gapwatch.replay.signals import HI, Iv, Step, Tri
from gapwatch.replay.sync_read import SyncNotes, SyncRead, unmoved
from gapwatch.replay.unseen import listed_at, slices_stamped


class Found(NamedTuple):
    """What detect.windows_from reads a node's windows from: its lanes, R and not F (`gap`)
    and its local pods' lane (`alive`: context.alive_steps); and F as `lanes.serves_signal`
    gave it (`served`) with what it read of the node (`reads`: `serves_key`)."""

    lanes: Lanes
    gap: Tri
    alive: list[Step]
    served: Serves | None = None
    reads: tuple[Any, ...] | None = None
    #: `gap`'s candidate windows (detect.candidates_of), for each windows_from pass
    merged: Candidates | None = None
    #: how `gap` and `merged` were found (replay.gap_tail: the next find of the node resumes
    #: them where R and F moved)
    trail: GapTrail | None = None
    #: how F's probed lane's steps and Tri were found (replay.lane_tail: the next find of
    #: `served` resumes them where the lane moved)
    carried: Carried | None = None
    #: its probe and LB poll lanes as `observed` gave them (replay.lane_tail.looks: the next
    #: find corrects and widens only their new samples)
    looks: Looks | None = None
    #: the last look of its target lane that saw the LB routing to it, as the suffix last read
    #: it (suffix.routed_on: the next refresh reads only the samples appended since; found
    #: by a refresh only)
    routed: suffix.RoutedTrail | None = None
    #: where the lists `windows_from` read were chains (replay.chains: the next refresh's
    #: carry on from them)
    chains: list[Chain] | None = None
    #: how far F read the node's kube-proxy metrics looks and sync spans (replay.sync_read: a
    #: next find whose new looks cannot move that keeps F; noted by a refresh that found F
    #: again where the looks alone moved)
    synced: SyncRead | None = None

    @classmethod
    def find(
        cls,
        state: FoldState,
        svc: ServiceRef,
        node: str,
        mine: DetectSettings,
        lag_hi: int,
        nkey: tuple[Any, ...],
        was: Found | None = None,
        syncs_only: bool = False,
    ) -> Found:
        """The node's lanes; `was`: what they were found from last, under the same Service
        key (`service_key`): its F and its local pods' lane are found again only if what F
        reads of the node moved (a node moved by its LB polls alone keeps both: neither reads
        them). R and not F and its candidates carry on from `was`'s where R and F moved
        (replay.gap_tail). `syncs_only`: of the node's key (`node_key`) only its kube-proxy
        metrics looks moved since `was` (`moved_syncs_only`): where F comes out the same, the
        rest is `was`'s (`_syncs_kept`)."""
        reads = serves_key(state, svc, node, nkey)
        carried = was.carried if was is not None else None
        trails: Looks = dict(was.looks) if was is not None and was.looks else {}
        synced = was.synced if was is not None else None
        if was is not None and was.served is not None and reads is not None and was.reads == reads:
            served, alive = was.served, was.alive  # the local pods' lane reads their samples
        elif syncs_only and was is not None and _read_kept(state, svc, node, mine, was):
            return was._replace(reads=reads)
        else:
            # noted only where the looks alone moved: the next such refresh can then keep F;
            # a node whose other lanes moved finds F again anyway (noting costs a find ~1.4x)
            notes = SyncNotes() if syncs_only and was is not None else None
            served, carried = serves_carried(state, svc, node, mine, lag_hi, carried, trails, notes)
            synced = notes.read() if notes is not None else None
            alive = alive_steps(state, svc, node)
            if syncs_only and was is not None and _syncs_kept(was, served, alive):
                return was._replace(
                    served=served, reads=reads, carried=carried, looks=trails, synced=synced
                )
        silence = was.lanes.silence if was else None
        times = was.lanes.times_trail if was else None
        found = lanes(state, svc, node, mine, lag_hi, served, silence, trails, times)
        trail = was.trail if was is not None else None
        gap, merged, trail = gap_tail.gap(found.routed, found.serves, trail)
        return cls(found, gap, alive, served, reads, merged, trail, carried, trails, synced=synced)


def moved_syncs_only(was: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    """Whether two `node_key`s of a node differ at most in its kube-proxy metrics looks' count
    (a scrape of the node's kube-proxy moves that alone, for every Service on the node)."""
    return was[:_SYNCS] == now[:_SYNCS] and was[_SYNCS + 1 :] == now[_SYNCS + 1 :]


def _read_kept(
    state: FoldState, svc: ServiceRef, node: str, mine: DetectSettings, was: Found
) -> bool:
    """Whether a node whose metrics looks alone moved keeps `was` whole without finding F
    again: its new looks and the spans they moved lie beyond all that `was`'s find of F read
    of them (replay.sync_read.unmoved; then F is `was`'s, and `_syncs_kept` holds)."""
    if was.synced is None or was.served is None:
        return False
    where = (svc.cluster, node)
    lane = state.syncs.get(where)
    if lane is None or lane is not was.synced.lane:
        return False
    quiet, unbegun = sync_tail.spans(
        state, where, lane, seconds_us(mine.sync_span_s), seconds_us(mine.clock_skew_s)
    )
    return unmoved(state, where, was.synced, quiet, unbegun)


def _looks_kept(
    state: FoldState, svc: ServiceRef, node: str, mine: DetectSettings, kept: NodeWindows,
    nkey: tuple[Any, ...],
) -> bool:  # fmt: skip
    """Whether a node whose key moved keeps its windows whole, and takes `nkey` (`kept` is
    updated so): its kube-proxy metrics looks alone moved (`moved_syncs_only`), F and the rest
    of its finding are kept without finding them (`_read_kept`), and detection cannot read the
    looks: detect.windows_from and `finished` read them only through nodealone.node_alone, and
    only on a node with no probe look (nodealone.reads_looks, a function of its probe lanes,
    which did not move). Every input of its windows is then the value it was (the end of the
    data, the drop lag and the refusal readings are the caller's to check), so the windows
    are: the suffix's instant (`_since`) and `windows_from` are not found."""
    was = kept.found
    if (
        was is None
        or not moved_syncs_only(kept.key, nkey)
        or nodealone.reads_looks(state, svc, node)
        or not _read_kept(state, svc, node, mine, was)
    ):
        return False
    kept.key, kept.found = nkey, was._replace(reads=serves_key(state, svc, node, nkey))
    return True


def _syncs_kept(was: Found, served: Serves, alive: list[Step]) -> bool:
    """Whether a node whose metrics looks alone moved keeps `was`'s lanes, R and not F and
    its candidates: F (`served`) and the local pods' lane came out equal to `was`'s. Only F
    reads the looks among what `Found.find` finds (`lanes.serves_carried`; `lanes.lanes`
    reads R, the LB's checks, the health lane's silences, the relists and the policy, none
    of them the looks, and R and not F reads the two signals), and everything else they read
    is in the node's key or the Service's, which did not move: each is the value it was.
    Detection's own reads of the looks (detect.windows_from: node_alone, termsync, leftover,
    deaths) stay with the suffix (`_since`: the new looks' times bound what they move)."""
    return was.served == served and was.alive == alive


@dataclass(slots=True)
class NodeWindows:
    key: tuple[Any, ...]
    windows: list[Window]
    #: a gap of the node reaches past the end of the data (its window ends there)
    open: bool
    #: how long its endpoints stayed not ready each time they came back (sorted: `losses`)
    losses: list[int] = field(default_factory=list)
    #: the windows before the watch relists were applied (detect.windows_from), and R, F and
    #: the whole-lane facts they were found from (replay.suffix: a refresh keeps the windows
    #: before the instant its new samples can move detection at)
    raw: list[Window] = field(default_factory=list)
    signals: tuple[Tri, Tri, tuple[bool, ...], list[Iv]] | None = None
    #: the windows before the LB's failed requests were read (`windows` with `proofs` read:
    #: replay.accessed; the same list when there are none)
    plain: list[Window] = field(default_factory=list)
    proofs: list[Proof] = field(default_factory=list)
    #: what its windows were found from (its lanes, R and not F, its local pods' lane: a
    #: function of what `key` and the Service's key hold, so valid while the node is kept): a
    #: kept node whose proofs moved reads those windows again from them (None: found again;
    #: not in the saved checkpoint file, replay.checkpoint_file)
    found: Found | None = None
    #: per `plain` window, the proofs of `proofs` it holds (`_held`; None: not found yet)
    held: list[frozenset[Proof]] | None = None
    #: what a refused look of the node may be as its windows were read (modeshape
    #: .refusal_readings, `readings_read`); None: no window of it reads that
    readings: tuple[bool, ...] | None = None


class _Holding:
    """Which of a lane's windows hold a proof: it lies within their outer bounds (replay.accessed
    clips each proof to its window's; detect.windows_from gives a window the proofs inside its
    bounds). Windows by their earliest start, with the latest end so far, so a look stops at
    the first window before which none reaches the proof."""

    def __init__(self, windows: Sequence[Window]) -> None:
        self.windows = windows
        self.order = sorted(range(len(windows)), key=lambda i: windows[i].start_earliest_us)
        self.starts = [windows[i].start_earliest_us for i in self.order]
        self.reach: list[int] = []
        for i in self.order:
            end = windows[i].end_latest_us
            self.reach.append(max(self.reach[-1], end) if self.reach else end)

    def of(self, proof: Proof) -> list[int]:
        """The indexes (in the windows given) of the windows that hold `proof`."""
        lo, hi = min(proof), max(proof)
        out = []
        k = bisect_right(self.starts, lo) - 1
        while k >= 0 and self.reach[k] >= hi:
            w = self.windows[self.order[k]]
            if w.end_latest_us >= hi:
                out.append(self.order[k])
            k -= 1
        return out


def _held(plain: Sequence[Window], proofs: Sequence[Proof]) -> list[frozenset[Proof]]:
    """Per window, the proofs it holds."""
    if not proofs:
        return [frozenset()] * len(plain)
    holding = _Holding(plain)
    held: list[set[Proof]] = [set() for _ in plain]
    for p in proofs:
        for i in holding.of(p):
            held[i].add(p)
    return [frozenset(h) for h in held]


def _proven(
    kept: NodeWindows,
    proofs: list[Proof],
    was: NodeWindows | None,
    until: int,
    read: Callable[[list[Proof]], list[Window]],
    held: list[frozenset[Proof]] | None = None,
) -> list[Window]:
    """A node's windows with its proofs read (replay.accessed.decided), one per `kept.plain`
    window: a window holding no proof is its plain self; one that `was` (the node's entry
    before) had, ending before `until`, with the same proofs, keeps the reading it had; the
    others are read again (`read`: detect.windows_from with the proofs given, then `finished`),
    each with every proof it holds and those no window holds. `held`: `_held(kept.plain,
    proofs)`, when the caller has it."""
    if held is None:
        held = _held(kept.plain, proofs)
    before: dict[Window, tuple[frozenset[Proof], Window]] = {}
    if was is not None:
        had_before = was.held if was.held is not None else _held(was.plain, was.proofs)
        for w, had, reading in zip(was.plain, had_before, was.windows, strict=True):
            if w.end_latest_us < until:
                before[w] = (had, reading)
    out: list[Window | None] = []
    again = False
    for w, mine in zip(kept.plain, held, strict=True):
        prior = before.get(w)
        if not mine:
            out.append(w)
        elif prior is not None and prior[0] == mine:
            out.append(prior[1])
        else:
            out.append(None)
            again = True
    if not again:
        return [w for w in out if w is not None]
    redo = {p for mine, now in zip(held, out, strict=True) if now is None for p in mine}
    inside: set[Proof] = set().union(*held)
    fresh = decided(kept.plain, read([p for p in proofs if p in redo or p not in inside]))
    return [new if now is None else now for now, new in zip(out, fresh, strict=True)]


@dataclass(slots=True)
class ServiceWindows:
    key: tuple[Any, ...]
    horizon: int
    nodes: dict[str, NodeWindows] = field(default_factory=dict)
    #: the LB's drop lag the windows were classed with (lags.lb_drop_lag)
    drop_lag: int | None = None
    #: each node's proofs from its failed access lines (replay.accessed.access_proofs)
    proof_memo: ProofMemo = field(default_factory=dict)
    #: the Service's access-log clock they were found on, where it has failed lines
    #: (replay.logclock: it reads the windows' outer bounds, which proofs do not move)
    clocks: dict[ServiceRef, LogClock] = field(default_factory=dict)


def readings_read(
    state: FoldState, svc: ServiceRef, node: str, mine: DetectSettings, found: Lanes,
    raw: Sequence[Window],
) -> tuple[bool, ...] | None:  # fmt: skip
    """What a refused NodePort look of the node may be (modeshape.refusal_readings), where
    its windows (`raw`, found from `found`) may read it: detection reads it only for a window
    whose reason is a refused look (detect.classify, windows_from); None where the node has no
    window or no refused look. The readings are found from the node's whole NodePort lane up
    to its newest look, a repeat that moves no lane length (`FoldState.seen`), and from every
    node's endpoints (replay.rejected): a kept node whose readings moved is found again, its
    windows read whole (tests/replay/test_node_cache.py, a heartbeat that decides the mode).
    Whether the lane holds a refused look is its reason times' trail's where that trail read
    this list (lane_tail.times: carried on, only the samples appended since read), else the
    list's whole (a pass growing with the node's history, on every find)."""
    if not raw:
        return None
    trail, samples = found.times_trail, found.reason_samples
    if trail is not None and trail.samples is samples and trail.read == len(samples):
        if not trail.refused:
            return None
    elif not refused(samples):
        return None
    return refusal_readings(state, svc, node, mine)


def losses(eps: Sequence[Sample]) -> list[int]:
    """Sorted: for each stretch of not-ready endpoint samples followed by a ready one, the time
    from its first sample to that ready one: the only durations `detect._dropped` compares
    with the drop lag (a stretch at the very start counts too; a superset is harmless)."""
    out: list[int] = []
    lost: int | None = None
    for s in eps:
        if s.value != "ready":
            if lost is None:
                lost = s.at_us
        elif lost is not None:
            out.append(s.at_us - lost)
            lost = None
    out.sort()
    return out


def lag_moves(kept: Sequence[int], before: int, after: int) -> bool:
    """Whether some duration in `kept` (sorted) compares differently (`d > lag`) with the two
    drop lags: one in (min, max]."""
    lo, hi = min(before, after), max(before, after)
    return bisect_right(kept, hi) > bisect_right(kept, lo)


Cache = dict[ServiceRef, ServiceWindows]


def service_key(
    state: FoldState, svc: ServiceRef, mine: DetectSettings, lag_hi: int
) -> tuple[Any, ...]:
    targets = state.probes["target"]
    polled = any((svc, n) in targets for n in state.service_nodes.get(svc, ()))
    return (
        mine,
        lag_hi,
        fail_open(state, svc),
        ccm_mode(state, svc, mine),
        ccm_lag_hi(state, svc, mine),
        probe_period(state, svc),
        listed_at(state, svc),
        # service-controller Events confirm the CCM only where the LB is not polled
        # (replay.routed._inferred_routed): a polled LB's lanes never read them
        0 if polled else len(state.events.get(svc, ())),
        state.services.get(svc),
        polled,
        first_poll(state, svc),
        tuple(clock_offset(state, svc.cluster, o, mine) for o in sorted(OBSERVERS)),
        pte_known(state, svc.cluster, mine),
        tuple(stretches(state, svc, mine)),
        # where a Service's slices carry write times, an unseen gap's earlier start is bounded
        # by the write's second (replay.unseen._written_before): read from `state.own`
        slices_stamped(state, svc),
    )


#: where `node_key` holds the count of the node's kube-proxy metrics looks (`moved_syncs_only`)
_SYNCS = 1


def node_key(
    state: FoldState, svc: ServiceRef, node: str, versions: dict[str, tuple[Any, ...]],
    mine: DetectSettings,
) -> tuple[Any, ...]:  # fmt: skip
    cluster = svc.cluster
    return (
        versions.get(node),
        len(state.syncs.get((cluster, node), ())),  # at _SYNCS
        state.node_versions.get((cluster, node)),
        len(state.lb_excluded.get((cluster, node), ())),
        pte_enabled(state, cluster, node, mine),
        pte_sure(state, cluster, node, mine),
        # the node's own statements of the gate (pte_possible, pte_by_default read them)
        pte_known(state, cluster, mine, node),
        gate_stated(state, cluster, node),
        tuple(node_stretches(state, cluster, node, mine)),  # a Node relist (replay.relisted)
        down_looks(state, svc, node),
    )


def down_looks(state: FoldState, svc: ServiceRef, node: str) -> tuple[int | None, ...]:
    """The newest look of each probe lane of a node that is down now (its newest Node sample
    NotReady, unknown or deleted): what `detect._went_down` reads beyond the lanes' changes
    (replay.observed.newest_looks). A look that repeats its lane's value (a heartbeat, the
    prober's last look as it drops a deleted node) leaves the lane's length as it was, so the
    lane versions miss it. () for a node up now: its newest looks come after any mark that
    took it down, where `_went_down` does not read them (and a mark since grows its lane)."""
    lane = state.nodes.get((svc.cluster, node))
    if not lane or sorted_lane(lane)[-1].value not in NODE_DOWN:
        return ()
    ref = (svc.cluster, svc.namespace, svc.name, node)
    return tuple(state.seen.get((kind, *ref)) for kind in ("health", "nodeport"))


def serves_key(
    state: FoldState, svc: ServiceRef, node: str, nkey: tuple[Any, ...]
) -> tuple[Any, ...] | None:
    """What `lanes.serves_signal` reads of the node besides what `service_key` holds: its
    `node_key` without the LB poll lane's length (the target lane: R's, and the checks'
    that `lanes` reads after F); None: no lane versions."""
    version = nkey[0]
    if version is None:
        return None
    target = 1 + PROBE_FACTS.index("target")
    return (*version[:target], *version[target + 1 :], *nkey[1:])


def _since(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    kept: NodeWindows,
    nkey: tuple[Any, ...],
    found: Lanes,
    horizon_us: int,
    back_us: int,
    looks: Looks | None = None,
) -> tuple[int | None, suffix.RoutedTrail | None]:
    """The instant before which the node's kept windows stand (replay.suffix), None: its
    whole history again (its other inputs moved, or what the suffix cannot bound did); and
    the target lane's `suffix.routed_on` trail where the suffix read it (from the kept
    find's). `looks`: the node's lanes as its find read them (lane_tail.looks: those it read
    whole are in time order)."""
    if kept.signals is None or kept.key[2:-1] != nkey[2:-1] or kept.key[0] is None:
        return None, None
    # a down node's newest looks (last in the key): a moved one re-detects from the one it
    # replaced; a lane's first one, from the start
    before, now = kept.key[-1], nkey[-1]
    changed = [old for old, new in zip(before, now, strict=False) if old != new]
    if before and now and None in changed:
        return None, None
    moved = [old for old in changed if old is not None] if before and now else []
    in_order = {k: t.lane for k, t in (looks or {}).items() if t.read == len(t.lane)}
    since = suffix.influence_from(
        state, svc, node, kept.key[0], kept.key[1], back_us, moved, in_order
    )
    if since is not None and kept.open:
        since = min(since, horizon_us)  # the window open at the old end of the data
    if since is None:
        return None, None
    was = kept.found.routed if kept.found is not None else None
    routed = suffix.routed_on(state.probes["target"].get((svc, node), []), was)
    targets = kept.key[0][1 + PROBE_FACTS.index("target")]
    if not suffix.reusable(state, svc, node, since, kept.signals, found, targets, (was, routed)):
        return None, routed
    return since, routed


#: the Service's windows' order: the same key as a tuple, found in C (a refresh sorts every
#: window of the Service, thousands after months)
_BY_START = attrgetter("start_us", "service", "node")
#: a window's latest end and an interval's end, read in C where a refresh reads every kept
#: window and every interval of the node's gap (a node keeps hundreds after months)
_END_LATEST = attrgetter("end_latest_us")
_IV_END = itemgetter(1)


def windows(
    state: FoldState,
    svc: ServiceRef,
    settings: DetectSettings,
    cache: Cache | None = None,
    impact: Impact | None = None,
    outside: OutsideKept | None = None,
    *,
    on_node: Callable[[float], None] | None = None,
    ordered: bool = True,
) -> list[Window]:
    """The Service's windows as `detect(state, [svc], settings)` gives them; with `cache`, the
    nodes whose inputs did not move keep the windows found last time (and the cache is
    updated). `impact`: `impact.access_impact(state)`, when the caller keeps it; `outside`:
    the access lines outside each lane's windows, kept between calls (replay.logclock);
    `on_node(1)` after each node (a progress bar's advance); `ordered` False: node by node,
    each node's in its order (`in_order` gives detect's order; replay.node_rows reads the
    cache's lists node by node and sorts only where the Service was detected whole)."""
    end_of_data = horizon(state, svc)
    mine = measured_settings(state, svc, settings)
    lag_hi = proxy_lag_hi(state, svc, mine)
    drop_lag = lb_drop_lag(state, svc, mine)  # as detect() classes: a moved median moves all
    whole = cache is None or any(m.cluster == svc.cluster for m in state.members)
    skey = () if whole else service_key(state, svc, mine, lag_hi)
    old = None if cache is None or whole else cache.get(svc)
    if old is not None and (old.key != skey or (old.drop_lag is None) != (drop_lag is None)):
        old = None
    versions = lane_versions(state, svc, settings)
    fresh = ServiceWindows(skey, end_of_data, drop_lag=drop_lag)
    back: int | None = None  # suffix.look_back_us, found once
    #: per node, its entry before this call and before which its windows' readings with
    #: proofs may be kept from it (all of them when the node is kept, those before the suffix's
    #: instant when found again from it, none when found again whole)
    previous: dict[str, tuple[NodeWindows, int]] = {}
    for node in ticking(nodes_of(state, svc), on_node):
        nkey = node_key(state, svc, node, versions, mine)
        kept = old.nodes.get(node) if old is not None else None
        if kept is not None:
            previous[node] = (kept, HI)
        lag_moved = (
            kept is not None
            and old is not None
            and old.drop_lag is not None
            and drop_lag is not None
            and lag_moves(kept.losses, old.drop_lag, drop_lag)
        )
        # the readings of a refused look its windows read moved (`readings_read`): read whole
        readings_moved = (
            kept is not None
            and kept.readings is not None
            and refusal_readings(state, svc, node, mine) != kept.readings
        )
        open_moved = (
            kept is not None and kept.open and old is not None and old.horizon != end_of_data
        )
        if (
            kept is not None
            and kept.key != nkey
            and not (open_moved or lag_moved or readings_moved)
            and _looks_kept(state, svc, node, mine, kept, nkey)
        ):
            previous[node] = (kept, HI)  # its windows and what they were found from, whole
        elif kept is None or kept.key != nkey or open_moved or lag_moved or readings_moved:
            found = Found.find(
                state, svc, node, mine, lag_hi, nkey, kept.found if kept is not None else None,
                syncs_only=kept is not None and moved_syncs_only(kept.key, nkey),
            )  # fmt: skip
            since: int | None = None
            if kept is not None and old is not None and not (lag_moved or readings_moved):
                if back is None:
                    back = suffix.look_back_us(state, svc, mine, lag_hi)
                since, routed = _since(
                    state, svc, node, kept, nkey, found.lanes, old.horizon, back, found.looks
                )
                if routed is not None:
                    found = found._replace(routed=routed)
            read = Chains(kept.found.chains or () if kept is not None and kept.found else ())
            raw = windows_from(
                state, svc, node, found.lanes, end_of_data, settings=mine, drop_lag=drop_lag,
                from_us=since, relists=False, gap=found.gap, alive=found.alive,
                merged=found.merged, chains=read,
            )  # fmt: skip
            found = found._replace(chains=read.made())
            if since is not None and kept is not None:
                raw = list(compress(kept.raw, map(since.__gt__, map(_END_LATEST, kept.raw)))) + raw
                previous[node] = (kept, since)
            else:
                previous.pop(node, None)
            plain = finished(state, svc, node, found.lanes, raw, mine)
            kept = NodeWindows(
                nkey,
                plain,
                any(map(HI.__le__, map(_IV_END, found.gap.possible))),
                losses(found.lanes.eps),
                raw,
                (
                    found.lanes.routed,
                    found.lanes.serves,
                    suffix.shape(found.lanes),
                    found.lanes.earlier,
                ),
                plain,
                found=found,
                readings=readings_read(state, svc, node, mine, found.lanes, raw),
            )
        fresh.nodes[node] = kept
    # the LB's failed requests, as detect() reads them: a second look where they prove a gap
    if impact is None and state.access:
        impact = access_impact(state)
    if old is not None:
        fresh.proof_memo = old.proof_memo
    plains = {node: kept.plain for node, kept in fresh.nodes.items()}
    proofs = access_proofs(
        state, svc, plains, settings, impact, outside, fresh.proof_memo, fresh.clocks
    )
    out: list[Window] = []

    def reread(node: str, proven: list[Proof]) -> list[Window]:
        entry = fresh.nodes[node]  # kept, or found again above (with what it was found from)
        found = entry.found
        if found is None:
            found = entry.found = Found.find(state, svc, node, mine, lag_hi, entry.key)
        raw = windows_from(
            state, svc, node, found.lanes, end_of_data, settings=mine, drop_lag=drop_lag,
            relists=False, proven=proven, proven_only=True, gap=found.gap, alive=found.alive,
            merged=found.merged,
        )  # fmt: skip
        return finished(state, svc, node, found.lanes, raw, mine)

    for node, kept in fresh.nodes.items():
        mine_proofs = proofs.get(node, [])
        was, until = previous.get(node, (None, 0))
        if mine_proofs != kept.proofs or (was is not kept and mine_proofs):
            held = _held(kept.plain, mine_proofs)
            kept.windows = _proven(kept, mine_proofs, was, until, partial(reread, node), held)
            kept.proofs, kept.held = mine_proofs, held
        out.extend(kept.windows)
    if cache is not None:
        if whole:
            cache.pop(svc, None)
        else:
            cache[svc] = fresh
    return in_order(out) if ordered else out


def in_order(found: list[Window]) -> list[Window]:
    """`found` (sorted in place) in detect's order: by start, Service and node; a node's
    windows with equal keys in the order it gave them (a stable sort; the key holds the node).
    Sorting a Service's every window costs a refresh a pass over thousands after months."""
    found.sort(key=_BY_START)
    return found
