"""Whether a local pod was up, from the Pod objects alone: for F read from the health check.

With externalTrafficPolicy Local a node forwards external traffic only to its own endpoints, so
it serves only while one of its local pods runs. The health-check node port cannot show a pod's
death: it counts the endpoints kube-proxy programmed, and a dead pod's endpoint stays counted
until the EndpointSlice drops it and kube-proxy syncs (docs/semantics.md). A NodePort probe
sees it (`refused`: rules left, no pod); without one, the Pod object is the evidence: its
kubelet reports the container's `terminated` state with `finishedAt`, or the pod is deleted.
A pod is up from its first update that says so (ready or terminating; possibly up to the watch
skew earlier: the update may be seen late) to its death (replay.deaths.death_span: its
finishedAt where reported, else no more than pod_status_s before the update that says it
stopped; either way after the last update that saw it up, whose write is known to the second
at best (metav1.Time: replay.owntime places it at the latest its stamp allows; a terminating
update is the DELETE's write, its status the kubelet's last report), so from up to
STAMP_RESOLUTION_US before that update). A pod whose first update seen says it is up was up
before the recording saw it (the initial list). One that came up during the recording is
surely forwarded to only once kube-proxy can have programmed it, and kube-proxy programs only
what the EndpointSlices list: no sooner than its lag bound after the first slice version that
listed the pod ready (FoldState.slice_ready; an EndpointSlice controller behind leaves a Ready
pod unlisted, while the dead pod's endpoint it still lists keeps the health check at 200).
Sooner where the health check's count of ready local endpoints shows a version listing it:
kube-proxy hands its health server the count of the version it synced, so a count that only
versions listing the pod had, among those kube-proxy can have held at the look, is one of
theirs (`_count_shows`, FoldState.ready_counts). The count rising shows that programming from
the pod's first listing as ready on, also where the listing came before the Pod update that
says Ready (the controller lists only a Ready pod, so it was Ready by then; the Pod watch may
be the later one).

A terminating pod is up but not always forwarded to (`_shadowed`): kube-proxy forwards to a
serving-terminating local endpoint only where it programmed no ready one (KEP-1669, DESIGN.md
section 6), and an EndpointSlice never lists a terminating endpoint ready. So from when
kube-proxy surely forwards to a pod whose Ready was written after the other pod's deletion (by
the watch skew and a stamp's second: one watch delivers a resource's writes in order, the
EndpointSlice controller's too, so every version listing it ready lists the deleted one not
ready) until the node's endpoints lane leaves `ready` (less the watch skew: kube-proxy may
read that version first), the terminating pod takes no traffic: kube-proxy never goes back to
an older version, and every version from that listing on lists a ready endpoint beside the
deleted one not ready. Were the ready one to die then, its rules are what is left (random
27,000,534 node-003 without NodePort probes: a replacement's crash beside the old pod still in
its preStop hook, read as served until the crash's Pod update, 2 s after its finishedAt). The
health check's counts read in kube-proxy's order of versions show it too, also where the ready
pod's Ready was written before the deletion (replay.held: after looks counting two, a count of
one from a version that lists the terminating pod not ready; after looks counting none, one
from a version listing the replacement): surely not forwarded to from such a look, possibly
until a look shows kube-proxy past it. Pure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from gapwatch.replay.context import endpoint_steps, local_pods
from gapwatch.replay.deaths import death_span
from gapwatch.replay.fold import FoldState, Sample
from gapwatch.replay.held import held_at, not_forwarded
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.owntime import STAMP_RESOLUTION_US, written_from
from gapwatch.replay.podstate import ALIVE, STOPPED, UP
from gapwatch.replay.signals import HI, LO, Iv, Tri, complement, intersect, union
from gapwatch.replay.syncedup import programmed_by
from gapwatch.replay.syncs import SyncIndex

NO_LOOKS = SyncIndex((), ())


def _counted(health: Sequence[Sample], times: list[int], up_us: int, by_us: int) -> int:
    """When kube-proxy surely forwarded to a pod that came up at `up_us`: by `by_us`, or at the
    first health-check answer after it that counted more ready local endpoints than the answer
    stored before it, where that one was no 200 (a 200 after a 503 or a look that got no
    count): counts are pushed after the rules sync that wrote them (DESIGN.md section 6). A
    count that rose between two 200s may be another pod's newly listed endpoint: `_count_shows`
    reads those."""
    for i in range(bisect_left(times, up_us), len(health)):
        h = health[i]
        if h.at_us >= by_us:
            break
        before = health[i - 1] if i else None
        rose = before is not None and (before.value == "503" or (before.num or 0) < (h.num or 0))
        if h.value == "200" and before is not None and before.value != "200" and rose:
            return h.at_us
    return by_us


def _count_shows(
    health: Sequence[Sample],
    times: list[int],
    counts: Sequence[tuple[int, int]],
    listed_us: int,
    until_us: int,
    by_us: int,
    lag_us: int,
    skew_us: int,
) -> int:
    """When kube-proxy surely forwarded to a pod first listed ready at `listed_us` and listed
    until `until_us`: at the first health-check answer from the listing on whose count of
    ready local endpoints (`localEndpoints`) only a slice version listing the pod had, else
    `by_us`. kube-proxy programs whole versions and hands the health server the ready count of
    the version it synced (DESIGN.md section 6), no older at a look than the newest version
    written its lag bound (`lag_us`) before: so a count that every version before the listing
    from then on had not (`counts`: the node's ready count at each version that changed it,
    each written up to `skew_us` before its lane time), and that a version from the listing to
    the look had, is the count of a version listing the pod."""
    if not counts:
        return by_us
    at = [t for t, _n in counts]
    for i in range(bisect_left(times, listed_us), len(health)):
        h = health[i]
        if h.at_us >= min(by_us, until_us):
            break
        if h.value != "200" or not h.num:
            continue
        # the versions kube-proxy may hold at the look without the pod: from the newest written
        # its lag bound before the look, to the listing (exclusive)
        first = max(0, bisect_right(at, h.at_us - lag_us - skew_us) - 1)
        without = {n for t, n in counts[first:] if t < listed_us}
        # the versions listing it, from the listing to the look
        since = max(0, bisect_right(at, listed_us) - 1)
        listing = {n for t, n in counts[since:] if t <= h.at_us}
        if h.num in listing and h.num not in without:
            return h.at_us
    return by_us


def _listed(listings: Sequence[int], since_us: int, lag_us: int) -> int:
    """When kube-proxy surely forwards to a pod whose run began at `since_us`: kube-proxy
    programs only the endpoints an EndpointSlice lists, so no sooner than its lag bound after
    the first listing of the pod as ready from then on (`listings`: FoldState.slice_ready);
    never (HI) where no slice listed it ready (the EndpointSlice controller behind)."""
    i = bisect_left(listings, since_us)
    return listings[i] + lag_us if i < len(listings) else HI


def _restarted(
    state: FoldState,
    svc: ServiceRef,
    pod: str,
    began: int,
    again: int,
    sure_before: int,
    lag_us: int,
    skew_us: int,
) -> int:
    """When kube-proxy surely forwards again to a pod whose container crashed and restarted
    between two status writes (replay.podstate.restarted), the new one seen up at `again`: by that
    update (it reports the new container ready), and no sooner than its endpoint was surely
    forwarded to before the crash (`sure_before`); where a slice listed the pod ready anew
    since the new container began (`began`: the Ready was written false in between, unseen),
    kube-proxy programs it again, its lag bound after that listing."""
    sure = max(again, sure_before)
    listings = state.slice_ready.get((svc, pod), ())
    relisted = _listed(listings, began - skew_us, lag_us)
    if relisted < HI and relisted - lag_us <= again + skew_us:
        sure = max(sure, relisted)
    return sure


def pods_up(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    *,
    skew_us: int,
    clock_us: int,
    status_us: int,
    program_us: int,
    lag_us: int,
    health: Sequence[Sample] = (),
    looks: SyncIndex = NO_LOOKS,
    sync_reach_us: int = 0,
    sync_span_us: int = 0,
) -> Tri | None:
    """Where any local pod of the Service was possibly up and surely up and programmed (module
    docstring); None where no local pod's Pod object was seen (nothing to say: F is left as it
    was). `program_us`: how long after a pod came up kube-proxy may still not forward to it
    (the EndpointSlice controller's lag and kube-proxy's largest), also where another local
    pod was up then: that one is forwarded to only while it lives (a replacement read as
    forwarded from its Ready because the old pod was up hid the gap where the old pod died
    first: tests/replay/test_replacement_unprogrammed.py). The health check's 200 does not say
    which endpoint it counted, a dead one still listed or its replacement, unless its count
    rose after the pod came up (or after its listing, less the watch skew `skew_us`: kube-proxy
    may read the version before the recorder does) from a look that counted none (`health`:
    the node's health-check lane, `_counted`) or is one only a slice version listing the pod had
    (`_count_shows`). `lag_us`:
    kube-proxy's largest lag, counted from the pod's first listing as ready (`_listed`) where
    the slice facts name their ready pods. `looks`: kube-proxy's metrics looks on the node,
    a sync begun `sync_reach_us` after the listing (its duration the histogram's, else
    `sync_span_us`) programmed the pod by its end (replay.syncedup)."""
    # (came up, surely stopped by, possibly up until, the pod, first seen not ready at, its
    # stop before, surely up again by where it restarted in the run before, else None, first
    # seen terminating at)
    runs: list[tuple[int, int, int, str, int, int, int | None, int]] = []
    seen = False
    for pod in local_pods(state, svc, node):
        lane = state.pods.get((svc.cluster, svc.namespace, pod), [])
        seen = seen or bool(lane)
        began: int | None = None
        last_up = after = LO
        unready = term = HI
        again: int | None = None
        for i, p in enumerate(lane):
            if began is not None and p.started_us is not None:
                # a crash and a restart between two status writes (podstate.restarted): down
                # from the old container's finishedAt, possibly up again from the new one's
                # startedAt (whole seconds, the node's clock), surely by this update (ready)
                lo, hi = death_span(last_up, p.at_us, p.finished_us, clock_us, status_us)
                runs.append((began, lo, hi, pod, min(unready, p.at_us), after, again, term))
                began, after, unready = max(lo, p.started_us - clock_us), p.at_us, HI
                again, last_up = p.at_us, written_from(p.at_us)
                continue
            if p.state in UP or (began is not None and p.state in ALIVE):
                if began is None:
                    began, unready = (LO if i == 0 else p.at_us), HI
                if p.state != "ready":
                    unready = min(unready, p.at_us)
                if p.state == "terminating":
                    term = min(term, p.at_us)
                last_up = written_from(p.at_us)
            elif began is not None and p.state in STOPPED:
                lo, hi = death_span(last_up, p.at_us, p.finished_us, clock_us, status_us)
                runs.append((began, lo, hi, pod, min(unready, p.at_us), after, again, term))
                began, after, again, term = None, p.at_us, None, HI
        if began is not None:
            runs.append((began, HI, HI, pod, unready, after, again, term))
    if not seen:
        return None
    times = [h.at_us for h in health]
    possible: list[Iv] = []
    definite: list[Iv] = []
    # the slice facts name their ready pods (facts derived before they did name none: then
    # the listing is unknown, and only the Ready and the lags bound the programming)
    named = any((svc, pod) in state.slice_ready for *_, pod, _u, _a, _g, _t in runs)
    counts = state.ready_counts.get((svc, node), ())
    sure_before = LO
    # per run: where possibly up, where surely up and programmed, when surely forwarded from
    each: list[tuple[list[Iv], list[Iv], int]] = []
    for began, lo, hi, pod, unready, after, again, _term in runs:
        if again is not None:
            # the same endpoint, not relisted: forwarded to again as it was before the crash,
            # once the new container runs and is ready (`restarted`)
            sure = _restarted(state, svc, pod, began, again, sure_before, lag_us, skew_us)
            each.append(([Iv(max(LO, began), hi)], [Iv(sure, lo)] if sure < lo else [], sure))
            sure_before = sure
            continue
        up_iv = Iv(max(LO, began - skew_us), hi)
        sure = began
        # a pod that came up during the recording is forwarded to only once kube-proxy programmed
        # it, also beside another local pod: that one forwarded only while it lived, and where it
        # died first the node had nothing to forward to until then (the union of the runs)
        if began > LO:
            by = began + program_us
            counted_from = began
            if named:
                listings = state.slice_ready.get((svc, pod), ())
                by = max(by, _listed(listings, began - skew_us, lag_us))
                listed = _listed(listings, began - skew_us, 0)
                if listed < HI:
                    # listed until its first update not ready, possibly seen that late
                    until = unready - skew_us
                    synced = programmed_by(looks, listed, until, sync_reach_us, sync_span_us)
                    by = min(by, synced)
                    by = _count_shows(health, times, counts, listed, until, by, lag_us, skew_us)
                # listed ready before its Ready was seen: the pod was Ready by its listing
                counted_from = min(began, _listed(listings, max(after, began - lag_us), 0))
            # kube-proxy may have had the version listing it up to the watch skew before the
            # recorder's watch delivered it, and counted it then
            sure = _counted(health, times, counted_from - skew_us, by)
        each.append(([up_iv], [Iv(sure, lo)] if sure < lo else [], sure))
        sure_before = sure
    # when the node's endpoints lane left `ready`: read only where a local pod was terminating
    left = (
        [s.earliest for s in endpoint_steps(state, svc, node, ("ready",)) if not s.value]
        if any(r[7] < HI for r in runs)
        else []
    )
    versions = state.ready_sets.get((svc, node), ())
    terminating = any(r[7] < HI for r in runs)
    held = held_at(health, versions, lag_us, skew_us) if terminating else []
    for k, (maybe, surely, _sure) in enumerate(each):
        hidden = _shadowed(runs, each, k, left, skew_us)
        loose: list[Iv] = []
        if held and runs[k][7] < HI:
            # the health check's counts, read in kube-proxy's order of versions (replay.held)
            shown, loose = not_forwarded(held, versions, runs[k][3], lag_us, skew_us)
            hidden = union(hidden, shown)
        if hidden:
            keep = complement(hidden)
            maybe, surely = intersect(maybe, keep), intersect(surely, keep)
        if loose:
            surely = intersect(surely, complement(loose))
        possible += maybe
        definite += surely
    return Tri(union(possible, []), union(definite, []))


def _shadowed(
    runs: Sequence[tuple[int, int, int, str, int, int, int | None, int]],
    each: Sequence[tuple[list[Iv], list[Iv], int]],
    k: int,
    left: Sequence[int],
    skew_us: int,
) -> list[Iv]:
    """Where run `k`, terminating, takes no traffic because kube-proxy surely forwards to a
    ready local endpoint (module docstring): from when another run that came up during the
    recording was surely forwarded to, its Ready written after run `k` was seen terminating
    (its Ready seen more than the watch skew and a stamp's second after), until the node's
    endpoints lane next left `ready` after that Ready (`left`: when it did, in order), less
    the watch skew; none while run `k` is not terminating."""
    term = runs[k][7]
    if term == HI:
        return []
    out: list[Iv] = []
    for j, (began, *_rest, again, _term) in enumerate(runs):
        if j == k or again is not None or began == LO:
            continue
        if began - skew_us - STAMP_RESOLUTION_US <= term:
            continue  # its Ready may have been written before the deletion: listed beside it
        i = bisect_right(left, began - skew_us)
        end = left[i] - skew_us if i < len(left) else HI
        sure = each[j][2]
        if sure < end:
            out.append(Iv(sure, end))
    return union(out, [])
