"""What a node-driven LB's health check proves about kube-proxy (docs/semantics.md, "A target
that passed its health checks"). Pure.

A node-driven LB (the target group checks the node: healthCheckNodePort, or the traffic port,
both answered through kube-proxy) turns a target `healthy` only after `hc_healthy_threshold`
consecutive checks passed, `hc_interval_s` apart. kube-proxy's health-check-node-port answers
200 only once a rules sync has written a ready local endpoint (its counts are pushed after the
sync; a terminating endpoint never counts), and the traffic port answers only while the rules
forward: either way the node forwarded at the first passing check. So where a poll first saw the
target healthy at `q` (the look before it at `q0`), kube-proxy forwarded at some instant of
`(q0 - lead, q - lead]`, `lead = (threshold - 1) x interval` as the target group states them (0
where the log does not state them: a check passed no later than the poll that saw it healthy).

F (the node serves) has its rise in `(earliest, latest]` from its own samples; when that range
holds the proof's instant, F rose by `q - lead`: it is surely true from there. Only where nothing
could have stopped it in between: no change of the node's endpoints, no local pod seen stopped
(a pod can crash while kube-proxy still counts it), and the Node not reported down there.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState, Sample
from gapwatch.replay.measure import lb_settings
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.signals import Iv, Tri, complement, intersect, union
from gapwatch.replay.unseen import death_ranges

_DOWN = ("NotReady", "Unknown", "Deleted")


def check_lead(state: FoldState, svc: ServiceRef) -> int:
    """`(hc_healthy_threshold - 1) x hc_interval_s` (microseconds) where the Service's target
    groups state both (replay.measure.lb_settings), else 0: assumed settings prove nothing."""
    stated = lb_settings(state, svc)
    if "hc_interval_s" not in stated or "hc_healthy_threshold" not in stated:
        return 0
    return seconds_us(max(0.0, stated["hc_healthy_threshold"] - 1) * stated["hc_interval_s"])


def stoppers(state: FoldState, svc: ServiceRef, node: str, settings: DetectSettings) -> list[Iv]:
    """Where something could have stopped the node serving: each change of its endpoints away
    from ready (kube-proxy may have seen it up to `watch_skew_s` before the recorder's watch),
    each local pod's death range (replay.unseen.death_ranges), and each report of the Node down
    (it may have stopped `node_grace_s` before)."""
    skew, grace = seconds_us(settings.watch_skew_s), seconds_us(settings.node_grace_s)
    out = [
        Iv(s.at_us - skew, s.at_us)
        for s in state.endpoints.get((svc, node), [])
        if s.value != "ready"
    ]
    out += [Iv(up, gone) for up, gone in death_ranges(state, svc, node)]
    out += [
        Iv(s.at_us - grace, s.at_us)
        for s in state.nodes.get((svc.cluster, node), [])
        if s.value in _DOWN
    ]
    return sorted(out)


def passed_checks(targets: Sequence[Sample], lead_us: int) -> list[tuple[int, int]]:
    """(earliest, latest) instants by which kube-proxy forwarded, one per time the target
    lane (time-ordered, on the recorder's clock) turned `healthy`: the look before it and the
    look that saw it, both moved back by `lead_us`."""
    out = []
    for before, seen in pairwise(targets):
        if seen.value == "healthy" and before.value != "healthy":
            prev = seen.prev_us if seen.prev_us is not None else before.at_us
            out.append((max(prev, before.at_us) - lead_us, seen.at_us - lead_us))
    return out


def proven_serving(serves: Tri, proofs: Sequence[tuple[int, int]], stops: Sequence[Iv]) -> Tri:
    """`serves` surely true from each proof's latest instant where that falls inside the
    uncertain range of one of F's rises (`possible` there, `definite` only from a later
    instant, no earlier definite stretch in between) and none of `stops` (the stretches in
    which something could have stopped the node serving: the caller's evidence) touches the
    range from the proof's earliest instant (or the rise's, if later) to the rise."""
    added: list[Iv] = []
    for lo, hi in proofs:
        held = next((p for p in serves.possible if p.start < hi < p.end), None)
        if held is None:
            continue
        rise = next((d for d in serves.definite if held.start <= d.start < held.end), None)
        if rise is None or rise.start <= hi:
            continue
        since = max(lo, held.start)
        if not any(s.start <= rise.start and since <= s.end for s in stops):
            added.append(Iv(hi, rise.start, 0, rise.start_eid))
    if not added:
        return serves
    return Tri(serves.possible, union(serves.definite, sorted(added)))


def proven_unrouted(
    routed: Tri, serves: Tri, targets: Sequence[Sample], lead_us: int, stops: Sequence[Iv]
) -> Tri:
    """R not yet true before kube-proxy forwarded: where a poll first saw the target healthy
    at `q` (the look before at `q0`), its first passing check came at least `lead_us` before
    the LB routed, at an instant F was true. Where nothing in `stops` could have stopped the
    node serving from `q0 - lead_us` to `q`, and F was surely false (its samples) until `s`,
    with no sure-false stretch after that before `q`, the LB began routing after `s + lead_us`:
    R is not possible in `[q0, s + lead_us)`."""
    false = complement(serves.possible)
    cut: list[Iv] = []
    for lo, hi in passed_checks(targets, 0):
        if any(s.start <= hi and lo - lead_us <= s.end for s in stops):
            continue
        ends = [iv.end for iv in false if iv.end <= hi - lead_us]
        if not ends or any(max(ends) < iv.start < hi for iv in false):
            continue
        until = max(ends) + lead_us
        if lo < until < hi:
            cut.append(Iv(lo, until))
    if not cut or intersect(cut, routed.definite):
        return routed
    return Tri(intersect(routed.possible, complement(sorted(cut))), routed.definite)
