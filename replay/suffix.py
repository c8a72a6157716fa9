"""Re-detecting a moved node from an instant on: the windows before it stay as they were.

A refresh (replay.node_cache) re-detects a node whose lanes grew. The new samples change what
detection derives only from some instant on; every window all of whose bounds lie before that
instant is found from the same values and is kept. `influence_from` works that instant out
from what detection reads; `reusable` checks what it cannot bound (a node falls back to its
whole history then):

1. `t_new`: the earliest new sample of any of the node's lanes (endpoints, the three probe/LB
   lanes, the Node, kube-proxy's metrics) or the previous look it names (`Sample.prev_us`:
   the change happened after it); for a pod's sample saying it stopped after an up state,
   the sample before (its death range begins there: replay.unseen.death_ranges).
2. `look_back_us`: the sum of every duration detection shifts or widens an instant by: each
   assumption in seconds (replay.assumptions; the lags times `lag_margin`), the LB's
   health-check thresholds times its interval, and what the Service's data measured in their
   place (kube-proxy's and the CCM's lag bounds, the probe period, the observers' clock
   offsets, the target groups' check lead). A chain of shifts is at most their sum.
3. From `x = t_new - look_back_us`, each lane's floor. Where `x` falls inside a stretch that
   detection reads as one span (the endpoints not ready: an excursion, or a loss whose return
   is searched forward, replay.unseen.hidden and replay.undecided; a probe/LB lane not
   answering well: silent and refused stretches, replay.proxy; a Node not Ready), the look
   before that stretch's first sample; else the look before the lane's next change (the
   change happened after it). The endpoints' unended not-ready stretch that the lane did not
   grow in, once a probe look saw a bad value after its last sample, floors at `x` itself
   (`_eps_floor` says why each reader allows it).
4. The instant is the lowest floor minus `look_back_us` again (what happens at a floor may be
   shifted back once more).

What no duration bounds, `reusable` compares: R and F before the instant (kube-proxy's metrics
may settle a change programmed long before, a passing check may cut R anywhere:
replay.checked.proven_unrouted is all or nothing over the node), the whole-lane facts the
classes read (measured or inferred, whether a health or reason lane exists), the last look
that saw the LB routing to the node (`detect._drop_seen`) and the first not-serving sample a
window with none before it reads forward (`detect._false_reason`).
tests/replay/test_suffix.py refreshes in two steps at a cut inside a window's look-back.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, NamedTuple

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.checked import check_lead
from gapwatch.replay.clocks import OBSERVERS, clock_offset
from gapwatch.replay.context import local_pods
from gapwatch.replay.fold import AT_US, PROBE_FACTS, FoldState, PodSample, Sample, sorted_lane
from gapwatch.replay.lags import ccm_lag_hi
from gapwatch.replay.lane_order import in_time
from gapwatch.replay.lanes import Lanes
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.podstate import ALIVE, STOPPED
from gapwatch.replay.proxy import REFUSED, probe_period
from gapwatch.replay.resumed import common_prefix
from gapwatch.replay.signals import HI, Iv, Tri

#: a probe/LB lane's value that answered well (any other is read as a stretch: replay.proxy)
_WELL = frozenset({"connected", "200", "healthy"})
#: not-serving sample values (detect._false_reason reads the others)
_SERVING = ("connected", "200")


def look_back_us(state: FoldState, svc: ServiceRef, mine: DetectSettings, lag_hi: int) -> int:
    """The sum of every duration detection moves an instant by (module docstring, 2)."""
    seconds = sum(
        value
        for f in fields(mine)
        if f.name.endswith("_s") and isinstance(value := getattr(mine, f.name), int | float)
    )
    checks = (mine.hc_healthy_threshold + mine.hc_unhealthy_threshold) * mine.hc_interval_s
    offsets = max(abs(clock_offset(state, svc.cluster, o, mine)) for o in OBSERVERS)
    measured = lag_hi + ccm_lag_hi(state, svc, mine) + 2 * offsets + check_lead(state, svc)
    period = probe_period(state, svc)
    return seconds_us(max(1.0, mine.lag_margin) * seconds + checks + period) + measured


def _floor(lane: Sequence[Sample], at_us: int, stretch: Callable[[Sample], bool]) -> int:
    """How far back what the lane (time-ordered) shows at `at_us` reaches: inside a stretch of
    samples `stretch` holds for, to where that stretch began (the look before its first
    sample); else to the look before the next change, which happened after it."""
    i = bisect_right(lane, at_us, key=AT_US) - 1
    out = at_us
    if i >= 0 and stretch(lane[i]):
        while i > 0 and stretch(lane[i - 1]):
            i -= 1
        out = min(out, lane[i].at_us, _look_before(lane[i]))
    elif i + 1 < len(lane):
        out = min(out, _look_before(lane[i + 1]))
    return out


def _eps_floor(
    eps: Sequence[Sample], at_us: int, grew: bool, probes: Sequence[Sequence[Sample]]
) -> int:
    """The endpoints lane's floor (`_floor`), but `at_us` itself where it falls inside the
    lane's unended not-ready stretch, the lane did not grow (`grew`) and a look of the node's
    probe/LB lanes (`probes`, time-ordered) saw a bad value (`unseen.bad_looks`) between the
    lane's last sample and `at_us`. A window reads the endpoints lane at or before instants of
    its own (detect._dropped, _ready_through, _handed_over, value_at) but for
    undecided.lb_excursion, which searches forward for the end of a loss: an unended stretch
    has none, and the lane did not grow. `unseen.hidden` reads an unended down period (of the
    ready or the serving endpoints: each begins at or before the lane's last sample) as one
    span: a bad look anywhere in it drops the period, so once one is there no new look changes
    what it gives. Without one, a new bad look would move R or F from the period's start,
    which `reusable` compares (the whole history again): the stretch's floor stands then."""
    floor = _floor(eps, at_us, _not_ready)
    if grew or floor >= at_us or not eps or eps[-1].value == "ready":
        return floor
    if any(s.value == "ready" for s in eps[bisect_right(eps, at_us, key=AT_US) :]):
        return floor  # the stretch ends after at_us: not unended
    last = eps[-1].at_us
    if any(_bad_look_within(lane, last, at_us) for lane in probes):
        return at_us
    return floor


def _bad_look_within(lane: Sequence[Sample], lo: int, hi: int) -> bool:
    """Whether a look of the lane (time-ordered) saw a bad value in [lo, hi): what
    `unseen.bad_looks` finds of the samples around it (a bad run that began before `lo` is
    seen at the next sample's previous look), searched from `hi` back, so that it stops at
    the newest such look. A refresh inside a long unended stretch asks with `lo` the stretch's
    last endpoints sample: a search from `lo` on read the probe lanes' whole history since."""
    i = max(bisect_left(lane, lo, key=AT_US) - 1, 0)
    j = min(bisect_left(lane, hi, key=AT_US) + 1, len(lane))
    for k in range(j - 1, i - 1, -1):
        s = lane[k]
        if _bad(s.value):
            if lo <= s.at_us < hi:
                return True
        elif k > i and s.prev_us is not None and _bad(lane[k - 1].value) and lo <= s.prev_us < hi:
            return True
    return False


def _not_ready(s: Sample) -> bool:
    return s.value != "ready"


def _bad(value: str) -> bool:
    """A look `unseen.hidden` may read as having seen an excursion: one that did not answer
    well and, whatever the lane, no refused or reset connection (the health lane reads those
    as none: replay.lanes `_closed_answer`; on the NodePort they are, so the floor is only
    lower there)."""
    return value not in _WELL and value not in REFUSED


def _bad_sample(s: Sample) -> bool:
    return s.value not in _WELL


def _look_before(s: Sample) -> int:
    return s.prev_us if s.prev_us is not None else s.at_us


def _pod_floor(lane: Sequence[PodSample], old: int) -> int | None:
    """The earliest instant a pod's new samples (those past `old`, in arrival order) reach
    back to: a stop after an up state opens its death range at the sample before
    (replay.unseen.death_ranges)."""
    out: int | None = None
    for i in range(old, len(lane)):
        at = lane[i].at_us
        if i and lane[i].state in STOPPED and lane[i - 1].state in ALIVE:
            at = min(at, lane[i - 1].at_us)
        out = at if out is None else min(out, at)
    return out


def influence_from(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    version: tuple[Any, ...],
    syncs: int,
    back_us: int,
    moved: Sequence[int] = (),
    in_order: Mapping[str, list[Sample]] | None = None,
) -> int | None:
    """The earliest instant the samples added to the node's lanes since `version` (its lane
    lengths: checkpoint.lane_versions) and `syncs` (its kube-proxy metrics looks) can move
    detection at (module docstring); HI where none was added (only the end of the data moved:
    it ends the window still open there alone); None where that is not bounded: a lane that
    was empty (a lane's first sample changes what its whole history reads), a pod gone from
    the node. `moved`: the newest looks of a down node's probe lanes that a newer look (a
    repeat, which no lane length counts) replaced (replay.node_cache.down_looks): what
    `detect._went_down` read changes after them, as after a new sample's previous look.
    `in_order`: probe/LB lanes by kind (PROBE_FACTS) known to be in time order, the fold's
    lists themselves (replay.lane_tail.looks read them so): fold.sorted_lane would return
    them as they are, so they are not checked again."""
    key, cluster = (svc, node), svc.cluster
    eps = state.endpoints.get(key, [])
    probes = [state.probes[k].get(key, []) for k in PROBE_FACTS]
    node_lane = state.nodes.get((cluster, node), [])
    looks = state.syncs.get((cluster, node), [])
    pods = {
        pod: state.pods.get((cluster, svc.namespace, pod), [])
        for pod in local_pods(state, svc, node)
    }
    lens = [version[0], *version[1 : 1 + len(PROBE_FACTS)], version[1 + len(PROBE_FACTS)]]
    old_pods = dict(version[2 + len(PROBE_FACTS)])
    lanes_: list[Sequence[Any]] = [eps, *probes, node_lane]
    if any(n > len(lane) or (n == 0 and lane) for n, lane in zip(lens, lanes_, strict=True)):
        return None
    if any(pod not in pods for pod in old_pods) or syncs > len(looks) or (not syncs and looks):
        return None
    grown: list[Sequence[Any]] = [lane[n:] for n, lane in zip(lens, lanes_, strict=True)]
    firsts = [min(_look_before(s) for s in new) for new in grown if new]
    firsts += [look.at_us for look in looks[syncs:]]
    firsts += moved
    firsts += [
        t for pod, lane in pods.items() if (t := _pod_floor(lane, old_pods.get(pod, 0))) is not None
    ]
    if not firsts:
        return HI
    x = min(firsts) - back_us
    known = in_order or {}
    ordered = [
        p if known.get(k) is p else in_time(state, k, svc, node)
        for k, p in zip(PROBE_FACTS, probes, strict=True)
    ]
    floors = [
        _eps_floor(sorted_lane(eps), x, len(eps) > lens[0], ordered),
        *(_floor(p, x, _bad_sample) for p in ordered),
        _floor(sorted_lane(node_lane), x, lambda s: s.value != "Ready"),
    ]
    return min(x, *floors) - back_us


def same_before(a: list[Iv], b: list[Iv], at_us: int) -> bool:
    """Whether `before` cuts `a` and `b` alike at `at_us` (`before(Tri(a, []), at_us)[0] ==
    before(Tri(b, []), at_us)[0]`), cutting only what follows their longest common prefix:
    `before` keeps or cuts each interval by itself, so the prefix's intervals come out the same
    in both (resumed.common_prefix)."""
    if a is b:
        return True
    lo = common_prefix(a, b)
    return before(Tri(a[lo:], []), at_us)[0] == before(Tri(b[lo:], []), at_us)[0]


def before(sig: Tri, at_us: int) -> tuple[list[Iv], list[Iv]]:
    """The signal's intervals before `at_us`, cut there (an end cut off names no change)."""

    def cut(ivs: list[Iv]) -> list[Iv]:
        return [
            iv if iv.end < at_us else Iv(iv.start, at_us, iv.start_eid, 0)
            for iv in ivs
            if iv.start < at_us
        ]

    return cut(sig.possible), cut(sig.definite)


def shape(found: Lanes) -> tuple[bool, ...]:
    """What the classes read of a node's whole lanes (module docstring)."""
    return (found.measured, bool(found.reason_samples), bool(found.health), bool(found.forwardable))


def routed_again(targets: Sequence[Sample]) -> int | None:
    """The last look that saw the LB routing to the node (detect._drop_seen)."""
    return max((t.at_us for t in targets if t.value == "healthy"), default=None)


class RoutedTrail(NamedTuple):
    """`routed_again` of the target lane `lane`'s first `read` samples (`at`)."""

    lane: Sequence[Sample]
    read: int
    at: int | None


def routed_on(lane: Sequence[Sample], was: RoutedTrail | None) -> RoutedTrail:
    """`routed_again(lane)`, read from `was` (the node's trail from its last refresh) on where
    it read the same list: the fold appends to a lane and changes nothing in it
    (fold.keep_sample), so its first `was.read` samples are those read then, and the latest
    of a union is the later of its parts' latest. Else the whole lane."""
    if was is None or was.lane is not lane or was.read > len(lane):
        return RoutedTrail(lane, len(lane), routed_again(lane))
    new = routed_again(lane[was.read :])
    at = was.at if new is None else new if was.at is None else max(was.at, new)
    return RoutedTrail(lane, len(lane), at)


def reusable(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    at_us: int,
    old: tuple[Tri, Tri, tuple[bool, ...], list[Iv]],
    found: Lanes,
    targets_before: int,
    trails: tuple[RoutedTrail | None, RoutedTrail] | None = None,
) -> bool:
    """Whether the windows before `at_us` can be kept: R and F the same before it, where an
    unseen gap may have opened earlier (`Lanes.earlier`) the same before it, the same
    whole-lane facts (`shape`), the last look routing to the node the same or after it (the
    target lane had `targets_before` samples), and a not-serving sample before it.
    `trails`: the target lane's `routed_on` trails, the node's last refresh's and this one's
    (the last look routing then, where it read `targets_before` samples of the same list, and
    now), so that neither is read over the whole lane again."""
    routed, serves, was, earlier = old
    if was != shape(found):
        return False
    pairs = (
        (earlier, found.earlier),
        (routed.possible, found.routed.possible),
        (routed.definite, found.routed.definite),
        (serves.possible, found.serves.possible),
        (serves.definite, found.serves.definite),
    )
    if not all(same_before(a, b, at_us) for a, b in pairs):
        return False
    lane = state.probes["target"].get((svc, node), [])
    last, now = trails if trails is not None else (None, None)
    if last is not None and last.lane is lane and last.read == targets_before:
        then = last.at
    else:
        then = routed_again(lane[:targets_before])
    if (then is None or then < at_us) and then != (
        now.at if now is not None and now.lane is lane else routed_again(lane)
    ):
        return False
    first_bad = next((s.at_us for s in found.reason_samples if s.value not in _SERVING), None)
    return not found.reason_samples or (first_bad is not None and first_bad < at_us)
