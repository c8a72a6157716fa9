"""Measured lags: how long kube-proxy, the CCM and the LB health check took to react.

Each lag pairs a change of a node's endpoints lane (exact, from the watch) with the first matching
change of a measured lane after it: kube-proxy programming (health-check-node-port or NodePort
probe; without probes, kube-proxy's sync metrics: replay.syncs), CCM register / deregister
(endpoint-driven) or LB health detection up / down (node-driven). A lag is the midpoint of the
reacting change's sampling interval minus the endpoint change time. Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, NamedTuple

from gapwatch.replay.assumptions import DEFAULTS, DetectSettings, seconds_us
from gapwatch.replay.context import ccm_mode, nodes_of
from gapwatch.replay.fold import IN_TIME, FoldState, Sample, lb_facing, sorted_lane
from gapwatch.replay.model import LagStats, ServiceRef
from gapwatch.replay.signals import Step, steps_from_samples, steps_where
from gapwatch.replay.sync_index import indexed
from gapwatch.replay.syncs import programmed
from gapwatch.replay.unseen import listed_at

LAG_NAMES = (
    "kube-proxy-programming",
    "ccm-register",
    "ccm-deregister",
    "lb-health-up",
    "lb-health-down",
)


class LagSample(NamedTuple):
    service: ServiceRef
    node: str
    lag: str
    at_us: int  # the endpoint change it reacts to
    seconds: float
    up: bool  # the change made the node usable (True) or unusable (False)
    #: the sampling interval the reaction lies in, in seconds after the endpoint change (`seconds`
    #: is its midpoint); None where it is not known (lags read back from the projections)
    lo_s: float | None = None
    hi_s: float | None = None


def _ready_changes(lane: Sequence[Sample]) -> list[tuple[int, bool]]:
    out: list[tuple[int, bool]] = []
    current = False
    for s in lane:
        ready = s.value == "ready"
        if ready != current:
            out.append((s.at_us, ready))
            current = ready
    return out


def _pair(
    changes: list[tuple[int, bool]],
    which: Iterable[int],
    steps: list[Step],
    name: str | tuple[str, str],
    svc: ServiceRef,
    node: str,
    window_us: int,
) -> tuple[list[LagSample | None], list[int]]:
    """Pair each change of `which` (indexes into `changes`) with the first reacting step
    within `window_us` (match_window_s) and before the next change; `name`: the lag's, or (the
    one of a change that made the node unusable, usable). Per change its lag or None, and the
    changes whose look reached the last of `steps` unended (the only ones a step after them
    can pair: `Paired`)."""
    out: list[LagSample | None] = []
    still: list[int] = []
    latest = [s.latest for s in steps]
    count, last = len(steps), len(changes) - 1
    named = name if isinstance(name, str) else None
    for i in which:
        at, up = changes[i]
        until = at + window_us
        if i < last and changes[i + 1][0] < until:
            until = changes[i + 1][0]
        k = bisect_left(latest, at)
        step = None
        while k < count:
            s = steps[k]
            if s.latest > until:
                break
            if s.value == up:
                step = s
                break
            k += 1
        else:
            still.append(i)
        if step is None:
            out.append(None)
            continue
        earliest, reacted = step.earliest, step.latest
        mid = ((earliest if earliest > at else at) + reacted) / 2
        kind = named if named is not None else name[up]
        lag = (mid - at) / 1e6
        lo, hi = (earliest - at) / 1e6, (reacted - at) / 1e6  # as `_bounds`
        out.append(
            LagSample(svc, node, kind, at, lag if lag > 0.0 else 0.0, up,
                      lo if lo > 0.0 else 0.0, hi if hi > 0.0 else 0.0)
        )  # fmt: skip
    return out, still


@dataclass(slots=True)
class Paired:
    """A lane's steps paired with a node's endpoint changes (`_pair`), and where the pairing
    stood, so that a longer lane carries it on (`paired`): the lane (the list, append-only)
    and how many of its samples were read; the signal's value after them; each change's lag
    (None: none) and the changes whose look reached the last step unended (`open`); and
    where the samples read were out of time order as they came (`sorted_lane` sorts them),
    the last of them in its order (`last`, its `fold.IN_TIME` key; None: in order)."""

    lane: list[Sample] | None
    read: int
    current: bool
    changes: list[tuple[int, bool]]
    found: list[LagSample | None]
    open: list[int]
    last: tuple[int, int] | None = None

    def lags(self) -> list[LagSample]:
        return [s for s in self.found if s is not None]


def paired(
    lane: list[Sample],
    true: str,
    changes: list[tuple[int, bool]],
    name: str | tuple[str, str],
    svc: ServiceRef,
    node: str,
    window_us: int,
    was: Paired | None = None,
) -> Paired:
    """The changes paired (`_pair`) with the steps of `lane` (`true` the value the signal is
    true at, false before the first sample), as a `Paired`; `was`: the same lane's pairing
    before it grew. **Exact:** where `was` read the same changes from this list, in time
    order, and the samples after them come in time order from its last one, the lane is
    still in time order (`sorted_lane` gives it as it is) and its first `was.read` samples
    are the ones read: `steps_where` is one pass whose state
    after them is (the value, the last sample's time), so the steps are `was`'s followed by
    those of the new samples from that state. A change whose look ended (a step reacted, or
    one came after its end) within the old steps reads the same ones; the others (`was.open`)
    carry on at the first new step, where each one's look stood (every new step is no earlier
    than the old ones), through the same loop (`_pair`). A lane out of time order (a late
    sample slotted in) carries on alike where the samples after `was.read` come in its sort
    order (`fold.IN_TIME`) from `was.last`: its sort is then the old samples' sort followed by
    them (a stable sort keeps equal keys in list order), the state after the old ones (the
    value, `was.last`'s time)."""
    if was is not None and was.lane is lane and was.changes == changes:
        last = was.last
        if last is None:
            carried = _in_order_from(lane, was.read)
            prev_at = lane[was.read - 1].at_us if was.read else None
        else:
            carried = _in_key_order_from(lane, was.read, last)
            prev_at = last[0]
            last = IN_TIME(lane[-1]) if len(lane) > was.read else last
        if carried:
            steps = steps_where(lane[was.read :], frozenset((true,)), was.current, prev_at)
            current = steps[-1].value if steps else was.current
            found = list(was.found)
            now, still = _pair(changes, was.open, steps, name, svc, node, window_us)
            for i, lag in zip(was.open, now, strict=True):
                found[i] = lag
            return Paired(lane, len(lane), current, changes, found, still, last)
    ordered = sorted_lane(lane)
    steps = steps_from_samples(ordered, true, False)
    found, still = _pair(changes, range(len(changes)), steps, name, svc, node, window_us)
    current = steps[-1].value if steps else False
    last = None if ordered is lane else IN_TIME(ordered[-1])
    return Paired(lane, len(lane), current, changes, found, still, last)


def _in_order_from(lane: list[Sample], read: int) -> bool:
    """Whether the samples of `lane` from `read` on are in time order, from the one before."""
    if read > len(lane):
        return False
    times = [s.at_us for s in lane[read - 1 if read else 0 :]]
    return all(a <= b for a, b in pairwise(times))


def _in_key_order_from(lane: list[Sample], read: int, last: tuple[int, int]) -> bool:
    """Whether the samples of `lane` from `read` on come in `fold.IN_TIME` order from the key
    `last` (none before it)."""
    if read > len(lane):
        return False
    keys = [last, *map(IN_TIME, lane[read:])]
    return all(a <= b for a, b in pairwise(keys))


def _synced(
    state: FoldState,
    changes: list[tuple[int, bool]],
    svc: ServiceRef,
    node: str,
    window_us: int,
    settings: DetectSettings,
) -> list[LagSample]:
    """kube-proxy programming lags from its metrics (replay.syncs): each change that a look
    shows programmed within `window_us`, at the midpoint of the bounds the looks give;
    `changes` are those after the first listing (`_node_lags`: the state the recording found
    was programmed before it began)."""
    reach = seconds_us(settings.watch_skew_s) + seconds_us(settings.clock_skew_s)
    index = indexed(state, (svc.cluster, node))  # carried on (replay.sync_index)
    out: list[LagSample] = []
    for at, up in changes:
        span = seconds_us(settings.sync_span_s)
        (step,) = programmed([Step(at, at, up, 0)], index, 0, window_us + 1, reach, span_us=span)
        if step.latest > at + window_us:  # no look showed it done in time
            continue
        mid = (step.earliest + step.latest) / 2
        lag = max(0.0, (mid - at) / 1e6)
        bounds = _bounds(step.earliest, step.latest, at)
        out.append(LagSample(svc, node, "kube-proxy-programming", at, lag, up, *bounds))
    return out


def _bounds(earliest_us: int, latest_us: int, at_us: int) -> tuple[float, float]:
    """A reaction's sampling interval [earliest, latest] as seconds after the change at `at_us`
    (never before it)."""
    return max(0.0, (earliest_us - at_us) / 1e6), max(0.0, (latest_us - at_us) / 1e6)


def lag_samples(
    state: FoldState,
    services: Sequence[ServiceRef] | None = None,
    settings: DetectSettings = DEFAULTS,
    *,
    proxy_only: bool = False,
) -> list[LagSample]:
    """Every measured lag of the given (default: all LB-facing) Services. A node's lags are
    kept in the state's memo with the lengths of the lanes they were found from
    (`node_inputs`: the lanes only grow) and the settings they read (`_reads`), so a refresh
    measures again only the nodes whose lanes moved, once for every caller (kube-proxy's lags
    alone are those of the whole list: `proxy_only`)."""
    out: list[LagSample] = []
    for svc in services if services is not None else lb_facing(state):
        for known in _per_node(state, svc, settings).values():
            out.extend(known[2] if proxy_only else known[1])
    return out


def proxy_extent(
    state: FoldState, svc: ServiceRef, settings: DetectSettings
) -> tuple[int, float | None]:
    """How many kube-proxy lags the Service's nodes measured and the largest (seconds; None:
    none): `lag_samples(..., proxy_only=True)`'s count and largest, from each node's count and
    largest, kept with its lags (`Memo.proxy_tops`: while they are the same list, which
    `_scan` replaces when the node's lanes move) rather than read from every lag again (6,910
    on the large store's gateway, twice a refresh)."""
    tops = state.memo.proxy_tops
    count, top = 0, None
    for node, known in _per_node(state, svc, settings).items():
        proxy = known[2]
        if not proxy:
            continue
        was = tops.get((svc, node))
        if was is None or was[0] is not proxy:
            was = tops[(svc, node)] = (proxy, max(s.seconds for s in proxy))
        count += len(proxy)
        top = was[1] if top is None else max(top, was[1])
    return count, top


def node_lags(
    state: FoldState, svc: ServiceRef, settings: DetectSettings
) -> dict[str, list[LagSample]]:
    """The Service's measured lags per node (what `lag_samples` gives, node by node)."""
    return {node: known[1] for node, known in _per_node(state, svc, settings).items()}


#: a node's lags (kept in `Memo.lane_lags`): what they were found from, all of them, kube-proxy's,
#: and the pairings of its probe and LB poll lanes they came from (`Pairs`)
_Kept = tuple[Any, list[LagSample], list[LagSample], "Pairs"]
#: kube-proxy's pairing (a probe lane's; None: from its sync metrics, or no endpoint change)
#: and the LB's
Pairs = tuple[Paired | None, Paired | None]


def _per_node(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> dict[str, _Kept]:
    """Every node's lags (`Memo.lane_lags`, per node), as one map kept until the next fold
    under what any node's key reads (the lag bounds, the drop lag and the rows each read it:
    one scan of the Service's nodes per fold, not one per reader); where no node measures
    kube-proxy from its sync metrics alone (`_reads`), one map for every settings object
    (detection's measured settings and the stored ones differ in the watch skew only)."""
    window = seconds_us(settings.match_window_s)
    node_mode = ccm_mode(state, svc, settings) == "node"
    # the end of the first listing: no lag is measured from a change inside it (`_node_lags`)
    listed = listed_at(state, svc) + seconds_us(settings.list_s)
    memo = state.memo.lags_of
    base = (svc, window, node_mode, listed)
    known = memo.get(base)  # no node's lags read the other settings: any settings' map
    if known is None:
        reads = (settings.watch_skew_s, settings.clock_skew_s, settings.list_s,
                 settings.sync_span_s)  # fmt: skip
        whole = (*base, reads)
        known = memo.get(whole)
        if known is None:
            known, free = _scan(state, svc, settings, window, node_mode, listed)
            memo[base if free else whole] = known
    return known


def _scan(
    state: FoldState, svc: ServiceRef, settings: DetectSettings, window: int, node_mode: bool,
    listed: int,
) -> tuple[dict[str, _Kept], bool]:  # fmt: skip
    """Every node's lags, and whether none of them read the settings `_reads` names (which
    depends on the lanes, not on the settings: then every settings object gets this map)."""
    kept = state.memo.lane_lags
    out: dict[str, _Kept] = {}
    free = True
    for node in nodes_of(state, svc):
        inputs = node_inputs(state, svc, node, node_mode, listed)
        reads = _reads(settings, inputs)
        free = free and reads is None
        where = (svc, node, window, node_mode, reads)
        known = kept.get(where)
        was: Pairs = known[3] if known is not None else (None, None)
        if known is not None and known[0] != inputs and _polls_alone(known[0], inputs):
            # kube-proxy's lags (the list's head) read no LB poll: only the LB's found again
            proxy = known[2]
            lb = _lb_lags(state, svc, node, window, node_mode, was=was[1], since_us=listed)
            known = kept[where] = (inputs, [*proxy, *_lags(lb)], proxy, (was[0], lb))
        elif known is not None and known[0] != inputs and _looks_unread(known[0], inputs):
            known = kept[where] = (inputs, *known[1:])  # the same lags: none read the looks
        elif known is None or known[0] != inputs:
            found, pairs = _node_lags(state, svc, node, settings, window, node_mode, listed, was)
            proxy = [s for s in found if s.lag == "kube-proxy-programming"]
            known = kept[where] = (inputs, found, proxy, pairs)
        out[node] = known
    return out, free


def _reads(settings: DetectSettings, inputs: tuple[int | bool, ...]) -> tuple[float, ...] | None:
    """The settings a node's lags read besides the match window: those of kube-proxy's sync
    metrics (`_synced`), where they are what measures it (no health check nor NodePort
    samples, some looks: `node_inputs` has their lengths); None elsewhere."""
    health, nodeport, looks = inputs[1], inputs[2], inputs[4]
    if health or nodeport or not looks:
        return None
    return (settings.watch_skew_s, settings.clock_skew_s, settings.list_s, settings.sync_span_s)


def node_inputs(
    state: FoldState, svc: ServiceRef, node: str, node_mode: bool, listed_us: int
) -> tuple[int | bool, ...]:
    """What a node's lags are found from: the lengths of its endpoints, probe and LB lanes and
    of kube-proxy's looks there (all append-only), the CCM mode and when the endpoints' first
    listing ended. A rule that reads more of the state must add it here."""
    key = (svc, node)
    probes = state.probes
    return (
        len(state.endpoints.get(key, ())),
        len(probes["health"].get(key, ())),
        len(probes["nodeport"].get(key, ())),
        len(probes["target"].get(key, ())),
        len(state.syncs.get((svc.cluster, node), ())),
        node_mode,
        listed_us,
    )


def _node_lags(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    window: int,
    node_mode: bool,
    listed_us: int,
    was: Pairs = (None, None),
) -> tuple[list[LagSample], Pairs]:
    """The measured lags of one node of the Service (kube-proxy's first: `_per_node`), from
    the changes after `listed_us`, the end of the slices' first listing, and the pairings they
    came from; `was`: the node's pairings before its lanes grew (`paired`)."""
    key = (svc, node)
    # the state the recording found came with the first list (by `listed_us`, its end):
    # programmed (and registered) before it began, no change to measure a reaction from, as
    # `_synced` reads it (random 25,000,744: each node's first listing and first 200, 1 ms
    # apart, measured seven lags of ~0 s, which made kube-proxy's bound 3.75 s where it
    # lagged 6-24 s)
    changes = [c for c in _ready_changes(state.endpoints.get(key, [])) if c[0] > listed_us]
    if not changes:
        return [], (None, None)
    health = state.probes["health"].get(key, [])
    looks = state.syncs.get((svc.cluster, node))
    if health:
        proxy = paired(health, "200", changes, "kube-proxy-programming", svc, node, window, was[0])
        out = proxy.lags()
    elif looks and not state.probes["nodeport"].get(key):  # no probe: kube-proxy's own metrics
        proxy = None
        out = _synced(state, changes, svc, node, window, settings)
    else:  # a NodePort closes later than the ready set with PTE: openings only
        nodeport = state.probes["nodeport"].get(key, [])
        name = "kube-proxy-programming"
        proxy = paired(nodeport, "connected", changes, name, svc, node, window, was[0])
        out = [s for s in proxy.lags() if s.up]
    lb = _lb_lags(state, svc, node, window, node_mode, changes, was[1], since_us=listed_us)
    out.extend(_lags(lb))
    return out, (proxy, lb)


def _lb_lags(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    window: int,
    node_mode: bool,
    changes: list[tuple[int, bool]] | None = None,
    was: Paired | None = None,
    *,
    since_us: int,
) -> Paired | None:
    """The LB's lags of one node (the tail of `_node_lags`; `changes`: its endpoints' ready
    changes after the first listing, when the caller has them; else those after `since_us`,
    the first listing's end; `was`: its pairing before the poll lane grew), as the pairing
    they came from (None: no endpoint change)."""
    key = (svc, node)
    if changes is None:
        lane = state.endpoints.get(key, [])
        changes = [c for c in _ready_changes(lane) if c[0] > since_us]
    if not changes:
        return None
    targets = state.probes["target"].get(key, [])
    names = ("lb-health-down", "lb-health-up") if node_mode else ("ccm-deregister", "ccm-register")
    return paired(targets, "healthy", changes, names, svc, node, window, was)


def _lags(pairing: Paired | None) -> list[LagSample]:
    return [] if pairing is None else pairing.lags()


def _looks_unread(before: tuple[int | bool, ...], now: tuple[int | bool, ...]) -> bool:
    """Whether two `node_inputs` differ in the count of kube-proxy's metrics looks alone, on a
    node with a health-check or NodePort lane: `_node_lags` reads the looks only on a node
    with neither (`_synced`), so its lags are the same (a scrape moves that count alone)."""
    return before[:4] == now[:4] and before[5:] == now[5:] and bool(now[1] or now[2])


def _polls_alone(before: tuple[int | bool, ...], now: tuple[int | bool, ...]) -> bool:
    """Whether two `node_inputs` differ in the LB poll lane's length alone."""
    return before[:3] == now[:3] and before[4:] == now[4:]


def ccm_lag_hi(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> int:
    """The largest CCM (endpoint-driven LB) lag to assume: measured from the LB polls where they
    measured it often enough (min_measurements; largest x lag_margin, plus half a poll period),
    else the wider of that and ccm_lag_max_s."""
    key = (svc, settings)
    known = state.memo.ccm_lag_hi.get(key)
    if known is not None:
        return known
    names = ("ccm-register", "ccm-deregister")
    measured = [s.seconds for s in lag_samples(state, [svc], settings) if s.lag in names]
    hi = 0
    if measured:
        targets = state.probes["target"]
        polls = [
            _poll_gap(state, (svc, node), lane)
            for node in state.service_nodes.get(svc, ())
            if (lane := targets.get((svc, node)))
        ]
        half = max(polls, default=0) / 2 / 1e6
        hi = seconds_us(settings.lag_margin * (max(measured) + half))
    if len(measured) < settings.min_measurements:
        hi = max(hi, seconds_us(settings.ccm_lag_max_s))
    state.memo.ccm_lag_hi[key] = hi
    return hi


def _poll_gap(state: FoldState, key: tuple[ServiceRef, str], lane: list[Sample]) -> int:
    """The largest gap an LB poll lane's samples name between themselves and the look
    before (0: none); kept in the memo with the lane's length (append-only: the samples
    added since are read alone)."""
    known = state.memo.lane_poll_gap.get(key)
    seen, gap = known if known is not None and known[0] <= len(lane) else (0, 0)
    for s in lane[seen:]:
        if s.prev_us is not None and s.at_us - s.prev_us > gap:
            gap = s.at_us - s.prev_us
    state.memo.lane_poll_gap[key] = (len(lane), gap)
    return gap


def lb_drop_lag(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> int | None:
    """The median measured lag (microseconds) of the LB dropping a node that lost its ready
    endpoints (CCM deregistration, or the health check going down); None with fewer than
    min_measurements. How long the endpoints must stay not ready for the LB to have likely
    dropped the node in between, where no poll saw it (replay.detect.classify)."""
    names = ("ccm-deregister", "lb-health-down")
    lags = sorted(s.seconds for s in lag_samples(state, [svc], settings) if s.lag in names)
    if len(lags) < settings.min_measurements:
        return None
    return seconds_us(percentile(lags, 50))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, -(-len(values) * q // 100))
    return values[int(rank) - 1]


def stats(samples: Sequence[LagSample]) -> tuple[LagStats, ...]:
    """p50/p90/p99/max per lag name, with sample counts (names without samples included)."""
    out: list[LagStats] = []
    for name in LAG_NAMES:
        values = sorted(s.seconds for s in samples if s.lag == name)
        if not values:
            out.append(LagStats(name, 0, None, None, None, None))
            continue
        out.append(
            LagStats(
                name,
                len(values),
                percentile(values, 50),
                percentile(values, 90),
                percentile(values, 99),
                values[-1],
            )
        )
    return tuple(out)
