"""A terminating pod's exit no kubelet reported, against its node's end: a window read
`node-not-ready` names `pod-gone-before-deregistered` where that exit may lie in its start range.

A DELETE makes a pod terminating: the kubelet runs its preStop hook, then sends SIGTERM and,
if the containers still run when `deletionGracePeriodSeconds` is up, SIGKILL
(`metadata.deletionTimestamp` is that instant: the DELETE's time plus the grace period, whole
seconds; kubelet `killContainer`, pkg/kubelet/kuberuntime/kuberuntime_container.go). So the
pod's containers stop somewhere between the DELETE plus the preStop hook's stated length (no
more than the grace period) and the deletionTimestamp, when the app chooses: nothing in the Pod
says when. The kubelet reports the stop (a container `terminated`, its `finishedAt`) in a
status write, which a node that stopped never sends: its pods stay terminating until the node
lifecycle controller marks them (Ready False, nothing else: replay.nodemark) or PodGC removes
them (replay.orphans).

replay.detect.classify reads a window's cause at its start's latest instant: where the node had
stopped answering by then (or its Node said so), `node-not-ready`. Where a local pod's
unreported exit may fall in the window's start range at an instant where F may still have held
and no other local pod was ready (so that pod was the last one kube-proxy could forward to), and
before the node's last silence began (its first health check unanswered, none answered again
until its Node turned NotReady, Unknown or deleted: after that the pod went with the node), the
pod may have exited inside the range before the node stopped (`pod-gone-before-deregistered`)
or the node may have stopped first: nothing in the log orders the two (the exit is the app's,
the node's end is bounded only by its looks). The window keeps its class and names the other.
Not where a kubelet reported the stop (a finishedAt: the other rules read its time,
replay.deaths). No number assumed: the span is the pod's own. Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise

from gapwatch.replay.context import pod_lanes
from gapwatch.replay.fold import AT_US, FoldState, PodSample, Sample
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.opener import NODE_DOWN, answered, answered_in
from gapwatch.replay.owntime import STAMP_RESOLUTION_US
from gapwatch.replay.podstate import STOPPED
from gapwatch.replay.signals import HI, Iv
from gapwatch.replay.undecided import NNR, PGBD


def exit_span(lane: Sequence[PodSample]) -> tuple[int, int] | None:
    """When a pod deleted gracefully may have exited, where no kubelet reported it: from its
    DELETE (its first terminating update's deletionTimestamp less the grace period) plus its
    preStop hook's stated length (the kubelet signals the containers once the hook returns;
    no longer than the grace period) to the
    deletionTimestamp (whole seconds: plus one), or to the update that first says it stopped
    without a finishedAt (a removal that was not its kubelet's), whichever is first. None where
    it was never deleted so or its kubelet reported the stop (a finishedAt)."""
    k = next((i for i, p in enumerate(lane) if p.state == "terminating"), None)
    if k is None or lane[k].deletion_us is None:
        return None
    deleted = lane[k]
    due = deleted.deletion_us
    assert due is not None
    if deleted.grace_s is None:  # an audit request without the object: the DELETE's own time
        lo, hi = due, HI
    else:
        lo, hi = due - deleted.grace_s * 1_000_000, due + STAMP_RESOLUTION_US
        # the kubelet sends SIGTERM once the preStop hook returns (or the grace runs out)
        hook_ms = min(deleted.prestop_ms or 0, deleted.grace_s * 1000)
        lo += hook_ms * 1000
    stop = next((p for p in lane[k + 1 :] if p.state in STOPPED), None)
    if stop is not None:
        if stop.finished_us is not None:
            return None  # the kubelet reported it: replay.deaths reads its time
        hi = min(hi, stop.at_us)
    return lo, hi


def _state_at(lane: Sequence[PodSample], at_us: int) -> str | None:
    """The pod's state as its last update at or before `at_us` says (None before the first)."""
    k = bisect_right(lane, at_us, key=AT_US)
    return lane[k - 1].state if k else None


def silent_from(health: Sequence[Sample], node_lane: Sequence[Sample], at_us: int) -> int:
    """When the node's last silence before `at_us` began: the first health check after the
    last one it answered, where no check was answered from there until its Node was seen
    NotReady, Unknown or deleted (both lanes time-ordered; the silence is then the node's,
    replay.opener `went_down_silent`); HI where there is no such silence."""
    i = bisect_right(health, at_us, key=AT_US)
    k = next((j for j in range(i - 1, -1, -1) if answered(health[j].value)), None)
    if k is None or k + 1 >= len(health):
        return HI
    quiet = health[k + 1].at_us
    down = next((n.at_us for n in node_lane if n.at_us >= quiet and n.value in NODE_DOWN), None)
    if down is None or answered_in(health, quiet, down):
        return HI
    return quiet


def _open_at(lanes: Sequence[Sequence[PodSample]], serves: Sequence[Iv], lo: int, hi: int) -> bool:
    """Whether some instant of (`lo`, `hi`] had F possibly holding (`serves`) and none of
    `lanes` (the node's other local pods) ready: where an exit could end F."""
    cuts = {lo, hi}
    cuts.update(p.at_us for lane in lanes for p in lane if lo < p.at_us < hi)
    cuts.update(t for iv in serves for t in (iv.start, iv.end) if lo < t < hi)
    edges = sorted(cuts)
    for a, b in pairwise(edges):
        at = b  # the instant an exit in (a, b] ends the stretch at
        if any(iv.start < at <= iv.end for iv in serves) and all(
            _state_at(lane, a) != "ready" for lane in lanes
        ):
            return True
    return False


def exit_unordered(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    span: tuple[int, int],
    serves: Sequence[Iv],
    health: Sequence[Sample] = (),
) -> bool:
    """Whether a local pod's unreported exit (`exit_span`) may fall in the start range `span`
    (earliest, latest] at an instant F may have held until (`serves`: its possible
    stretches) with no other local pod ready, and before the node's last silence began
    (`health`: its health-check lane; `silent_from`): an exit after the node stopped, or
    after F surely fell, or beside a ready pod, opened nothing (module docstring)."""
    lo_us, hi_us = span
    lanes = [lane for _, lane, _ in pod_lanes(state, svc, node)]
    node_lane = state.nodes.get((svc.cluster, node), [])
    quiet = silent_from(health, node_lane, hi_us) if health else HI
    for i, lane in enumerate(lanes):
        exits = exit_span(lane)
        if exits is None:
            continue
        lo, hi = max(exits[0], lo_us), min(exits[1], hi_us, quiet)
        others = [o for j, o in enumerate(lanes) if j != i]
        if lo < hi and _open_at(others, serves, lo, hi):
            return True
    return False


def named_exit(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    windows: Sequence[Window],
    serves: Sequence[Iv],
    health: Sequence[Sample] = (),
) -> list[Window]:
    """One node's `windows` with `pod-gone-before-deregistered` named beside each read
    `node-not-ready` whose start range a local pod's unreported exit may fall in while F may
    have held (`serves`: F's possible stretches; `exit_unordered`); the others as they are."""
    return [
        replace(w, also=(*w.also, PGBD))
        if w.cls == NNR
        and PGBD not in w.also
        and exit_unordered(
            state, svc, node, (w.start_earliest_us, w.start_latest_us), serves, health
        )
        else w
        for w in windows
    ]
