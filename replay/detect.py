"""Detection: gap windows (R and not F) per (service, node), classified, with uncertainty.

The signals come from replay.lanes (what each source measured or what is inferred); a window is
a maximal interval where R and not F is possible, `certain` when some part of it is sure.
docs/semantics.md has the rules.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from itertools import islice
from typing import NamedTuple

from gapwatch.recorder.progresslines import ticking
from gapwatch.replay.accessed import Proof, access_proofs, decided
from gapwatch.replay.assumptions import DEFAULTS, DetectSettings, seconds_us
from gapwatch.replay.chains import (
    Chains,
    begun_by,
    first_holding,
    first_overlapping,
    first_start_from,
    holding,
    plain,
    skip_ended,
)
from gapwatch.replay.closedlook import closed_looks, death_past_close, gate_open
from gapwatch.replay.context import alive_steps, ccm_mode, local_pods, nodes_of, pod_lanes
from gapwatch.replay.counted import counted_dead
from gapwatch.replay.counted_refusal import rejected_uncounted
from gapwatch.replay.counted_rise import dead_count_unordered, rise_counted_dead
from gapwatch.replay.deaths import death_span, stopped_while_up
from gapwatch.replay.failopen_rise import failed_open_inside
from gapwatch.replay.fold import AT_US, FoldState, Sample, horizon, lb_facing, sorted_lane
from gapwatch.replay.impact import access_impact
from gapwatch.replay.inferred_close import close_before_rise, ever_up, rules_gone
from gapwatch.replay.inferred_named import InferredLanes, named_inferred
from gapwatch.replay.lags import lb_drop_lag
from gapwatch.replay.lane_order import in_time
from gapwatch.replay.lanes import Lanes, lanes
from gapwatch.replay.leftover import dead_left_listed, dead_left_unsynced
from gapwatch.replay.measure import measured_settings
from gapwatch.replay.membership import pod_targeted
from gapwatch.replay.model import ServiceRef, Window, WindowClass
from gapwatch.replay.modeshape import look_readings, refusal_readings, refused_as_rules
from gapwatch.replay.nodealone import node_alone
from gapwatch.replay.nodemark import marked_down
from gapwatch.replay.nodeup import named_down_before_up
from gapwatch.replay.observed import newest_looks
from gapwatch.replay.opener import (
    NODE_DOWN,
    answered,
    answered_in,
    first_unserved,
    forwarded_at_start,
    nodeport_went_silent,
    unserved_inside,
    up_unserved_at,
    went_down_silent,
)
from gapwatch.replay.opener import holds as _holds
from gapwatch.replay.orphans import orphaned_by
from gapwatch.replay.podexit import named_exit
from gapwatch.replay.portsilent import port_went_silent
from gapwatch.replay.proxy import (
    probe_period,
    proxy_lag_hi,
    pte_by_default,
    pte_enabled,
    pte_known,
    pte_possible,
    pte_stated,
    pte_sure,
)
from gapwatch.replay.registered_listing import returned_for_listing
from gapwatch.replay.relisted import node_stretches, stretches, touching
from gapwatch.replay.reported_death import forwarded_through
from gapwatch.replay.routed import fail_open, unseen_registrations
from gapwatch.replay.signals import (
    HI,
    LO,
    Iv,
    Step,
    Tri,
    intersect,
    reaching_back,
    t_and,
    t_not,
    value_at,
)
from gapwatch.replay.termsync import Stop, synced_before_death
from gapwatch.replay.undecided import (
    CBD,
    NNR,
    PGBD,
    RBF,
    Ordering,
    also_classes,
    death_or_close,
    death_unordered,
    health_check_drop_floor,
    hidden_not_ready,
    lb_excursion,
    listed_inside,
    opened_before_ready,
    rules_gone_unordered,
    rules_left_unordered,
    times_of,
    unseen_lb_excursion,
    unseen_reopening,
    unseen_return,
)
from gapwatch.replay.unprogrammed_rise import registered_unprogrammed
from gapwatch.replay.unseen import (
    bad_looks,
    death_earliest,
    death_ranges,
    death_spans,
    listed_at,
    pod_deaths,
    reported_stops,
    terminating_deaths,
    terminating_spans,
)


def classify(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lanes_: Lanes,
    at_us: int,
    alive: list[Step],
    alive_initial: bool = False,
    since_us: int | None = None,
    settings: DetectSettings = DEFAULTS,
    until_us: int | None = None,
    look_ahead: bool = True,
    deaths: list[int] | None = None,
    lb_opened: bool = False,
    proxy_opened: bool = False,
    drop_lag: int | None = None,
    by_default: bool = True,
    refusal: bool | None = None,
) -> WindowClass:
    """The cause at the window's start (docs/semantics.md); the start lies in
    [`since_us`, `at_us`]. `look_ahead`: the start may be an LB change that followed an
    EndpointSlice change seen up to the watch skew late (False: it is kube-proxy closing,
    whose cause was seen before it). `deaths`: for an unproven window that opens with F's fall
    (a death explains kube-proxy's side, not the LB's), when local pods were seen dying
    (replay.unseen.pod_deaths). `lb_opened`: the LB's routing began after kube-proxy surely
    stopped serving (R's rise is the later one at the latest instants the samples allow), so
    the window opened with the LB, not with the pods that stopped before it. `drop_lag`: the
    median measured lag of the LB dropping a node that lost its ready endpoints
    (replay.lags.lb_drop_lag; None: too few measurements; a node-driven LB then takes the
    least its health check allows, replay.undecided.health_check_drop_floor).
    `proxy_opened`: the LB surely routed before kube-proxy's fall opened the window; the
    change behind a closing is an endpoint leaving, so looking past the start can find that
    cause seen late, never a ready endpoint (a replacement arriving is what ends the
    window). `by_default`: a handover under ProxyTerminatingEndpoints on by the version's
    default alone (proxy.pte_by_default) reads as the terminating pod's death, the likelier
    reading (False: as with the gate off, the other reading `windows_from` names)."""
    node_lane = state.nodes.get((svc.cluster, node), [])
    skew = seconds_us(settings.watch_skew_s)

    def ran_on() -> bool:
        """A window kube-proxy's side opened, whose local pods all stopped while the node still
        ran (their kubelet reported each stop): F fell before the node's mark (replay.deaths)."""
        since = at_us if since_us is None else since_us
        clock = seconds_us(settings.node_clock_s)
        return not lb_opened and stopped_while_up(state, svc, node, since, at_us + skew, clock)

    def orphaned() -> bool:
        """A local pod removed in the start range as PodGC removes the pods of a deleted Node,
        the deletion seen next (replay.orphans), and no look answered from the removal on."""
        lo = at_us if since_us is None else since_us
        seen_by = (at_us if until_us is None else until_us) + skew
        lanes_of = [lane for _, lane, _ in pod_lanes(state, svc, node)]
        removed = orphaned_by(lanes_of, node_lane, lo, at_us + skew, seen_by)
        if removed is None:
            return False
        gone = next(n.at_us for n in node_lane if n.at_us > removed and n.value == "Deleted")
        looks = (lanes_.reason_samples, lanes_.health)
        return not any(answered_in(lane, min(removed, at_us), gone) for lane in looks)

    # (a node without a Node lane has no status to read: the usual case, read first)
    looks = (lanes_.reason_samples, lanes_.health)
    lo = at_us if since_us is None else since_us
    if (
        node_lane
        and (
            value_at(node_lane, at_us) in _NODE_DOWN
            or _deleted_by(node_lane, at_us, settings, looks)
            or orphaned()
            # the pods' fall in the start range was the node controller's mark of a NotReady
            # seen up to the watch skew after it (replay.nodemark)
            or marked_down(state, svc, node, (lo, at_us), settings, looks)
        )
        and not ran_on()
    ):
        return "node-not-ready"
    if lanes_.health and _unreachable(lanes_.health, at_us, until_us):
        return "node-not-ready"
    if pod_targeted(state, (svc, node)):
        # IP targets: no kube-proxy on the path; the pods were not up yet, or no longer
        started = alive_initial or any(s.value for s in alive if s.earliest <= at_us)
        return "pod-gone-before-deregistered" if started else "registered-before-forwarding"
    # the EndpointSlice change behind a start may be seen up to the watch skew after it;
    # not while the LB surely fails open: its routing then follows no EndpointSlice change
    ahead = look_ahead and not fails_open_at(state, svc, at_us)
    ready = value_at(lanes_.eps, at_us + (skew if ahead else 0)) == "ready"
    if not ready and lb_opened and since_us is not None:
        # the LB took the node back while a ready endpoint was listed at its latest possible
        # rise: an endpoint leaving seen after it is no cause of a registration (a CCM registers
        # a node for its ready endpoints, a health check passes on a ready one counted), the
        # look-ahead finds only a ready endpoint seen late (`windows_from` names the leaving)
        ready = value_at(lanes_.eps, at_us) == "ready"
        # an endpoint listed ready in the rise range that kube-proxy never programmed: the
        # registration is its, and nothing was forwarded to close (replay.unprogrammed_rise)
        ready = ready or registered_unprogrammed(lanes_.eps, lanes_.serves, since_us, at_us)
    if ready and proxy_opened:
        # kube-proxy closed somewhere in [since_us, at_us]: an endpoint leaving anywhere in that
        # range explains it (a late look's latest start can lie past the replacement's arrival)
        ready = value_at(lanes_.eps, at_us) == "ready"
        if look_ahead and since_us is not None:  # a sure start: [since_us, at_us] is its range
            ready = ready and (
                _ready_through(lanes_.eps, since_us, at_us)
                # or an endpoint-driven LB took the node back inside it, for a ready endpoint
                # listed there: the start came after that listing (replay.registered_listing)
                or (
                    ccm_mode(state, svc, settings) == "endpoint"
                    and not fails_open_at(state, svc, since_us)
                    and returned_for_listing(
                        lanes_.eps, in_time(state, "target", svc, node), since_us, at_us, skew
                    )
                )
            )
        # kube-proxy closes after the EndpointSlice change it read, which the recorder may
        # see up to the watch skew later: an endpoint leaving seen that soon is the close's cause
        ready = ready and _ready_through(lanes_.eps, at_us, at_us + skew)
    if (
        ready
        and until_us is not None
        and _went_down(state, svc, node, at_us, until_us, settings, looks)
    ):
        return "node-not-ready"
    if (
        not lanes_.reason_samples
        and not lanes_.health
        and node_alone(state, svc, node, (lo, at_us), settings)
    ):
        return "node-not-ready"  # F could fall only with the Node, no probe (replay.nodealone)
    reason = _false_reason(lanes_.reason_samples, lanes_.reason_times, at_us)
    # refused: the dead pod's rules, where kube-proxy's mode DROPs without them (replay.proxymode)
    # and the Service had a usable endpoint somewhere, else it may be its REJECT (replay.rejected)
    # unless its health check shows it holding a ready local endpoint (replay.counted_refusal)
    if (
        reason in ("refused", "reset")
        and refused_as_rules(state, svc, node, (_reasons(lanes_), at_us), settings, refusal)
        and not rejected_uncounted(
            state, svc, node, _reasons(lanes_), lanes_.health, at_us, settings
        )
    ):
        return "pod-gone-before-deregistered"
    if (
        not lb_opened
        and since_us is not None
        and _pods_stopped_first(lanes_, alive, since_us, at_us, skew)
    ):
        return "pod-gone-before-deregistered"
    if (
        deaths is not None
        and since_us is not None
        and _counted_at_death(state, svc, node, lanes_, (since_us, at_us), settings)
    ):
        return "pod-gone-before-deregistered"
    if (
        lb_opened
        and since_us is not None
        and rise_counted_dead(state, (svc, node), lanes_, (since_us, at_us), settings)
    ):
        return "pod-gone-before-deregistered"
    if (
        deaths is not None
        and since_us is not None
        and (
            _died_forwarded(lanes_, deaths, since_us, at_us, skew)
            or _reported_dead(state, svc, node, lanes_, deaths, (since_us, at_us), settings)
        )
        and not _rules_gone_before(lanes_, deaths, since_us, state, svc, node, settings)
        and not _dropped_terminating(state, (svc, node), settings, lanes_.health, deaths, since_us)
    ):
        return "pod-gone-before-deregistered"
    inferred = not lanes_.reason_samples
    if (
        inferred
        and not _holds(alive, at_us, alive_initial)
        and ever_up(alive, at_us, alive_initial, lanes_.forwardable)
        and not _closed_first(lanes_, alive, at_us, skew)
        # kube-proxy surely removed the dead pod's rules by the window's earliest start
        and not rules_gone(
            lanes_.forwardable, lanes_.eps, lo, at_us, proxy_lag_hi(state, svc, settings) + skew
        )
    ):
        return "pod-gone-before-deregistered"
    # the Node's NotReady may be seen up to the watch skew after the node controller wrote it,
    # as `_went_down` reads it (random 25,000,548 node-002: seen 0.16 s past the grace)
    grace = seconds_us(settings.node_grace_s) + skew
    if lanes_.health and node_lane and went_down_silent(lanes_.health, node_lane, at_us, grace):
        return "node-not-ready"  # the node stopped answering at the start (replay.opener)
    if not lanes_.health and port_went_silent(state, svc, node, (lo, at_us), settings):
        return "node-not-ready"  # its NodePort, over rules kube-proxy had (replay.portsilent)
    if drop_lag is None and ccm_mode(state, svc, settings) == "node":
        drop_lag = health_check_drop_floor(settings)  # none measured: what its checks allow
    if ready and (
        look_ahead
        or drop_lag is None
        or (since_us is not None and _ready_through(lanes_.eps, since_us, at_us + skew))
        or _dropped(lanes_.eps, at_us, drop_lag)
    ):
        # ready through the whole start range (and the watch skew after it, where a loss
        # behind the close could still be seen): kube-proxy closed with the replacement listed
        # and not yet programmed (the class as defined), whatever the LB did before
        seen = at_us + (skew if ahead and not proxy_opened else 0)
        if _handed_over(lanes_.eps, seen) and (
            pte_stated(state, svc.cluster, node, settings)
            or (
                by_default
                and reason != "timeout"  # a NodePort look found no rules: the gate was off
                and pte_by_default(state, svc.cluster, node, settings)
            )
        ):
            return "pod-gone-before-deregistered"
        span = (at_us if since_us is None else since_us, seen)
        if _held_rules(state, svc, node, lanes_, span, settings):
            return "pod-gone-before-deregistered"
        return "registered-before-forwarding"
    return "closed-before-deregistered"


def _naming(
    also: tuple[WindowClass, ...], cls: WindowClass, other: WindowClass
) -> tuple[WindowClass, ...]:
    """`also` with `other` named as possible too, unless it is the window's class or named."""
    return also if other == cls or other in also else (*also, other)


def fails_open_at(state: FoldState, svc: ServiceRef, at_us: int) -> bool:
    """Every registered target of the Service was surely unhealthy at `at_us`: the LB (AWS)
    routed to all of them, whatever their endpoints (replay.routed.fail_open)."""
    return any(iv.start <= at_us < iv.end for iv in fail_open(state, svc).definite)


def _ready_through(eps: Sequence[Sample], lo_us: int, hi_us: int) -> bool:
    """The node's endpoints were ready at `lo_us` and stayed so until `hi_us`."""
    i = bisect_right(eps, lo_us, key=AT_US)
    if not i or eps[i - 1].value != "ready":
        return False
    # the lane runs forward in time (fold keeps an endpoints lane's times non-decreasing,
    # whatif builds it from changes in time order): the samples up to `hi_us` are a run
    j = bisect_right(eps, hi_us, lo=i, key=AT_US)
    return all(s.value == "ready" for s in islice(eps, i, j))


def _handed_over(eps: Sequence[Sample], at_us: int) -> bool:
    """The node's run of ready endpoints holding `at_us` began straight from serving-terminating
    ones: with ProxyTerminatingEndpoints kube-proxy forwarded to those until it programmed the
    ready ones, so its rules for the node were never empty; a gap before that programming is
    the terminating pod's death under its rules, not a listed endpoint left unprogrammed."""
    k = bisect_right(eps, at_us, key=AT_US) - 1
    if k < 0 or eps[k].value != "ready":
        return False
    while k > 0 and eps[k - 1].value == "ready":
        k -= 1
    return k > 0 and eps[k - 1].value == "serving-terminating"


def _held_rules(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lanes_: Lanes,
    span: tuple[int, int],
    settings: DetectSettings,
) -> bool:
    """Read from the health check (no NodePort lane): the node's endpoints listed a ready one
    at every EndpointSlice version from kube-proxy's largest lag before `span` to its end.
    kube-proxy programs whole versions and forwards to every ready endpoint (with or without
    ProxyTerminatingEndpoints), so whatever version it held anywhere in `span` gave it rules
    for the node: it had not closed, and a gap there had rules with no live pod behind them
    (`pod-gone-before-deregistered`), not a listed endpoint left unprogrammed. Only where the
    health check agrees, counting ready endpoints (200) from the look before `span` to the
    one after it: a 503 says kube-proxy had not programmed them (a lag past the bound). Where
    a NodePort lane exists its own looks say whether rules were there (a timeout: none)."""
    if state.probes["nodeport"].get((svc, node)) or not lanes_.health:
        return False
    lo, hi = span
    if not _ready_through(lanes_.eps, lo - proxy_lag_hi(state, svc, settings), hi):
        return False
    # and the health check counted ready endpoints from before the span to the look after it
    # (a 503 there: kube-proxy had not programmed them, its lag past the bound)
    # (the lane keeps changes only: a run of 200s goes on to the next sample's `prev_us`)
    health = lanes_.health
    i = bisect_right(health, lo, key=AT_US)
    if not i or health[i - 1].value != "200":
        return False
    if i == len(health):
        return True
    after = health[i]
    return after.at_us > hi and after.prev_us is not None and after.prev_us >= hi


def _ready_inside(eps: Sequence[Sample], lo_us: int, hi_us: int) -> bool:
    """The node's endpoints were ready at some instant of [`lo_us`, `hi_us`]."""
    i = bisect_right(eps, lo_us, key=AT_US)
    j = bisect_right(eps, hi_us, lo=i, key=AT_US)  # the lane runs forward in time
    return any(s.value == "ready" for s in islice(eps, max(i - 1, 0), j))


def _returned_unprogrammed(
    lanes_: Lanes,
    polls: Sequence[Sample],
    start_us: int,
    end_us: int,
    skew_us: int,
    eps_at: Sequence[int],
    polls_at: Sequence[int],
) -> bool:
    """An unproven window read as a pod's death: the node's endpoints lost their ready ones
    and came back with no LB poll between (`unseen_lb_excursion`: an endpoint-driven CCM may
    have dropped the node and taken it back unseen), the return listed inside the window,
    and the NodePort's last look before that listing found kube-proxy with no rules (a
    timeout: the dead pod's rules gone, the replacement not programmed), or (rule AA) the
    endpoints listed nothing for the node in it (its rules gone once kube-proxy synced that,
    PTE or not) and no look of it fell between that listing and the return that says anything
    of the rules (`_rules_looked`; a look before the listing saw what the listing of nothing
    then took away). The LB's return follows the listing it
    reacts to, so it may have met a listed endpoint kube-proxy had not programmed:
    `registered-before-forwarding`."""
    if not unseen_lb_excursion(
        lanes_.eps, polls, start_us, end_us, skew_us, eps_at=eps_at, polls_at=polls_at
    ):
        return False
    found = lb_excursion(lanes_.eps, end_us, skew_us, eps_at=eps_at)
    if found is None:
        return False
    lost, came = found
    if not start_us < came < end_us:
        return False
    if value_at(lanes_.reason_samples, came) == "timeout":
        return True
    # rule AA: no look after the excursion's first `none` listing says what kube-proxy held at
    # the return; a look before it saw rules the listing of nothing then took away
    j = bisect_right(eps_at, lost)
    k = bisect_left(eps_at, came, lo=j)
    none_at = next((s.at_us for s in islice(lanes_.eps, j, k) if s.value == "none"), None)
    return none_at is not None and not _rules_looked(lanes_, none_at, came)


def _rules_looked(lanes_: Lanes, lo_us: int, hi_us: int) -> bool:
    """Whether a look of the lane F is measured from fell in (`lo_us`, `hi_us`] that says
    something of kube-proxy's rules: any NodePort answer, a health check's 200; not a status
    other than 200 (kube-proxy's count of ready endpoints, none: the same with the rules of a
    terminating or dead pod as with none). A lane keeps changes, so a run that holds at `lo_us`
    goes on to the next sample's `prev_us`."""
    samples, times = lanes_.reason_samples, lanes_.reason_times

    def says(value: str) -> bool:
        return not (value.isdigit() and value != "200")

    i = bisect_right(times, lo_us)
    if i < len(samples) and i and says(samples[i - 1].value):
        last = samples[i].prev_us
        if last is not None and lo_us < last <= hi_us:
            return True
    return any(says(s.value) for s in islice(samples, i, bisect_right(times, hi_us, lo=i)))


def _dropped(eps: Sequence[Sample], at_us: int, drop_lag_us: int) -> bool:
    """An unproven window opened by kube-proxy closing, when the endpoints were ready again:
    `registered-before-forwarding` needs the LB to have dropped the node unseen (between two
    polls) before kube-proxy closed, and taken it back before kube-proxy opened. Likely only
    where the endpoints stayed not ready longer than the LB's median measured drop lag."""
    i = bisect_right(eps, at_us, key=AT_US)
    back = next((j for j in range(i - 1, -1, -1) if eps[j].value == "ready"), None)
    if back is None or back == 0 or eps[back - 1].value == "ready":
        return True  # no loss of the ready endpoints before it: nothing to decide
    lost = back - 1
    while lost > 0 and eps[lost - 1].value != "ready":
        lost -= 1
    return eps[back].at_us - eps[lost].at_us > drop_lag_us


_NODE_DOWN = NODE_DOWN


def _went_down(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    at_us: int,
    until_us: int,
    s: DetectSettings,
    looks: Sequence[Sequence[Sample]] = (),
) -> bool:
    """With its endpoints still ready, the Node turned NotReady (or was deleted) while the
    window was still open, within node_grace_s of its start: the node controller marks a node
    that stopped answering only that long after, so the node itself went down at the start. The
    update may be seen up to the watch skew after it was written, like any watched change."""
    lane = state.nodes.get((svc.cluster, node))
    if not lane:
        return False  # no Node status seen: none turned NotReady
    skew = seconds_us(s.watch_skew_s)
    # the LB's drop that ended the window may be the CCM's reaction to that very mark, which
    # the recorder may see up to the watch skew after it: as late past the window's end
    limit = min(until_us + skew, at_us + seconds_us(s.node_grace_s) + skew)
    down = next((n.at_us for n in lane if at_us < n.at_us <= limit and n.value in _NODE_DOWN), None)
    if down is None:
        return False
    # a look the node answered from the start on (a refused connection: kube-proxy's rules with
    # no pod behind them; an HTTP status) shows it up then: it went down later, not at the start.
    # A lane's last run goes on to its newest look (a heartbeat, the prober's last look)
    newest = newest_looks(state, svc, node, s)
    return not any(answered_in(lane_, at_us, down) for lane_ in (*looks, newest))


def _deleted_by(
    lane: Sequence[Sample],
    at_us: int,
    s: DetectSettings,
    looks: Sequence[Sequence[Sample]] = (),
) -> bool:
    """The Node's deletion seen up to the watch skew after `at_us`: a deletion carries no
    write time of its own (replay.owntime), so the watch may show it that late. Not where a
    look of `looks` was answered (an HTTP status, a refused or accepted connection) from
    `at_us` until the deletion was seen: the node and its kube-proxy were up at the start,
    so the node went down after it, not before (as `_went_down` reads a NotReady)."""
    if value_at(lane, at_us + seconds_us(s.watch_skew_s)) != "Deleted":
        return False
    if value_at(lane, at_us) == "Deleted":
        return True
    seen = next(n.at_us for n in lane if n.at_us > at_us and n.value == "Deleted")
    return not any(answered_in(lane_, at_us, seen) for lane_ in looks)


def _unreachable(health: Sequence[Sample], at_us: int, until_us: int | None = None) -> bool:
    """The health check in effect at the start (or, if that one answered 200, the next one
    sent before the window's end `until_us`) got no answer at all: the node is down while its
    Node object may still say Ready (the node controller marks it NotReady only after
    node_grace_s). Only a node that answered before
    went down: one that never answered since the recording began is joining (its kube-proxy not
    up yet; the node may already say Ready), not down."""
    i = bisect_right(health, at_us, key=AT_US)
    k = i - 1 if i else -1
    if k >= 0 and health[k].value == "200" and i < len(health):
        # the lane keeps its changes only: the run of 200s ends at the next sample's `prev_us`
        # (the last look that saw it), so a check after `at_us` may have answered 200 too
        last = health[i].prev_us
        if last is not None and last > at_us:
            return False
    if k < 0 or health[k].value == "200":
        later = i < len(health) and (until_us is None or health[i].at_us <= until_us)
        k = i if later else -1
    if k < 0 or answered(health[k].value):
        return False
    return any(answered(s.value) for s in health[:k])


def _pods_stopped_first(
    lanes_: Lanes, alive: list[Step], since_us: int, at_us: int, skew_us: int
) -> bool:
    """The local pods all stopped inside the start's range while kube-proxy still had endpoints
    to forward to: it closes only after the EndpointSlice change (which follows the pods'), so
    the window opened because the pods were gone, whatever the next probe saw (a crash, or a
    serving-terminating pod killed under ProxyTerminatingEndpoints). The Pod update that says
    so may be seen up to the watch skew after the start, like the EndpointSlice's; and the
    endpoints were forwardable at the range's start (replay.opener.forwarded_at_start)."""
    for step in alive:
        if step.latest > at_us + skew_us:
            break
        if not step.value and step.latest >= since_us - skew_us:
            # the endpoints kube-proxy forwarded to were there before the start's range: ones
            # that turned forwardable inside it belong to a pod that became ready (its Pod
            # update seen late), not to the pods that stopped
            lo = min(since_us, step.latest - skew_us)
            return (
                _holds(lanes_.forwardable, lo, False)
                and _holds(lanes_.forwardable, step.latest - skew_us, False)
                and forwarded_at_start(lanes_.forwardable, since_us)
                and not _fell_serving(lanes_, step.latest, skew_us)
            )
    return False


def _fell_serving(lanes_: Lanes, seen_us: int, skew_us: int) -> bool:
    """The endpoints stopped being forwardable, within the watch skew of the Pod update seen at
    `seen_us` that says the pods stopped, to a listing that still showed them serving: a
    deletion's, not the stop's (the slice's `serving` is the readiness the pod last reported),
    so only the times order it against the stop, and within the skew they do not."""
    fall = next(
        (s.latest for s in lanes_.forwardable if not s.value and s.latest > seen_us - skew_us),
        None,
    )
    return (
        fall is not None
        and fall <= seen_us + skew_us
        and value_at(lanes_.eps, fall) == "serving-terminating"
    )


def _died_forwarded(
    lanes_: Lanes, deaths: Sequence[int], since_us: int, at_us: int, skew_us: int
) -> bool:
    """An unproven window: a local pod was seen dying inside the start's range while its
    endpoints were still forwardable (kube-proxy still sent it traffic): the likeliest cause,
    even where another local pod kept the node's endpoints ready."""
    i = bisect_right(deaths, since_us)
    return (
        i < len(deaths)
        and deaths[i] <= at_us
        and _holds(lanes_.forwardable, deaths[i] - skew_us, False)
    )


def _reported_dead(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lanes_: Lanes,
    deaths: Sequence[int],
    start: tuple[int, int],
    settings: DetectSettings,
) -> bool:
    """F read from the health check alone (no NodePort probe): the first local pod's death seen
    after the start range's beginning was reported by its kubelet (finishedAt) as happening
    inside the range, however late the update saying so was seen (a kubelet's status writes
    queue behind its API rate limit), while its endpoints were forwardable: the health check
    counts a dead pod's endpoint until the EndpointSlice drops it, so nothing else shows the
    death opening the window (`_died_forwarded` reads the update's time). Likewise with no
    probe at all, where the endpoints were listed ready from kube-proxy's lag bound before the
    death's earliest instant to the start range's end: kube-proxy surely forwarded to them
    whatever its gate, so only the death made F fall (a serving-terminating one is forwarded to
    only under ProxyTerminatingEndpoints, which without a look may have been off: kube-proxy
    then closed first; replay.inferred_close); serving-terminating ones too where the gate is
    surely on (1.28 or later, or stated), and a listing the initial list found counts as held
    before it (replay.reported_death)."""
    if state.probes["nodeport"].get((svc, node)):
        return False
    if not lanes_.health:
        if lanes_.reason_samples:
            return False
        reach = proxy_lag_hi(state, svc, settings) + seconds_us(settings.watch_skew_s)
        sure = pte_sure(state, svc.cluster, node, settings)
        initial = listed_at(state, svc) + seconds_us(settings.list_s)
        return any(
            forwarded_through(
                lanes_.eps, lo - reach, start[1], sure_gate=sure, initial_by_us=initial
            )
            for lo in _reported_by(state, svc, node, deaths, start, settings)
        )
    return any(
        _holds(lanes_.forwardable, lo, False)
        for lo in _reported_by(state, svc, node, deaths, start, settings)
    )


def _reported_by(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    deaths: Sequence[int],
    start: tuple[int, int],
    settings: DetectSettings,
) -> list[int]:
    """The earliest instants of the first local pod's death seen after the start range's
    beginning, where its kubelet reported it (finishedAt) as happening by the range's end (one
    per reported stop seen then; none where the death is not so reported)."""
    since_us, at_us = start
    i = bisect_right(deaths, since_us)
    if i == len(deaths):
        return []
    clock = seconds_us(settings.node_clock_s)
    spans = (
        death_span(up, down, finished, clock, 0)[0]
        for up, down, finished in reported_stops(state, svc, node)
        if down == deaths[i] and finished is not None
    )
    return [lo for lo in spans if lo <= at_us]


def _counted_at_death(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lanes_: Lanes,
    start: tuple[int, int],
    settings: DetectSettings,
) -> bool:
    """F read from the health check alone (no NodePort probe): a local pod that may have died
    in the start range was still counted by the health check after its death's latest
    instant, so kube-proxy forwarded to it when it died (replay.counted)."""
    if not lanes_.health or state.probes["nodeport"].get((svc, node)):
        return False
    return counted_dead(
        state,
        svc,
        node,
        lanes_.health,
        start,
        clock_us=seconds_us(settings.node_clock_s),
        status_us=seconds_us(settings.pod_status_s),
        skew_us=seconds_us(settings.watch_skew_s),
        lag_hi_us=proxy_lag_hi(state, svc, settings),
        period_us=seconds_us(probe_period(state, svc)),
    )


def _rules_gone_before(
    lanes_: Lanes,
    deaths: Sequence[int],
    since_us: int,
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
) -> bool:
    """The death `_died_forwarded` reads (the first seen after `since_us`) came after a look
    inside the start's range found kube-proxy with no rules at all (a NodePort timeout): the
    latest probe look at or before the death's earliest instant (its kubelet's finishedAt,
    else the status lag before the update: replay.deaths.death_span) timed out. kube-proxy
    had already stopped forwarding to the pod (it closed with the replacement listed but not
    yet programmed, or with nothing listed), so the death took no traffic and did not open
    the window: kube-proxy's close did."""
    clock, status = seconds_us(settings.node_clock_s), seconds_us(settings.pod_status_s)
    death = deaths[bisect_right(deaths, since_us)]
    lo = death_earliest(state, svc, node, clock, status).get(death, death)
    i = bisect_right(lanes_.reason_times, lo) - 1
    return (
        i >= 0 and lanes_.reason_times[i] > since_us and lanes_.reason_samples[i].value == "timeout"
    )


def _dropped_terminating(
    state: FoldState,
    where: tuple[ServiceRef, str],
    settings: DetectSettings,
    health: Sequence[Sample],
    deaths: Sequence[int],
    since_us: int,
) -> bool:
    """The death `_died_forwarded` reads (the first seen after `since_us`) is of a pod that was
    terminating, on a kube-proxy surely without ProxyTerminatingEndpoints (configured off, or
    shown off by the probes: `pte_known`; a version's default is no proof, the gate could have
    been turned on), and after the pod turned terminating and before the start's range the
    node's health check (`health`, of `where`: the Service and node) answered 503 counting no
    ready local endpoint: kube-proxy had synced the termination, and without PTE it never
    forwards to a terminating endpoint (KEP-1669), so its rules held none of the pod from then
    on; the death took no traffic and did not open the window."""
    svc, node = where
    if (
        pte_enabled(state, svc.cluster, node, settings)
        or pte_known(state, svc.cluster, settings, node) is not False
    ):
        return False
    death = deaths[bisect_right(deaths, since_us)]
    since = _terminating_since(state, svc, node, death)
    if since is None:
        return False
    return any(since < h.at_us <= since_us and h.value == "503" and h.num == 0 for h in health)


def _terminating_since(state: FoldState, svc: ServiceRef, node: str, death: int) -> int | None:
    """When the local pod seen stopped at `death` was first seen terminating, in the run of
    terminating updates just before that stop (None: it was not terminating then)."""
    for pod in local_pods(state, svc, node):
        lane = state.pods.get((svc.cluster, svc.namespace, pod), [])
        for j, p in enumerate(lane):
            if p.at_us != death or p.state not in ("gone", "pending"):
                continue
            k = j
            while k > 0 and lane[k - 1].state == "terminating":
                k -= 1
            if k < j:
                return lane[k].at_us
    return None


def _unforwarded(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    eps: Sequence[Sample],
    deaths: Sequence[int],
    since_us: int,
    at_us: int,
    skew_us: int,
    settings: DetectSettings,
) -> set[int]:
    """The deaths in (`since_us`, `at_us`] of pods already terminating while the node had a
    ready endpoint: kube-proxy forwards to terminating endpoints only when it knows no ready
    one (KEP-1669), so such a death took traffic only if kube-proxy had not yet programmed the
    ready endpoint, which the samples do not order. A death seen after `at_us` that its kubelet
    reported inside the range (`_reported_dead` reads it) too, with the ready endpoint listed
    at `at_us`: without the gate kube-proxy drops a terminating endpoint at its first sync,
    which the samples do not order against the death either."""
    ending = set(terminating_deaths(state, svc, node))
    out = {
        d
        for d in deaths
        if since_us < d <= at_us and d in ending and value_at(eps, d - skew_us) == "ready"
    }
    late = deaths[bisect_right(deaths, since_us) :][:1]
    if (
        late
        and late[0] > at_us
        and late[0] in ending
        and value_at(eps, at_us) == "ready"
        and _reported_by(state, svc, node, deaths, (since_us, at_us), settings)
    ):
        out.add(late[0])
    return out


def _synced_first(
    state: FoldState,
    where: tuple[ServiceRef, str],
    lanes_: Lanes,
    deaths: Sequence[int],
    start: tuple[int, int],
    settings: DetectSettings,
) -> set[int]:
    """The first death seen after the start range's beginning, where kube-proxy's close may
    have come before it (replay.termsync.synced_before_death): F read from the health check
    alone (no NodePort probe), on a kube-proxy surely without ProxyTerminatingEndpoints
    (`pte_possible` false: configured or stated off, or a version without the gate), whose
    health check counted no ready local endpoint inside the range after the pod turned
    terminating. The gate off says kube-proxy drops a terminating endpoint when it syncs the
    change, which that look dates, not when the EndpointSlice lists it."""
    svc, node = where
    since_us, at_us = start
    i = bisect_right(deaths, since_us)
    if (
        i == len(deaths)
        or not lanes_.health
        or state.probes["nodeport"].get(where)
        or pte_possible(state, svc.cluster, node, settings)
    ):
        return set()
    death = deaths[i]
    since = _terminating_since(state, svc, node, death)
    if since is None:
        return set()
    clock, status = seconds_us(settings.node_clock_s), seconds_us(settings.pod_status_s)
    latest = max(
        (death_span(up, down, done, clock, status)[1]
         for up, down, done in reported_stops(state, svc, node) if down == death),
        default=death,
    )  # fmt: skip
    return synced_before_death(lanes_.health, [Stop(death, since, latest)], since_us, at_us)


def _closed_first(lanes_: Lanes, alive: list[Step], at_us: int, skew_us: int) -> bool:
    """Inferred: the endpoints stopped being forwardable before the pods stopped, so kube-proxy
    may have closed first (the cause at the earliest start the assumed lag allows)."""
    stop = next((s.latest for s in reversed(alive) if s.latest <= at_us and not s.value), None)
    if stop is None or not lanes_.forwardable:  # what-if timelines carry no endpoints lane
        return False
    return not _holds(lanes_.forwardable, stop - skew_us, False)


#: the looks that saw the node serving (a NodePort connecting, a health check answering 200)
_SERVING = ("connected", "200")


def _reasons(lanes_: Lanes) -> tuple[Sequence[Sample], Sequence[int]]:
    """The not-serving looks a window's reason is read from, and their times."""
    return lanes_.reason_samples, lanes_.reason_times


def _false_reason(samples: Sequence[Sample], times: Sequence[int], at_us: int) -> str | None:
    """The value of the not-serving sample nearest `at_us`: the last at or before it, else the
    first after it."""
    i = min(bisect_right(times, at_us), len(samples))
    for j in range(i - 1, -1, -1):  # by index: no copy of the lane's head (twice a window)
        if samples[j].value not in _SERVING:
            return samples[j].value
    for j in range(i, len(samples)):
        if samples[j].value not in _SERVING:
            return samples[j].value
    return None


def _unproven_start(
    routed: Tri,
    serves: Tri,
    pieces: Sequence[Iv],
    end: int,
    drop_at: int | None = None,
    chains: Chains | None = None,
    closed: Sequence[int] = (),
) -> tuple[int, bool]:
    """Where an unproven window is classified. Its longest piece (R and not F possible, one
    stretch of each) is where the gap most likely was; where a look saw the LB not routing to
    the node inside the window (`drop_at`), R rose again after it and only a gap after that
    look needs nothing unseen, so the longest piece after it. The piece opens at the later of
    R's rise and F's fall, each at the latest instant the samples allow (as a certain window's
    `start_latest`); F's fall no later than the first of `closed` (instants at which a look saw
    F false: replay.closedlook) after the piece's start. The flag: the opening is R's rise (see
    classify's `look_ahead`). `chains`: as `_rose_by`'s."""
    read = chains.of if chains is not None else plain
    if drop_at is not None:
        pieces = [Iv(max(p.start, drop_at), p.end) for p in pieces if p.end > drop_at] or pieces
    piece = max(pieces, key=lambda iv: min(iv.end, end) - iv.start)
    start, last = piece.start, min(piece.end, end) - 1
    fell = _fell_by(serves, start, last, chains)
    i = bisect_right(closed, start)
    if i < len(closed) and closed[i] < fell:
        fell = closed[i]  # a look in the piece saw F false: a gap holding it had opened by it
    if drop_at is not None and start >= drop_at:
        rose = min(last, first_start_from(read(routed.definite), drop_at, last))
    else:  # (only here: the rise after a seen drain is its first definite start)
        rose = _rose_by(routed, start, last, chains)
    return min(last, max(rose, fell)), rose >= fell


def _unmoved_named(
    where: tuple[FoldState, ServiceRef, str, Lanes],
    unmoved: tuple[int, bool],
    cls: WindowClass,
    also: tuple[WindowClass, ...],
    span: tuple[int, int, int | None],
    how: tuple[list[Step], bool, int | None, DetectSettings],
) -> tuple[WindowClass, ...]:
    """`also` with the reading of an unproven window at `unmoved` (where it is read without
    the health looks that saw kube-proxy closed: replay.closedlook) named, and what that
    reading's start leaves open to a death (`death_or_close`), as the window's own reading
    names it: under a gate turned on those looks saw no close. `span`: the window's earliest
    start, its end and the drain seen inside it; `how`: the local pods' lane and whether they
    were up first, the LB's drop lag, the settings."""
    state, svc, node, lanes_ = where
    since, end, drop_at = span
    alive, alive_initial, drop_lag, settings = how
    at, look = unmoved
    deaths = None if look else pod_deaths(state, svc, node)
    other = classify(
        state, svc, node, lanes_, at, alive, alive_initial, since, settings, end, look, deaths,
        look and drop_at is not None and at >= drop_at, not look, drop_lag,
    )  # fmt: skip
    also = _naming(also, cls, other)
    if look or other not in (CBD, PGBD):
        return also
    clock, status = seconds_us(settings.node_clock_s), seconds_us(settings.pod_status_s)
    skew = seconds_us(settings.watch_skew_s)
    order = Ordering(
        death_ranges(state, svc, node), death_spans(state, svc, node, clock, status), skew
    )
    pte = pte_sure(state, svc.cluster, node, settings)
    reason = _false_reason(lanes_.reason_samples, lanes_.reason_times, at)
    for more in death_or_close(other, lanes_.eps, order, since, at, pte, reason):
        also = _naming(also, cls, more)
    return also


def _registered_unprogrammed(registered: Sequence[Iv], serves: Tri, start: int, end: int) -> bool:
    """An unseen registration (a target first seen draining: routed.unseen_registrations) reaching
    into [start, end) while kube-proxy never possibly forwarded from that registration's
    earliest instant to `end`: what the window met was the LB's rise against rules never
    programmed (`registered-before-forwarding`), whatever a reading at the rise's latest instant
    says of the endpoints then (the drain came after it)."""
    for iv in registered:
        if iv.start < end and iv.end > start:
            return not intersect(serves.possible, [Iv(iv.start, end)])
    return False


def _drop_seen(
    targets: Sequence[Sample], times: list[int], routed_again: int | None, start: int, end: int
) -> int | None:
    """The last look in [`start`, `end`) that saw the LB not routing to the node, when a
    later look saw it routing again (`routed_again`: the last look that saw it routing). A look
    at the window's very start counts: the gap began after it. The lane holds changes only, so
    the last look of a not-routing run is the next sample's `prev_us`."""
    lo, hi = bisect_left(times, start), bisect_left(times, end)
    seen = [s.at_us for s in targets[lo:hi] if s.value != "healthy"]
    # the lane keeps its changes only: a run of such looks ends at the next sample's `prev_us`
    # (the last look that saw the old value, as replay.unseen.bad_looks reads it)
    for i in range(max(lo, 1), min(hi + 1, len(targets))):
        last = targets[i].prev_us
        if last is not None and start <= last < end and targets[i - 1].value != "healthy":
            seen.append(last)
    if not seen or routed_again is None or routed_again <= max(seen):
        return None
    return max(seen)


def _gap_looks(targets: Sequence[Sample], lanes_: Lanes) -> list[int]:
    """The instants, in order, at which a look saw the LB routing to the node and another saw
    the node surely not serving (a gap there). Each lane keeps its changes only: a run's last
    look is the next sample's `prev_us` (replay.unseen.bad_looks). One node's, for `_seen_gap`."""
    routing = set(bad_looks(targets, lambda v: v == "healthy"))
    serves = lanes_.serves.possible
    return [
        t
        for t in bad_looks(lanes_.reason_samples, lambda v: v not in _SERVING)
        if t in routing and _holding(serves, t) is None
    ]


def _seen_gap(looks: Sequence[int], start: int, drop_at: int) -> int | None:
    """The first of `_gap_looks` in [`start`, `drop_at`): a gap the looks saw before the drain
    seen at `drop_at` (None: no such instant)."""
    i = bisect_left(looks, start)
    return looks[i] if i < len(looks) and looks[i] < drop_at else None


def _rose_by(sig: Tri, start: int, last: int, chains: Chains | None = None) -> int:
    """The latest instant the signal's rise can have happened: `start` if it was already
    definite there, else its first definite instant in the stretch (`last` if none).
    `chains`: the lists read by bisection where they are chains (replay.chains)."""
    read = chains.of if chains is not None else plain
    held = holding(read(sig.possible), start)
    if held is None:
        return last
    iv = first_overlapping(read(sig.definite), held)
    if iv is not None:
        return start if iv.start <= start else min(iv.start, last)
    return last


def _fell_by(sig: Tri, start: int, last: int, chains: Chains | None = None) -> int:
    """The latest instant the signal can have fallen: the end of its possibly-true stretch
    holding `start` (`start` if it is surely false there, or if the stretch began surely false
    and the signal is not yet surely true by `start`: a rise not yet seen, its fall before).
    `chains`: as `_rose_by`'s."""
    read = chains.of if chains is not None else plain
    held = holding(read(sig.possible), start)
    if held is None:
        return start
    if held.start > LO and not begun_by(read(sig.definite), start, held):
        return start
    return min(held.end, last)


_holding = first_holding  # the first interval holding an instant (a plain loop)


class Candidates(NamedTuple):
    """R and not F's possible stretches merged where they touch (`windows_from`'s candidate
    windows: disjoint, in time order), the stretches each one merged, their starts and ends."""

    spans: list[Iv]
    pieces: list[list[Iv]]
    starts: list[int]
    ends: list[int]


def candidates_of(gap: Tri) -> Candidates:
    spans: list[Iv] = []
    pieces: list[list[Iv]] = []
    merge_touching(gap.possible, 0, len(gap.possible), spans, pieces)
    return Candidates(spans, pieces, [c.start for c in spans], [c.end for c in spans])


def merge_touching(
    possible: Sequence[Iv], i: int, stop: int, spans: list[Iv], pieces: list[list[Iv]]
) -> None:
    """`candidates_of`'s merge of `possible[i:stop]` onto `spans` (each stretch merged with the
    last span where it touches it) and `pieces` (the stretches each span merged)."""
    for iv in islice(possible, i, stop):
        if spans and iv.start <= spans[-1].end:
            last = spans[-1]
            spans[-1] = Iv(last.start, max(last.end, iv.end), last.start_eid, iv.end_eid)
            pieces[-1].append(iv)
        else:
            spans.append(iv)
            pieces.append([iv])


def opened_earlier(start_us: int, earlier: Sequence[Iv], floor_us: int) -> int:
    """The earliest start of a window found from `start_us`: where an unseen gap may already
    have been open before it, the LB possibly routing (`earlier`: replay.unseen.Unseen's,
    within R's possible stretches), without a break up to `start_us`, the window may have
    opened there (kube-proxy may have read the EndpointSlice change before the recorder did);
    never before the previous window's end (`floor_us`: two windows stay two). A stretch of
    `earlier` that reaches no window's start makes none: alone it shows only that the watch
    skew allows it."""
    return reaching_back(earlier, start_us, floor_us) if earlier else start_us


def windows_from(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lanes_: Lanes,
    horizon_us: int,
    *,
    alive: list[Step] | None = None,
    alive_initial: bool = False,
    settings: DetectSettings = DEFAULTS,
    drop_lag: int | None = None,
    from_us: int | None = None,
    relists: bool = True,
    proven: Sequence[Proof] = (),
    proven_only: bool = False,
    gap: Tri | None = None,
    merged: Candidates | None = None,
    chains: Chains | None = None,
) -> list[Window]:
    """Windows of one (service, node) from its two signals (`alive`: the local pods' lane;
    `drop_lag`: see `classify`). With `from_us`, only the windows some bound of which lies at
    or after it (a refresh keeps the others: replay.suffix); `relists` False: before what the
    watch relists passed over is applied (`finished`). `proven`: what the LB's failed requests
    prove of these windows (replay.accessed.access_proofs): each one's window is certain, its
    sure range holds the proof's and its class is read at that sure start; `proven_only`:
    only those windows (the others are the ones found without `proven`). `gap`: R and not F
    of `lanes_`, when the caller has it; `merged`: `candidates_of(gap)`, when it has that;
    `chains`: where the lists read are chained (replay.chains; a refresh's carries the
    node's last ones on)."""
    if gap is None:
        gap = t_and(lanes_.routed, t_not(lanes_.serves))
    if alive is None:
        alive = alive_steps(state, svc, node)
    out: list[Window] = []
    if merged is None:
        merged = candidates_of(gap)
    candidates, pieces = merged.spans, merged.pieces
    # the candidates read (their ends rise, they are disjoint): those ending at or after
    # `from_us`; with `proven_only`, those a proof may fall in: the last one starting at or
    # before its earliest instant (an earlier one ends before that one starts), or the next
    # one (its start moved earlier: `opened_earlier`)
    first = 0 if from_us is None else bisect_left(merged.ends, from_us)
    chosen: Sequence[int] = range(first, len(candidates))
    if proven_only:
        held = {bisect_right(merged.starts, min(p)) - 1 for p in proven}
        if lanes_.earlier:
            held |= {k + 1 for k in held if k + 1 < len(candidates)}
        chosen = [i for i in sorted(held) if i >= first]
    definite, j = gap.definite, 0
    if chains is None:  # the lists read by bisection where they are chains (replay.chains)
        chains = Chains()
    targets = in_time(state, "target", svc, node)  # fold.sorted_lane of it, carried on
    target_times = [t.at_us for t in targets]
    gap_looks: list[int] | None = None  # _gap_looks, found once a node, when first needed
    routed_again = max((t.at_us for t in targets if t.value == "healthy"), default=None)
    deaths: list[int] | None = None  # the pair's pod deaths, found once (pure of the state)
    ranges: list[tuple[int, int]] | None = None  # the Pod updates around each
    spans: list[tuple[int, int]] = []  # and when each may have happened (with `ranges`)
    clock, status = seconds_us(settings.node_clock_s), seconds_us(settings.pod_status_s)
    opens = fail_open(state, svc)  # where the LB may fail open (memoized per Service)
    eps_at: list[int] | None = None  # the endpoints lane's times, found once
    registered: list[Iv] | None = None  # routed.unseen_registrations of the node, found once
    # where an unseen gap may already have been open with the LB possibly routing: it moves
    # the earliest start of a window found without it (`opened_earlier`), never makes one
    earlier = intersect(lanes_.earlier, lanes_.routed.possible) if lanes_.earlier else []
    # the health looks that saw kube-proxy closed (replay.closedlook), found once, when first
    # needed: an unproven window is read no later than them
    closed: list[int] | None = None
    for i in chosen:
        cand, parts = candidates[i], pieces[i]
        end = cand.end if cand.end < HI else horizon_us  # still open at the end of the data
        if end <= cand.start:
            continue
        begin = opened_earlier(cand.start, earlier, candidates[i - 1].end if i else LO)
        # the LB's failed requests that fell in it alone (replay.accessed): gap instants
        proofs = [p for p in proven if begin <= p[0] <= end and begin <= p[1] <= end]
        if proven_only and not proofs:
            continue  # what the samples alone found stands (`definite` is read by a later one:
            # its scan moves on by start, and candidates start later and later)
        j = skip_ended(chains.of(definite), j, cand.start)
        definite_here = []
        k = j
        while k < len(definite) and definite[k].start < end:
            if definite[k].end > cand.start:
                definite_here.append(definite[k])
            k += 1
        if definite_here:
            start_latest = max(definite_here[0].start, cand.start)
            end_earliest = min(definite_here[-1].end, end)
        else:
            start_latest, end_earliest = end, cand.start
        for start_by, end_from in proofs:
            start_latest, end_earliest = min(start_latest, start_by), max(end_earliest, end_from)
        # the cause is read at the samples' sure start where they have one (a failed request
        # seen earlier falls where the lanes may not show the cause yet), else at the proof's
        read = max(definite_here[0].start, cand.start) if definite_here else start_latest
        sure = bool(definite_here or proofs)
        if sure:
            start = (cand.start + start_latest) // 2
            finish = max(start, (end_earliest + end) // 2)
        else:  # maybe none, maybe all of it: the middle half as the estimate
            start, finish = cand.start + (end - cand.start) // 4, end - (end - cand.start) // 4
        probe, look = read, True  # the cause at the sure start
        unmoved: tuple[int, bool] | None = None  # where read without `closed`, if elsewhere
        drop_at: int | None = None
        seen_gap = False
        since = cand.start
        if sure:
            # a look before the sure start saw the LB not routing: the sure gap began after it
            drop_at = _drop_seen(targets, target_times, routed_again, cand.start, read)
            if drop_at is not None:
                since = drop_at
                rose = next((iv.start for iv in lanes_.routed.definite if iv.start >= since), since)
                rose = min(rose, read)
            else:
                rose = _rose_by(lanes_.routed, since, read, chains)
            fell = _fell_by(lanes_.placing, since, read, chains)
            lb_opened, proxy_opened = rose > fell, rose < fell
            if proxy_opened and deaths is None:
                deaths = pod_deaths(state, svc, node)
        else:
            drop_at = _drop_seen(targets, target_times, routed_again, cand.start, end)
            # a gap the looks saw before the drain: the LB's return does not open the window
            if drop_at is not None and gap_looks is None:
                gap_looks = _gap_looks(targets, lanes_)
            seen = None if drop_at is None else _seen_gap(gap_looks or [], cand.start, drop_at)
            seen_gap = seen is not None
            if seen is not None:  # read in the piece that holds it
                holding = [p for p in parts if p.start <= seen < p.end] or parts
                where: tuple[Sequence[Iv], int | None] = (holding, None)
            else:
                where = (parts, drop_at)
            if closed is None:
                closed = closed_looks(state, svc, node, lanes_.health, settings)
            probe, look = _unproven_start(
                lanes_.routed, lanes_.placing, where[0], end, where[1], chains, closed
            )
            if closed and gate_open(state, svc, node, settings):
                # read without the looks too: under a gate turned on they saw no close
                unmoved = _unproven_start(
                    lanes_.routed, lanes_.placing, where[0], end, where[1], chains
                )
                unmoved = None if unmoved == (probe, look) else unmoved
            # a seen drain, then R's rise opens the piece after it: the LB took the node back
            lb_opened, proxy_opened = look and drop_at is not None and probe >= drop_at, not look
            if not look and deaths is None:
                deaths = pod_deaths(state, svc, node)
        cls = classify(
            state,
            svc,
            node,
            lanes_,
            probe,
            alive,
            alive_initial,
            since,
            settings,
            end,
            look,
            deaths if (proxy_opened if sure else not look) else None,
            lb_opened,
            proxy_opened,
            drop_lag,
        )
        skew = seconds_us(settings.watch_skew_s)
        if eps_at is None:
            eps_at = times_of(lanes_.eps)
        # a failed request proves a gap, not the order of the reactions before it: the other
        # classes the samples allow stay named where no definite stretch fixes the start
        also = () if definite_here else also_classes(
            cls, lanes_.eps, targets, cand.start, end, skew, (eps_at, target_times)
        )  # fmt: skip
        if not lb_opened and cls in ("closed-before-deregistered", "pod-gone-before-deregistered"):
            if ranges is None:
                ranges = death_ranges(state, svc, node)
                spans = death_spans(state, svc, node, clock, status)
            reason = _false_reason(lanes_.reason_samples, lanes_.reason_times, probe)
            order = Ordering(ranges, spans, skew)
            pte = pte_sure(state, svc.cluster, node, settings)
            named = death_or_close(
                cls, lanes_.eps, order, cand.start, probe, pte, reason, eps_at=eps_at
            )
            if (
                named
                and cls == PGBD
                and _counted_at_death(state, svc, node, lanes_, (since, probe), settings)
            ):
                named = ()  # kube-proxy counted the pod after it died: it had not closed
            also = also + named
        elif cls == "registered-before-forwarding" and (
            CBD not in also
            and opened_before_ready(
                lanes_.eps, targets, cand.start, probe, eps_at=eps_at, polls_at=target_times
            )
            and any(iv.start <= probe and iv.end > cand.start for iv in opens.possible)
        ):
            # routed by failing open: owes nothing to the endpoints; a sure stretch from
            # the endpoint on (a probe, a sync count) does not order the LB's rise before it
            also = (*also, CBD)
        if unmoved is not None:
            also = _unmoved_named(
                (state, svc, node, lanes_), unmoved, cls, also, (since, end, drop_at),
                (alive, alive_initial, drop_lag, settings),
            )  # fmt: skip
        reopened = (
            unseen_reopening(lanes_.forwardable, lanes_.reason_times, cand.start, probe, skew)
            if cls == PGBD and not definite_here
            else None
        )
        if reopened is not None:
            also = _naming(also, cls, CBD)  # kube-proxy's close and reopening between two looks
            if value_at(lanes_.eps, reopened) == "ready" and value_at(
                lanes_.reason_samples, reopened
            ) not in ("refused", "reset"):
                # the return listed a ready endpoint: the close, between the same two looks,
                # may have landed after that listing, leaving it unprogrammed (not where the
                # look before it refused: the dead pod's rules stood, as `death_or_close` reads)
                also = _naming(also, cls, RBF)
        if (
            cls == PGBD
            and not sure
            and RBF not in also
            and _returned_unprogrammed(lanes_, targets, cand.start, end, skew, eps_at, target_times)
        ):
            # the LB's unseen return met a listing kube-proxy had not programmed
            also = (*also, RBF)
        if (
            cls in (CBD, RBF)
            and PGBD not in also
            and rules_left_unordered(
                lanes_.reason_samples, lanes_.reason_times, cand.start, read if sure else probe
            )
        ):
            also = (*also, PGBD)  # the LB's rise against the dead pod's rules going away
        if (
            cls == PGBD
            and (lb_opened if sure else look)
            and rules_gone_unordered(lanes_.reason_samples, lanes_.reason_times, probe)
        ):
            # the LB's rise against the dead pod's rules going away: after it, the node had none
            other = RBF if value_at(lanes_.eps, probe) == "ready" else CBD
            also = _naming(also, cls, other)
        if (
            cls == PGBD
            and (lb_opened if sure else look)
            and not lanes_.reason_samples
            and not lanes_.health  # F inferred: no probe looked at the node
            and close_before_rise(
                lanes_.forwardable, probe, skew, seconds_us(settings.proxy_lag_s[0])
            )
        ):
            # the LB's rise against kube-proxy's close of the dead pod's endpoint, unordered
            also = _naming(also, cls, CBD)
        if (
            cls in (CBD, RBF)
            and PGBD not in also
            and (lb_opened if sure else look)
            and lanes_.health  # F read from the health check alone
            and not state.probes["nodeport"].get((svc, node))
            and pte_possible(state, svc.cluster, node, settings)
        ):
            if ranges is None:
                ranges = death_ranges(state, svc, node)
                spans = death_spans(state, svc, node, clock, status)
            lag_hi = proxy_lag_hi(state, svc, settings)
            if dead_left_listed(lanes_.eps, spans, probe, lag_hi_us=lag_hi, skew_us=skew):
                also = (*also, PGBD)  # the LB's rise against kube-proxy removing a dead pod
        if (
            cls in (CBD, RBF)
            and PGBD not in also
            and (lb_opened if sure else look)
            # a drain seen before the read instant: the LB's rise came after it
            and dead_count_unordered(
                state, (svc, node), lanes_, (max(since, drop_at or since), probe), settings
            )
        ):
            also = (*also, PGBD)  # the LB's rise against kube-proxy dropping a dead pod it counted
        if cls == CBD and PGBD not in also and lanes_.health:
            if ranges is None:
                ranges = death_ranges(state, svc, node)
                spans = death_spans(state, svc, node, clock, status)
            if death_past_close(
                state, (svc, node), (lanes_.eps, lanes_.health), spans, (probe, skew, end), settings
            ):
                also = (*also, PGBD)  # a gate turned on forwarded past the 503 to the death
        if (
            cls == RBF
            and PGBD not in also
            and lanes_.health  # F read from the health check alone
            and not state.probes["nodeport"].get((svc, node))
            and pte_possible(state, svc.cluster, node, settings)
        ):
            lag_hi = proxy_lag_hi(state, svc, settings)
            ended = terminating_spans(state, svc, node, clock, status)
            if dead_left_unsynced(lanes_.health, ended, probe, lag_hi_us=lag_hi):
                also = (*also, PGBD)  # kube-proxy knew no ready endpoint: the dead pod's stood
        if cls == "registered-before-forwarding" and not definite_here:
            if ranges is None:
                ranges = death_ranges(state, svc, node)
                spans = death_spans(state, svc, node, clock, status)
            if death_unordered(spans, cand.start, probe):
                also = _naming(also, cls, PGBD)  # the LB's unseen rise against a death
        if (
            cls in (CBD, PGBD)
            and not sure
            and look
            and RBF not in also
            and _ready_inside(lanes_.eps, cand.start, probe)
        ):
            # the LB's rise (a return after a drain or a first registration: either takes the
            # node in) while a listed endpoint was not yet programmed
            also = (*also, RBF)
        if (
            cls == CBD
            and look
            and RBF not in also
            and value_at(lanes_.eps, probe + skew) == "ready"
            and fails_open_at(state, svc, probe)
        ):
            also = (*also, RBF)  # read without the look-ahead: the ready endpoint seen late
        if (
            cls == CBD
            and (proxy_opened if sure else not look)
            and RBF not in also
            and value_at(lanes_.eps, probe) == "ready"
            and value_at(lanes_.eps, probe + skew) == "ready"
        ):
            # kube-proxy's close somewhere in the start range, the replacement listed inside it:
            # nothing orders the two (a close after the listing left it unprogrammed)
            also = (*also, RBF)
        if (
            cls == RBF
            and lb_opened
            and CBD not in also
            and value_at(lanes_.eps, probe + skew) != "ready"
        ):
            # read from the endpoint listed at the LB's latest rise (`classify`): its leaving,
            # seen within the watch skew after, may have come first, leaving nothing listed
            also = (*also, CBD)
        if (
            cls != RBF
            and RBF not in also
            and lb_opened
            and lanes_.closing is not None
            and registered_unprogrammed(lanes_.eps, lanes_.closing, since, probe)
        ):
            # rule CC under the gate off, where a gate that may be on kept F possible over the
            # terminating endpoint (replay.unprogrammed_rise): that reading is named
            also = (*also, RBF)
        if begin < cand.start and not lanes_.health and not lanes_.reason_samples:
            # moved back by a gate on by default only (no probe: replay.gate_unlooked): had it
            # been turned off, kube-proxy closed at the serving-terminating listing
            also = _naming(also, cls, CBD)
        # other readings of the start: (by_default, refusal) for `classify`
        readings: list[tuple[bool, bool | None]] = []
        if cls == PGBD and pte_by_default(state, svc.cluster, node, settings):
            # read as a handover under a gate on by default only: had it been turned off,
            # kube-proxy's rules emptied with the last ready endpoint
            readings.append((False, None))
        refused = _false_reason(*_reasons(lanes_), probe) in ("refused", "reset")  # read once
        if refused:
            # the refusal under every other mode the node's looks allow (replay.modeshape)
            modes = look_readings(state, svc, node, (_reasons(lanes_), probe), settings)
            readings += [(True, r) for r in modes[1:]]
        for by_default, refusal in readings:
            other = classify(
                state, svc, node, lanes_, probe, alive, alive_initial, since, settings, end,
                look, deaths if (proxy_opened if sure else not look) else None, lb_opened,
                proxy_opened, drop_lag, by_default=by_default, refusal=refusal,
            )  # fmt: skip
            also = _naming(also, cls, other)
        if (
            cls == PGBD
            and sure
            and proxy_opened
            and lanes_.health
            and failed_open_inside(state, svc, lanes_.health, (since, probe), settings)
        ):
            # the LB may have dropped the node for its failed checks before the death and
            # taken it back by failing open inside the range: read as the LB's rise too
            other = classify(
                state, svc, node, lanes_, probe, alive, alive_initial, since, settings, end,
                look, None, True, False, drop_lag,
            )  # fmt: skip
            also = _naming(also, cls, other)
        used = deaths if (proxy_opened if sure else not look) else None
        if cls == "pod-gone-before-deregistered" and used:
            quiet = _unforwarded(
                state, svc, node, lanes_.eps, used, cand.start, probe, skew, settings
            )
            quiet |= _synced_first(state, (svc, node), lanes_, used, (cand.start, probe), settings)
            if quiet:  # read from a death kube-proxy may no longer have forwarded to
                other = classify(
                    state, svc, node, lanes_, probe, alive, alive_initial, cand.start,
                    settings, end, look, [d for d in used if d not in quiet], lb_opened,
                    proxy_opened, drop_lag,
                )  # fmt: skip
                also = _naming(also, cls, other)
                # that reading's own order, where the LB's reaction to the endpoints' excursion
                # is unseen (rbf against cbd), is no more decided: name what it names too. Not
                # under PTE surely on: kube-proxy then forwarded to the terminating pod until it
                # died, so nothing was unprogrammed while it lived (that is the death's reading)
                if not pte_sure(state, svc.cluster, node, settings):
                    for more in also_classes(
                        other, lanes_.eps, targets, cand.start, end, skew, (eps_at, target_times)
                    ):
                        also = _naming(also, cls, more)
        if not definite_here and drop_at is not None and seen_gap:
            # read before the drain (a gap seen there): the LB's return after it opens the other
            if closed is None:
                closed = closed_looks(state, svc, node, lanes_.health, settings)
            at, after_look = _unproven_start(
                lanes_.routed, lanes_.placing, parts, end, drop_at, chains, closed
            )
            if not after_look and deaths is None:
                deaths = pod_deaths(state, svc, node)
            other = classify(
                state, svc, node, lanes_, at, alive, alive_initial, drop_at, settings, end,
                after_look, None if after_look else deaths, after_look and at >= drop_at,
                not after_look, drop_lag,
            )  # fmt: skip
            also = _naming(also, cls, other)
        elif not definite_here and drop_at is not None and any(p.start < drop_at for p in parts):
            # the LB seen not routing inside: before it, the gap had a cause of its own
            if closed is None:
                closed = closed_looks(state, svc, node, lanes_.health, settings)
            at, before_look = _unproven_start(
                lanes_.routed, lanes_.placing, parts, drop_at, None, chains, closed
            )
            if not before_look and deaths is None:
                deaths = pod_deaths(state, svc, node)
            other = classify(
                state, svc, node, lanes_, at, alive, alive_initial, cand.start, settings,
                end, before_look, None if before_look else deaths, False, not before_look,
                drop_lag,
            )  # fmt: skip
            also = _naming(also, cls, other)
            if other == RBF and not before_look and listed_inside(lanes_.eps, cand.start, at):
                # read from kube-proxy's close at its latest instant, the replacement listed
                # inside the piece: the close may have come before the listing
                also = _naming(also, cls, CBD)
            if other in (CBD, PGBD):
                # that reading's own start leaves a death and kube-proxy's close unordered
                # as the window's class does (`death_or_close`): name what it names too
                if ranges is None:
                    ranges = death_ranges(state, svc, node)
                    spans = death_spans(state, svc, node, clock, status)
                order = Ordering(ranges, spans, skew)
                pte = pte_sure(state, svc.cluster, node, settings)
                reason = _false_reason(lanes_.reason_samples, lanes_.reason_times, at)
                for more in death_or_close(
                    other, lanes_.eps, order, cand.start, at, pte, reason, eps_at=eps_at
                ):
                    also = _naming(also, cls, more)
        if (
            cls == NNR
            and lanes_.health
            and (
                up_unserved_at(lanes_.health, cand.start)
                or unserved_inside(lanes_.health, cand.start, probe)
            )
        ):
            # the node still answered, with nothing to serve, when the gap could begin
            other = RBF if value_at(lanes_.eps, cand.start) == "ready" else CBD
            also = _naming(also, cls, other)
            answered_at = first_unserved(lanes_.health, cand.start, probe)
            if answered_at is not None:
                # what kube-proxy's count missed at that answer: a ready endpoint listed then
                # (not programmed) or none (closed)
                other = RBF if value_at(lanes_.eps, answered_at) == "ready" else CBD
                also = _naming(also, cls, other)
        if cls != NNR and NNR not in also and not lanes_.health:
            ports = sorted_lane(state.probes["nodeport"].get((svc, node), []))
            node_lane = state.nodes.get((svc.cluster, node), [])
            grace = seconds_us(settings.node_grace_s)
            if nodeport_went_silent(ports, node_lane, cand.start, read, grace):
                also = (*also, NNR)  # the NodePort's silence: no rules, or the node gone
        if cls == CBD and not sure and RBF not in also:
            if registered is None:
                registered = unseen_registrations(state, svc, node, settings)
            if _registered_unprogrammed(registered, lanes_.serves, cand.start, end):
                also = (*also, RBF)  # the unseen registration met rules never programmed
        back = unseen_return(targets, target_times, cand.start, probe + 1)
        fell = _fell_by(lanes_.placing, back[0], probe, chains) if back else 0
        if (
            back
            and back[0] < fell
            and (
                fell <= back[1]
                or not any(iv.start <= back[1] - 1 < iv.end for iv in lanes_.serves.definite)
            )
        ):
            # the LB's return and kube-proxy's side (or a death) fell between the same looks:
            # the class with the other opener
            rise_read = lb_opened if sure else look
            if rise_read and deaths is None:
                deaths = pod_deaths(state, svc, node)
            other = classify(
                state, svc, node, lanes_, fell if rise_read else min(back[1], end - 1), alive,
                alive_initial, cand.start, settings, end, not rise_read,
                deaths if rise_read else None, not rise_read, rise_read, drop_lag,
            )  # fmt: skip
            also = _naming(also, cls, other)
        if (
            cls != PGBD
            and refused
            and True in refusal_readings(state, svc, node, settings)
            and rejected_uncounted(
                state, svc, node, _reasons(lanes_), lanes_.health, probe, settings
            )
        ):
            also = _naming(also, cls, PGBD)  # the refusal: the dead pod's rules, or a REJECT
        out.append(
            Window(
                service=svc,
                node=node,
                cls=cls,
                also=also,
                start_us=start,
                end_us=finish,
                start_earliest_us=begin,
                start_latest_us=start_latest,
                end_earliest_us=end_earliest,
                end_latest_us=end,
                provenance="measured" if lanes_.measured else "inferred",
                opened_by=(cand.start_eid,) if cand.start_eid else (),
                closed_by=(cand.end_eid,) if cand.end_eid and cand.end < HI else (),
                certain=sure,
            )
        )
    return finished(state, svc, node, lanes_, out, settings) if relists else out


def _inferred_named(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lanes_: Lanes,
    windows: list[Window],
    settings: DetectSettings,
) -> list[Window]:
    """`windows` of a node no probe looked at, with the other classes their start ranges
    allow named (replay.inferred_named)."""
    if not windows:
        return windows
    lanes = InferredLanes(
        lanes_.routed,
        lanes_.eps,
        lanes_.forwardable,
        alive_steps(state, svc, node),
        False,
        state.nodes.get((svc.cluster, node), []),
    )
    times = (
        seconds_us(settings.watch_skew_s),
        seconds_us(settings.proxy_lag_s[0]),
        proxy_lag_hi(state, svc, settings),
        seconds_us(settings.node_grace_s),
    )
    return named_inferred(windows, lanes, times)


def finished(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    lanes_: Lanes,
    raw: list[Window],
    settings: DetectSettings = DEFAULTS,
) -> list[Window]:
    """Windows (`windows_from`'s with `relists` False) with what a watch relist passed over: a
    window touching it is never certain (replay.relisted); and `node-not-ready` named where
    the Node came up inside a window's start range (replay.nodeup)."""
    unseen = node_stretches(state, svc.cluster, node, settings)
    out = touching(hidden_not_ready(raw, unseen), unseen)  # a NotReady it hid: in `also`
    looks = (lanes_.reason_samples, lanes_.health)
    node_lane = state.nodes.get((svc.cluster, node), [])
    out = named_down_before_up(out, node_lane, looks, in_time(state, "target", svc, node))
    if lanes_.health or lanes_.reason_samples:  # the node's end bounded by its own looks
        # a terminating pod's exit no kubelet reported, unordered against the node's end
        out = named_exit(state, svc, node, out, lanes_.serves.possible, lanes_.health)
    elif lanes_.eps:  # F inferred: the other classes its start range allows (no-probe naming)
        out = _inferred_named(state, svc, node, lanes_, out, settings)
    return touching(out, stretches(state, svc, settings), lanes_.routed, lanes_.health)


def detect(
    state: FoldState,
    services: Sequence[ServiceRef] | None = None,
    settings: DetectSettings = DEFAULTS,
    *,
    on_node: Callable[[float], None] | None = None,
) -> list[Window]:
    """Every gap window of the given (default: all LB-facing) Services, in time order;
    `on_node(1)` after each node of each (a progress bar's advance)."""
    out: list[Window] = []
    impact = access_impact(state) if state.access else None
    for svc in services if services is not None else lb_facing(state):
        end_of_data = horizon(state, svc)
        mine = measured_settings(state, svc, settings)  # the measured watch skew (measure.py)
        lag_hi = proxy_lag_hi(state, svc, mine)
        first = lb_drop_lag(state, svc, mine)
        found: dict[str, Lanes] = {}
        got: dict[str, list[Window]] = {}
        for node in ticking(nodes_of(state, svc), on_node):
            found[node] = lanes(state, svc, node, mine, lag_hi)
            got[node] = windows_from(
                state, svc, node, found[node], end_of_data, settings=mine, drop_lag=first
            )
        # the LB's failed requests, on its log's clock: a second look where they prove a gap
        for node, proofs in access_proofs(state, svc, got, settings, impact).items():
            proven = windows_from(
                state, svc, node, found[node], end_of_data, settings=mine, drop_lag=first,
                proven=proofs, proven_only=True,
            )  # fmt: skip
            got[node] = decided(got[node], proven)
        for ws in got.values():
            out.extend(ws)
    out.sort(key=_time_order)
    return out


def _time_order(w: Window) -> tuple[int, str, str, str, str]:
    """`detect`'s order: by start, then Service (ServiceRef orders by cluster, namespace, name)
    and node. The Service's fields, not the ServiceRef: a tie on the start compared two
    ServiceRefs with the dataclass's `__eq__` and `__lt__`, each building two tuples."""
    svc = w.service
    return (w.start_us, svc.cluster, svc.namespace, svc.name, w.node)
