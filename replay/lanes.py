"""The two signals of one (service, node): R (the LB routes to it) and F (it serves).

R comes from TargetHealth samples (measured), else from CloudTrail membership changes, else
from the endpoints lane (inferred): replay.routed; this module combines it with F.
F comes from NodePort probes (measured: connected or not), else from the health-check-node-port
answer (measured, plus ProxyTerminatingEndpoints inference), else from the endpoints and pod lanes
shifted by an assumed kube-proxy lag (inferred). Where the endpoints show an excursion the samples
could have missed, the signal is only *possibly* true there (`hidden`). Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice

from gapwatch.replay import lane_tail, sync_tail, synced_tail
from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.checked import (
    check_lead,
    passed_checks,
    proven_serving,
    proven_unrouted,
    stoppers,
)
from gapwatch.replay.clocks import clock_offset, observer_of
from gapwatch.replay.context import (
    alive_steps,
    ccm_mode,
    endpoint_steps,
    local_pods,
    node_gone_steps,
    node_ready_steps,
    pod_lanes,
)
from gapwatch.replay.deaths import dead_first, died_unprogrammed
from gapwatch.replay.fold import AT_US, FoldState, Sample
from gapwatch.replay.gate_unlooked import gate_doubt
from gapwatch.replay.lane_tail import Carried, Looks, SilenceTrail, TimesTrail
from gapwatch.replay.membership import pod_targeted
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.observed import observed
from gapwatch.replay.podsup import pods_up
from gapwatch.replay.policy import while_local
from gapwatch.replay.proxy import (
    REFUSED,
    changed_since,
    probe_period,
    pte_enabled,
    pte_possible,
    pte_sure,
    restart_carried,
    silent,
    unconfirmed_carried,
)
from gapwatch.replay.relisted import node_stretches, stretches, unknown_lanes, unknown_over
from gapwatch.replay.routed import routed_signal
from gapwatch.replay.signals import (
    Iv,
    Step,
    Tri,
    complement,
    constant,
    intersect,
    minus_definite,
    shifted,
    steps_from_samples,
    t_and,
    t_not,
    t_or,
    tri_from_steps,
)
from gapwatch.replay.solecrash import sole_crash
from gapwatch.replay.sync_index import indexed
from gapwatch.replay.sync_read import SyncNotes
from gapwatch.replay.synccount import by_sync, outside_quiet
from gapwatch.replay.syncorder import brought_back, synced_on
from gapwatch.replay.syncs import SyncIndex, programmed, reach_us, read_early
from gapwatch.replay.uncounted import forwarded_to_none
from gapwatch.replay.unseen import backdated, excursions, listed_at, pod_serves, with_listing

#: what `serves_signal` gives: F, whether it was measured, the samples explaining it false,
#: where an unseen gap it shows may already have been open (`Lanes.earlier`), and where F is
#: possible only because a ProxyTerminatingEndpoints gate may be on (`gate_doubt`; None: none)
Serves = tuple[Tri, bool, list[Sample], list[Iv], Tri | None]
#: what a call that read no probed lane carries on
NOTHING_CARRIED = Carried(None, None)


@dataclass(frozen=True, slots=True)
class Lanes:
    """The two signals of one (service, node) and what they came from."""

    routed: Tri
    serves: Tri
    measured: bool
    #: samples whose values explain why F is false (classification), and their times
    reason_samples: list[Sample]
    eps: list[Sample]
    reason_times: list[int] = field(default_factory=list)
    #: the endpoints kube-proxy would forward to (ready, with PTE serving-terminating too)
    forwardable: list[Step] = field(default_factory=list)
    #: the health-check-node-port samples (a timeout there: the node itself does not answer)
    health: list[Sample] = field(default_factory=list)
    #: where an unseen gap F shows may already have been open (replay.unseen.Unseen.earlier):
    #: it moves the start of a window found without it, never makes one
    earlier: list[Iv] = field(default_factory=list)
    #: F as the health check reads it with the gate off, where a gate that may be on makes F
    #: possible over a terminating pod (`gate_doubt`): where such a window opened (kube-proxy
    #: closed when it answered 503, if it did at all); None: `serves`
    closing: Tri | None = None
    #: how the health lane's silent stretches were found (replay.lane_tail: the node's next
    #: call resumes them where the lane moved); no part of the lanes' value
    silence: SilenceTrail | None = field(default=None, compare=False, repr=False)
    #: how `reason_times` was found (lane_tail.times: the node's next call reads only the
    #: reason samples appended since); no part of the lanes' value
    times_trail: TimesTrail | None = field(default=None, compare=False, repr=False)

    @property
    def placing(self) -> Tri:
        """F for placing an unproven window's opening (replay.detect._unproven_start)."""
        return self.serves if self.closing is None else self.closing


def _synced(steps: list[Step], health: list[Sample]) -> list[Step]:
    """A forwarding set that became non-empty was programmed by the first health check that
    answered 200 after it (kube-proxy pushes the counts after the rules sync that wrote them)."""
    times = [h.at_us for h in health]
    out = []
    for step in steps:
        if step.value:
            i = bisect_left(times, step.earliest)
            while i < len(health) and health[i].at_us < step.latest:
                if health[i].value == "200":
                    step = step._replace(latest=max(step.earliest, health[i].at_us))
                    break
                i += 1
        out.append(step)
    return out


def _counted_none(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings
) -> list[Sample]:
    """The node's health-check lane on the recorder's clock (replay.observed) where it ever
    answered 503 counting 0 ready local endpoints (replay.deaths reads only those), else []."""
    raw = state.probes["health"].get((svc, node), ())
    if not any(s.value == "503" and s.num == 0 for s in raw):
        return []
    return observed(state, "health", svc, node, settings)


def _sole_crash(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    lag_hi: int,
    health: Sequence[Sample] | None,
    nodeport: Sequence[Sample] = (),
) -> list[Iv]:
    """replay.solecrash.sole_crash with the settings' bounds; `health`: the node's health-check
    lane on the recorder's clock, None: read where it counted 0 (`_counted_none`)."""
    return sole_crash(
        state, svc, node,
        (lambda: _counted_none(state, svc, node, settings)) if health is None else lambda: health,
        nodeport, clock_us=seconds_us(settings.node_clock_s), lag_us=lag_hi,
        skew_us=seconds_us(settings.watch_skew_s),
    )  # fmt: skip


def serves_signal(
    state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings, lag_hi: int
) -> Serves:
    return serves_carried(state, svc, node, settings, lag_hi)[0]


def serves_carried(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    lag_hi: int,
    was: Carried | None = None,
    trails: Looks | None = None,
    notes: SyncNotes | None = None,
) -> tuple[Serves, Carried]:
    """`serves_signal`, with the probed lane's steps and their Tri carried on from `was` (what
    the node's last call gave: replay.lane_tail, the plain loops' output whatever it holds),
    and its probed lanes as `observed` gives them from `trails` (lane_tail.looks). `notes`:
    the node's kube-proxy metrics looks and sync spans are read through them (replay.sync_read:
    how far F read them)."""
    key = (svc, node)
    if pod_targeted(state, key):
        # IP targets: the LB sends to the pods themselves, past kube-proxy: F is a local pod up
        alive = tri_from_steps(alive_steps(state, svc, node), False)
        return (alive, False, [], [], None), NOTHING_CARRIED
    eps = state.endpoints.get(key, [])
    pte = pte_enabled(state, svc.cluster, node, settings)
    accept = ("ready", "serving-terminating") if pte else ("ready",)
    known = pte_sure(state, svc.cluster, node, settings)
    status_us = seconds_us(settings.pod_status_s)
    nodeport = lane_tail.looks(state, "nodeport", svc, node, settings, trails)
    period = seconds_us(probe_period(state, svc))
    reach = max(seconds_us(settings.watch_skew_s), period)
    # an unseen gap is shorter than the probe period, on the prober's clock (which may be off)
    # against Pod and EndpointSlice changes seen by the watch (up to the watch skew late)
    offset = clock_offset(state, svc.cluster, observer_of("health"), settings)
    unseen_within = period + 2 * max(abs(offset), seconds_us(settings.clock_skew_s))
    skew = seconds_us(settings.watch_skew_s)
    unseen_within += skew
    exists = tri_from_steps(node_gone_steps(state, svc.cluster, node, reach), True)
    # kube-proxy's own metrics, where scraped, place a probed turn-on (replay.syncorder)
    looks = indexed(state, (svc.cluster, node))  # carried on (replay.sync_index)
    sync_reach = reach_us(settings)
    # and their sync counts, the spans in which no sync changed anything (replay.synccount)
    clock_skew = seconds_us(settings.clock_skew_s)
    # and where no sync began: an excursion no sync read hides no close (replay.unseen); both
    # carried on from the node's last find (replay.sync_tail)
    quiet: Sequence[Iv]
    unbegun: Sequence[Iv]
    quiet, unbegun = sync_tail.spans(
        state, (svc.cluster, node), looks.looks, seconds_us(settings.sync_span_s), clock_skew
    )
    if notes is not None:
        looks, quiet, unbegun = notes.wrap(state, (svc.cluster, node), looks, quiet, unbegun)
    if nodeport:
        steps, steps_trail = lane_tail.steps(
            nodeport, "connected", True, was.steps if was else None
        )
        span = seconds_us(settings.sync_span_s)
        forwardable = endpoint_steps(state, svc, node, accept)
        seen_ready = _ready_times(state, svc, node)
        # (carried on from the node's last find: replay.synced_tail; `brought_back` reads the
        # ready times alone)
        steps, synced_trail = synced_tail.synced(
            steps, forwardable, looks, sync_reach, quiet, span, brought_back(seen_ready, skew),
            (skew, tuple(map(tuple, seen_ready))), was.synced if was else None,
        )  # fmt: skip
        tri, tri_trail = lane_tail.tri(steps, True, was.tri if was else None)
        bad_times, bad_trail = lane_tail.bad_looks(nodeport, "connected", was.bad if was else None)
        unseen = excursions(
            state,
            svc,
            node,
            nodeport,
            lambda v: v != "connected",
            lag_hi,
            known,
            status_us,
            unseen_within,
            seconds_us(settings.node_clock_s),
            skew,
            bad_times=bad_times,
            unbegun=unbegun,
            reach_us=sync_reach,
            silent=silent,
        )
        # minus_definite(t_and(tri, exists), unseen.gaps), carried on (replay.lane_tail)
        serves, serving = lane_tail.serving(tri, exists, unseen.gaps, was.serving if was else None)
        died = died_unprogrammed(
            state, svc, node, settings, lag_hi, nodeport, "connected", unseen_within, looks,
            lambda: _counted_none(state, svc, node, settings),
        )  # fmt: skip
        serves = dead_first(serves, died)
        # the one ready local endpoint counted crashed before the sync that dropped it
        # (replay.solecrash: reads the health check only where it counted 0)
        crashed = _sole_crash(state, svc, node, settings, lag_hi, None, nodeport)
        serves = dead_first(serves, (crashed, []))
        carried = Carried(steps_trail, tri_trail, bad_trail, serving, synced=synced_trail)
        return (serves, True, nodeport, unseen.earlier, None), carried
    lo = seconds_us(settings.proxy_lag_s[0])
    alive = tri_from_steps(alive_steps(state, svc, node), False)
    health = lane_tail.looks(state, "health", svc, node, settings, trails)
    if health:
        # a look that got no answer is unknown unless the Node's status confirms the node
        # stopped (replay.proxy.silent_stretches): the rules the last answer showed keep
        # forwarding, and from an EndpointSlice change on F is inferred, as without probes
        # (both kinds of stretch, carried on: replay.lane_tail.silences)
        node_lane = state.nodes.get((svc.cluster, node), [])
        grace = seconds_us(settings.node_grace_s)
        (down, silence), silence_trail = lane_tail.silences(
            health, node_lane, grace, was.silence if was else None
        )
        looked, health = health, unconfirmed_carried(health, silence)
        silence = changed_since(silence, eps)
        # kube-proxy restarting: its health port refuses while the rules it installed keep
        # forwarding; refused is not "pod gone" (replay.proxy.restart_carried)
        # (the slices' first listing, within the initial list's time, is no change)
        listing = listed_at(state, svc) + seconds_us(settings.list_s)
        health, unsure = restart_carried(health, eps, listing, skew)
        answered, steps_trail = lane_tail.steps(health, "200", True, was.steps if was else None)
        ready = endpoint_steps(state, svc, node, ("ready",))
        answered = synced_on(answered, ready, looks, sync_reach, quiet, by_sync(health))
        serves, tri_trail = lane_tail.tri(answered, True, was.tri if was else None)
        restarting = Tri(unsure, [])
        # from 1.27 a 503 that still counts local endpoints is serviceProxyHealthy false:
        # kube-proxy is behind, its last rules keep forwarding: F unknown there too
        stale = [s._replace(value="1" if s.value == "503" and s.num else "0") for s in health]
        behind = tri_from_steps(steps_from_samples(stale, "1", False), False)
        unknown = t_or(restarting, behind)
        serves = minus_definite(t_or(serves, Tri(unknown.possible, [])), unsure)
        doubt = None
        # the endpoints say nothing of a node that stopped answering, its Node marked down
        answers = t_not(_silent_down(down, looked))
        if pte:
            # ready -> terminating is no forwarding change with PTE: shift the whole set
            terminating = shifted(endpoint_steps(state, svc, node, accept), lo, lag_hi)
            # each change of the set is kube-proxy's, made by a sync: none in a quiet span
            terminating = _synced([outside_quiet(s, quiet) for s in terminating], health)
            kept = t_and(tri_from_steps(terminating, False), alive)
            kept = t_and(kept, answers)
            # a 503 counting no ready local endpoint leaves only serving-terminating ones: none
            # forwarded where no local pod was terminating and up (replay.uncounted); possible
            # only, as the Pod lane may have missed a deletion (a watch outage)
            early = skew + 2 * max(abs(offset), seconds_us(settings.clock_skew_s))
            kept = minus_definite(kept, forwarded_to_none(state, svc, node, looked, early).possible)
            # on by default (1.26-1.27) the gate may have been turned off: the 503 over a
            # terminating pod then allows a gap (kube-proxy closed) and proves none
            serves = t_or(serves, kept if known else Tri(kept.possible, []))
        elif pte_possible(state, svc.cluster, node, settings):
            # (with kube-proxy's looks, F's changes are pinned to syncs: a sync may have read
            # the slice up to the reach before the store did)
            early = sync_reach if looks.looks else 0
            doubt = _gate_doubt(state, svc, node, lo, lag_hi, alive, early)
            doubt = None if doubt is None else t_and(doubt, answers)
        # what the looks saw: a silent look hides no excursion (F is inferred where it matters)
        # and a refused one saw none: kube-proxy's health server down while it restarts, the
        # rules it installed kept (restart_carried), not its sync of a loss, which a
        # kube-proxy still behind may make after it and undo on the return between two looks
        bad_times, bad_trail = lane_tail.bad_looks(
            looked, "200", was.bad if was else None, kept=REFUSED
        )
        unseen = excursions(
            state, svc, node, looked, _closed_answer, lag_hi, known, status_us,
            unseen_within, seconds_us(settings.node_clock_s), skew, counts_dead=True,
            bad_times=bad_times, unbegun=unbegun, reach_us=sync_reach, silent=silent,
        )  # fmt: skip
        serves, serving = lane_tail.serving(
            serves, exists, unseen.gaps, was.serving if was else None
        )
        earlier = unseen.earlier
        # the health check counts a dead pod's endpoint until the slice drops it: blind here
        died = died_unprogrammed(state, svc, node, settings, lag_hi, looked, "200", 0, looks)
        serves = dead_first(serves, died)
        # and the one it counted alone crashed before the sync that dropped it (replay.solecrash)
        serves = dead_first(serves, (_sole_crash(state, svc, node, settings, lag_hi, looked), []))
        if silence:
            inferred, _ = _inferred_serves(state, svc, node, settings, eps, accept, lag_hi, looks)
            inside = Tri(silence, silence)
            serves = t_or(t_and(serves, t_not(inside)), t_and(inferred, inside))
            earlier = intersect(earlier, complement(silence))  # F inferred there
        # the health check counts a dead pod's endpoint: no local pod up, no serving
        up = pods_up(
            state, svc, node, skew_us=skew, clock_us=seconds_us(settings.node_clock_s),
            status_us=status_us, program_us=seconds_us(settings.slice_lag_s) + lag_hi,
            lag_us=lag_hi, health=looked, looks=looks, sync_reach_us=sync_reach,
            sync_span_us=seconds_us(settings.sync_span_s),
        )  # fmt: skip
        if up is not None:
            serves = t_and(serves, up)
        carried = Carried(steps_trail, tri_trail, bad_trail, serving, silence_trail)
        return (serves, True, health, earlier, doubt), carried
    inferred, synced = _inferred_serves(state, svc, node, settings, eps, accept, lag_hi, looks)
    moved: list[Iv] = []
    if pte and not known:
        # the gate on by its default alone (1.26-1.27) may have been turned off: kube-proxy
        # then forwarded to the ready endpoints only, closing on a ready -> serving-terminating
        # change; a window found without it may have opened there (replay.gate_unlooked)
        off, _ = _inferred_serves(state, svc, node, settings, eps, ("ready",), lag_hi, looks)
        moved = gate_doubt(inferred, off)
    return (inferred, synced, [], moved, None), NOTHING_CARRIED


def _closed_answer(value: str) -> bool:
    """A health-check answer that may have seen kube-proxy's sync of an endpoint loss: no 200,
    and no refused or reset connection (kube-proxy restarting: `proxy.REFUSED`)."""
    return value != "200" and value not in REFUSED


def _gate_doubt(
    state: FoldState, svc: ServiceRef, node: str, lo: int, lag_hi: int, alive: Tri, early_us: int
) -> Tri | None:
    """Where F is possible only because a ProxyTerminatingEndpoints gate that may be on (1.22-
    1.25: proxy.pte_possible) kept a serving-terminating local pod forwarded: while the node's
    endpoints were serving-terminating (as kube-proxy may have read them, within its lag) and a
    local pod was up. The health check answers 503 there either way (it never counts
    terminating endpoints), so it proves no gap; with no serving endpoint left, the gate
    forwards nothing and the 503 stands. None where the endpoints never were so."""
    steps = endpoint_steps(state, svc, node, ("serving-terminating",))
    if not any(s.value for s in steps):
        return None
    kept = t_and(tri_from_steps(read_early(shifted(steps, lo, lag_hi), early_us), False), alive)
    return Tri(kept.possible, []) if kept.possible else None


def _silent_down(down: list[Iv], health: list[Sample]) -> Tri:
    """Where the node surely and possibly answered nothing: `down`, the stretches of silent
    health looks its Node's status confirms as the node down (replay.proxy.silent_stretches
    of `health`), possibly from the last answer before the first silent look, surely from
    that look (a look describes the moment it was sent) to the next answer."""
    if not down:
        return Tri([], [])
    sure = []
    for iv in down:
        i = bisect_left(health, iv.start, key=AT_US)
        first = next((h.at_us for h in islice(health, i, None) if silent(h.value)), iv.end)
        if first < iv.end:
            sure.append(Iv(first, iv.end))
    return Tri(down, sure)


def _inferred_serves(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    eps: list[Sample],
    accept: tuple[str, ...],
    lag_hi: int,
    looks: SyncIndex,
) -> tuple[Tri, bool]:
    """F without probes: `inferred_forwarding`, on a node whose Node object is Ready. The
    flag: the sync metrics bounded it."""
    forwards, synced = inferred_forwarding(state, svc, node, settings, eps, accept, lag_hi, looks)
    ready_node = tri_from_steps(node_ready_steps(state, svc.cluster, node, settings), True)
    # a Node relist passed over: its Ready condition is unknown there (replay.relisted)
    unseen = node_stretches(state, svc.cluster, node, settings)
    ready_node = unknown_over(ready_node, unseen, possible=True)
    return t_and(forwards, ready_node), synced


def inferred_forwarding(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    eps: Sequence[Sample],
    accept: tuple[str, ...],
    lag_hi: int,
    looks: SyncIndex,
) -> tuple[Tri, bool]:
    """kube-proxy forwarding to a serving local pod, without probes: the endpoints (those in
    `accept`) and the local pods shifted by kube-proxy's lag (`lag_hi` at most; bounded by its
    sync metrics where scraped: `looks`, the node's). The flag: the sync metrics bounded it
    (the proxy lane's segments draw the same: replay.programmed_lane)."""
    lo = seconds_us(settings.proxy_lag_s[0])
    listed = listed_at(state, svc)
    fwd, fwd_initial = backdated(
        endpoint_steps(state, svc, node, accept), listed, seconds_us(settings.list_s)
    )
    # kube-proxy's own metrics, where scraped, bound when each change was programmed
    reach = reach_us(settings)
    span = seconds_us(settings.sync_span_s)
    # without them, kube-proxy may have read each change up to the watch skew before the
    # recorder's watch delivered it (the watch skew's own definition)
    early = 0 if looks.looks else seconds_us(settings.watch_skew_s)
    fwd = read_early(fwd, early)
    forwarding = tri_from_steps(
        programmed(fwd, looks, lo, lag_hi, reach, span_us=span), fwd_initial
    )
    per_pod = constant(False)
    seen = [e.at_us for e in eps] if looks.looks else []
    list_us = seconds_us(settings.list_s)
    for pod in local_pods(state, svc, node):
        lane = state.pods.get((svc.cluster, svc.namespace, pod), [])
        if not lane:
            # no Pod object seen (a recording without Pods): nothing says the pod died before
            # its endpoint left the slice, which `forwarding` reads; F is not read as false
            per_pod = constant(True)
            break
        known = with_listing(state, svc, pod, lane, listed, list_us)
        serves = pod_serves(
            known, accept, listed, lo, lag_hi, settings, looks, reach, seen, early_us=early
        )
        per_pod = t_or(per_pod, serves)
    # only the metrics bound both ends: a health 503 (complete False) says "not yet" only
    return t_and(forwarding, per_pod), any(x.complete for x in looks.looks)


def lanes(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    lag_hi: int,
    served: Serves | None = None,
    silence_was: SilenceTrail | None = None,
    trails: Looks | None = None,
    times_was: TimesTrail | None = None,
) -> Lanes:
    """R and F of one (service, node); `served`: `serves_signal` of the same, when the caller
    has it (replay.node_cache keeps it while what it reads stands); `silence_was`: the
    health lane's silent stretches as the node's last call found them (`Lanes.silence`:
    replay.lane_tail resumes them); `trails`: its lanes as `observed` gave them
    (lane_tail.looks); `times_was`: its reason samples' times as its last call found them
    (`Lanes.times_trail`: lane_tail.times carries them on)."""
    routed, r_measured = routed_signal(state, svc, node, settings)
    if served is None:
        served = serves_signal(state, svc, node, settings, lag_hi)
    serves, f_measured, reasons, earlier, doubt = served
    if (
        f_measured
        and ccm_mode(state, svc, settings) == "node"
        and not pod_targeted(state, (svc, node))
    ):
        # a target the LB's health checks passed proves kube-proxy forwarded (replay.checked)
        targets = lane_tail.looks(state, "target", svc, node, settings, trails)
        lead = check_lead(state, svc)
        proofs = passed_checks(targets, lead)
        if proofs:
            stops = stoppers(state, svc, node, settings)
            serves = proven_serving(serves, proofs, stops)
            routed = proven_unrouted(routed, serves, targets, lead, stops)
    closing = None
    if doubt is not None:
        closing, serves = serves, t_or(serves, doubt)
    eps = state.endpoints.get((svc, node), [])
    times, times_trail = lane_tail.times(reasons, times_was)
    pte = pte_enabled(state, svc.cluster, node, settings)
    accept = ("ready", "serving-terminating") if pte else ("ready",)
    forwardable = endpoint_steps(state, svc, node, accept)
    health = lane_tail.looks(state, "health", svc, node, settings, trails)
    # for the classes, an unconfirmed timeout is no unreachable node (silent_stretches)
    lane = state.nodes.get((svc.cluster, node), [])
    grace = seconds_us(settings.node_grace_s)
    (_, unknown), silence = lane_tail.silences(health, lane, grace, silence_was)
    health = unconfirmed_carried(health, unknown)
    over = stretches(state, svc, settings)
    if over:  # a watch relist passed over these lanes: unknown there (replay.relisted)
        routed, serves = unknown_lanes(
            state, svc, node, settings, (routed, serves), r_measured=r_measured, pte=pte, over=over
        )
        if closing is not None:
            closing = unknown_lanes(
                state, svc, node, settings, (routed, closing), r_measured=r_measured, pte=pte,
                over=over,
            )[1]  # fmt: skip
    routed = while_local(routed, state, svc, lag_hi)  # no gap where it was not Local
    return Lanes(
        routed, serves, r_measured and f_measured, reasons, eps, times, forwardable, health,
        earlier, closing, silence, times_trail,
    )  # fmt: skip


def _ready_times(state: FoldState, svc: ServiceRef, node: str) -> list[list[int]]:
    """When each local pod was seen ready (replay.syncorder.brought_back)."""
    return [
        [p.at_us for p in lane if p.state == "ready"] for _, lane, _ in pod_lanes(state, svc, node)
    ]
