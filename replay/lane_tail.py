"""A probed F's steps and its Tri (lanes.serves_signal: the NodePort or health lane's
`steps_from_samples`, then `tri_from_steps` of the steps as synced), and the bad looks of the
lane `unseen.excursions` reads (`unseen.bad_looks`, its loop `bad_run`; sorted after), carried
on from what a node's last refresh found instead of over its whole lane.

Both are one loop over their input in order, whose state after an element depends only on the
elements read so far: `signals.steps_where` (the value and the last sample's time: its
`initial` and `prev_at`), `signals.tri_run` (rising, and the open rise) and `unseen.bad_run`
(whether the last sample read was bad). Each run here feeds
the plain loop `STRIDE` elements at a time and keeps its state between them; the next run
resumes from the last kept state whose input read so far equals the new input's (a list
comparison, no Python loop: replay.resumed) and feeds the rest. The output is the
plain loop's own over the whole input (restarted: the state passed on is the one it would hold
there), whatever the lanes hold: a late sample, a step that syncs moved, another setting
(`initial`, the value read as true) each only resume earlier or from the start. A refresh
whose new samples land at the lane's end reads them and at most `STRIDE` before them.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import NamedTuple

from gapwatch.replay import iv_tail
from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.clocks import clock_offset, corrected, observer_of
from gapwatch.replay.fold import AT_US, FoldState, Sample
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.observed import observed, widened
from gapwatch.replay.proxy import REFUSED, silent_run
from gapwatch.replay.resumed import resume_at, same
from gapwatch.replay.signals import LO, Iv, Step, Tri, steps_where, tri_closed, tri_run
from gapwatch.replay.synced_tail import SyncedTrail
from gapwatch.replay.unseen import bad_run

#: elements between two kept states
STRIDE = 8

_VALUE = attrgetter("value")


class StepsTrail(NamedTuple):
    """`steps_where` over `samples`: its output and kept states (samples read, value, the last
    read sample's time, steps output), under `key` (accept, initial)."""

    samples: Sequence[Sample]
    out: list[Step]
    states: list[tuple[int, bool, int | None, int]]
    key: tuple[frozenset[str], bool]


class TriTrail(NamedTuple):
    """`tri_run` over `steps` from `initial`: the intervals it closed and its kept states
    (steps read, rising, the open rise, intervals output)."""

    steps: Sequence[Step]
    possible: list[Iv]
    definite: list[Iv]
    states: list[tuple[int, bool, tuple[int, int, int], int, int]]
    initial: bool


class BadTrail(NamedTuple):
    """`unseen.bad_run` over `samples` with every value but `good` bad: its output (unsorted)
    and kept states (samples read, the last read one bad, looks output)."""

    samples: Sequence[Sample]
    out: list[int]
    states: list[tuple[int, bool, int]]
    good: str
    kept: frozenset[str] = frozenset()


class SilenceTrail(NamedTuple):
    """`proxy.silent_run` over `health`: its stretches and kept states (looks read, stretches
    in `down` and in `unknown`), under `key` (the Node lane, node_grace_s)."""

    health: Sequence[Sample]
    down: list[Iv]
    unknown: list[Iv]
    states: list[tuple[int, int, int]]
    key: tuple[list[Sample], int]


class ServingTrail(NamedTuple):
    """`serving`'s loops: the two intersections of `t_and` (possible, definite), and where
    there were gaps, `minus_definite`'s complement of them and its intersection."""

    possible: iv_tail.Trail
    definite: iv_tail.Trail
    unsure: iv_tail.Trail | None
    minus: iv_tail.Trail | None


class Carried(NamedTuple):
    """A probed F's trails (lanes.serves_carried): the lane's steps, their Tri, the bad
    looks of the lane `unseen.excursions` reads, F's combining with the node's existence
    and the unseen gaps (`serving`), and the health lane's silent stretches."""

    steps: StepsTrail | None
    tri: TriTrail | None
    bad: BadTrail | None = None
    serving: ServingTrail | None = None
    #: the health lane's silent stretches as F read them (`silences`)
    silence: SilenceTrail | None = None
    #: the NodePort lane's steps as kube-proxy's looks place them (replay.synced_tail)
    synced: SyncedTrail | None = None


def steps(
    samples: Sequence[Sample], true: str, initial: bool, was: StepsTrail | None = None
) -> tuple[list[Step], StepsTrail]:
    """signals.steps_from_samples(samples, true, initial), resumed from `was`."""
    key = (frozenset((true,)), initial)
    if was is not None and was.key != key:
        was = None
    old = was.samples if was is not None else ()
    state, states = resume_at(was.states if was else [], lambda s: same(samples, old, s[0]))
    if state is None or was is None:
        i, current, prev_at, out = 0, initial, None, []
    else:
        i, current, prev_at, length = state
        out = was.out[:length]
    n = len(samples)
    while i < n:
        states.append((i, current, prev_at, len(out)))
        chunk = samples[i : i + STRIDE]
        got = steps_where(chunk, key[0], current, prev_at)
        if got:
            current = got[-1].value
            out += got
        prev_at = chunk[-1].at_us
        i += len(chunk)
    return list(out), StepsTrail(samples, out, states, key)


def tri(steps: Sequence[Step], initial: bool, was: TriTrail | None = None) -> tuple[Tri, TriTrail]:
    """signals.tri_from_steps(steps, initial), resumed from `was`."""
    if was is not None and was.initial != initial:
        was = None
    old = was.steps if was is not None else ()
    state, states = resume_at(was.states if was else [], lambda s: same(steps, old, s[0]))
    if state is None or was is None:
        i, rising, rise = 0, bool(initial), (LO, LO, 0)
        possible: list[Iv] = []
        definite: list[Iv] = []
    else:
        i, rising, rise, n_possible, n_definite = state
        possible, definite = was.possible[:n_possible], was.definite[:n_definite]
    n = len(steps)
    while i < n:
        states.append((i, rising, rise, len(possible), len(definite)))
        rising, rise = tri_run(steps[i : i + STRIDE], rising, rise, possible, definite)
        i += STRIDE
    trail = TriTrail(steps, possible, definite, states, initial)
    return tri_closed(list(possible), list(definite), rising, rise), trail


def bad_looks(
    samples: Sequence[Sample],
    good: str,
    was: BadTrail | None = None,
    kept: frozenset[str] = frozenset(),
) -> tuple[list[int], BadTrail]:
    """unseen.bad_looks(samples, lambda v: v != good and v not in kept), resumed from `was`
    (`kept`: answers that saw no excursion, replay.lanes)."""
    if was is not None and (was.good != good or was.kept != kept):
        was = None
    old = was.samples if was is not None else ()
    state, states = resume_at(was.states if was else [], lambda s: same(samples, old, s[0]))
    if state is None or was is None:
        i, last_bad, out = 0, False, []
    else:
        i, last_bad, length = state
        out = was.out[:length]
    n = len(samples)
    while i < n:
        states.append((i, last_bad, len(out)))
        chunk = samples[i : i + STRIDE]
        last_bad = bad_run(chunk, lambda v: v != good and v not in kept, last_bad, out)
        i += len(chunk)
    return sorted(out), BadTrail(samples, out, states, good, kept)


def silences(
    health: Sequence[Sample],
    node_lane: Sequence[Sample],
    grace_us: int,
    was: SilenceTrail | None = None,
) -> tuple[tuple[list[Iv], list[Iv]], SilenceTrail]:
    """proxy.silent_stretches(health, node_lane, grace_us), resumed from `was`. A state at
    look `i` stands where the looks up to `i` are the same (the stretch before it ended at
    `i`) and the Node lane is the same list (each stretch's confirmation reads all of it)."""
    key = (list(node_lane), grace_us)
    if was is not None and was.key != key:
        was = None
    old = was.health if was is not None else ()
    state, states = resume_at(was.states if was else [], lambda s: same(health, old, s[0] + 1))
    if state is None or was is None:
        i, down, unknown = 0, [], []
    else:
        i, n_down, n_unknown = state
        down, unknown = was.down[:n_down], was.unknown[:n_unknown]
    while i < len(health):
        states.append((i, len(down), len(unknown)))
        i = silent_run(health, i, i + STRIDE, node_lane, grace_us, down, unknown)
    return (list(down), list(unknown)), SilenceTrail(health, down, unknown, states, key)


def serving(
    tri: Tri, exists: Tri, gaps: list[Iv], was: ServingTrail | None = None
) -> tuple[Tri, ServingTrail]:
    """signals.minus_definite(signals.t_and(tri, exists), gaps): each of its loops (replay.
    iv_tail's `intersect` and `complement`, the plain ones restarted) resumed from `was`,
    instead of over F's whole Tri each time F is found again."""
    possible, t_possible = iv_tail.intersect(
        tri.possible, exists.possible, was.possible if was else None
    )
    definite, t_definite = iv_tail.intersect(
        tri.definite, exists.definite, was.definite if was else None
    )
    if not gaps:
        return Tri(possible, definite), ServingTrail(t_possible, t_definite, None, None)
    unsure, t_unsure = iv_tail.complement(gaps, was.unsure if was else None)
    definite, t_minus = iv_tail.intersect(definite, unsure, was.minus if was else None)
    return Tri(possible, definite), ServingTrail(t_possible, t_definite, t_unsure, t_minus)


class TimesTrail(NamedTuple):
    """`times`' list: the times of `samples`' first `read` samples (the list itself, kept to
    know the next call's is the same one), and whether one of them is a refused look."""

    samples: Sequence[Sample]
    read: int
    times: list[int]
    #: one of those samples' value is in proxy.REFUSED (node_cache.readings_read)
    refused: bool = False


def times(samples: Sequence[Sample], was: TimesTrail | None = None) -> tuple[list[int], TimesTrail]:
    """`[s.at_us for s in samples]` (F's reason samples' times, lanes.Lanes.reason_times),
    and in the trail `refused(samples)`; with `was`, the node's last call's, only the samples
    appended since are read. Exact where `samples` is the list `was` read (the fold's lane
    itself: `looks` gives it as it is with no offset and no skew): the fold appends to a lane
    and changes nothing in it (fold.keep_sample), so its first `was.read` samples are the ones
    whose times and values `was` read. Any other list (a new one each call: the health path's,
    a corrected lane) is read whole."""
    if was is not None and was.samples is samples and was.read <= len(samples):
        new = samples[was.read :]
        out = was.times + list(map(AT_US, new))
        found = was.refused or refused(new)
    else:
        out, found = list(map(AT_US, samples)), refused(samples)
    return out, TimesTrail(samples, len(samples), out, found)


def refused(samples: Sequence[Sample]) -> bool:
    """Whether one of `samples` is a refused look (its value in proxy.REFUSED)."""
    return not REFUSED.isdisjoint(map(_VALUE, samples))


class LookTrail(NamedTuple):
    """`observed.observed` of one lane that was in time order: the fold's lane it read (the
    list itself: append-only), how many of its samples, what it made of them, under `key` (the
    observer's clock offset, the skew widened by)."""

    lane: list[Sample]
    read: int
    out: list[Sample]
    key: tuple[int, int]


#: a node's LookTrails by the lane's kind (node_cache.Found.looks)
Looks = dict[str, LookTrail]


def looks(
    state: FoldState,
    kind: str,
    svc: ServiceRef,
    node: str,
    settings: DetectSettings,
    trails: Looks | None = None,
) -> list[Sample]:
    """observed.observed(state, kind, svc, node, settings); with `trails` (the node's, from
    its last call, updated here), only the samples appended since are read. Exact: the fold
    appends to a lane and changes nothing in it (fold.keep_sample), so where the lane is the
    list the trail read, its first `read` samples are the ones read then, in time order:
    the whole lane is in time order (fold.sorted_lane returns it as it is) where the new
    samples are, from the last one read on, and each output sample is its own input sample's,
    moved by the offset and widened by the skew (clocks.corrected, observed.widened), so the
    output read stands where the offset and skew are the same. Else the whole lane again."""
    if trails is None:
        return observed(state, kind, svc, node, settings)
    lane = state.probes[kind].get((svc, node), [])
    offset = clock_offset(state, svc.cluster, observer_of(kind), settings)
    key = (offset, max(abs(offset), seconds_us(settings.clock_skew_s)))
    was = trails.pop(kind, None)
    read = 0
    if was is not None and was.lane is lane and was.read <= len(lane):
        read = was.read
    times = list(map(AT_US, lane[max(read - 1, 0) :]))
    if times != sorted(times):
        return observed(state, kind, svc, node, settings)  # not in time order: sorted anew
    # (with no offset and no skew observed() gives the lane itself)
    head = was.out[:read] if was is not None and read and was.key == key != (0, 0) else []
    out = lane if key == (0, 0) else head + widened(corrected(lane[len(head) :], offset), key[1])
    trails[kind] = LookTrail(lane, len(lane), out, key)
    return out
