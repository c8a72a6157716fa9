"""A refused NodePort look that kube-proxy's own health check shows was no REJECT. Pure.

replay.rejected reads a refusal as possibly kube-proxy's REJECT of a Service without a usable
endpoint wherever the API server's listing had none within kube-proxy's lag of the look. But
kube-proxy decides the REJECT from the version it synced, not from the listing: one rules sync
categorizes that version's endpoints (CategorizeEndpoints, pkg/proxy/topology.go:
`hasAnyEndpoints` is true where any endpoint is ready) and writes the REJECT only where none is
usable, and the same sync pushes that version's ready local count to the health check
(`localEndpoints`, pkg/proxy/healthcheck/service_health.go; DESIGN.md section 6). A version with
a ready local endpoint therefore has a ready endpoint anywhere: the sync that programmed it
wrote no REJECT for the Service.

kube-proxy never goes back to an older version (replay.held): at a look it holds one of the
versions the health check's counts admit (`held_at`), and between two looks one of those from
the first's oldest to the second's newest. So where every version from the last counting look
at or before the refused look through the first at or after the window's latest start lists a
ready local pod, kube-proxy's rules all that while forwarded to a local endpoint and the
refusal came from them: a local pod gone under its rules (detect's reading), not a REJECT.
Where the refused look and the window's latest start are one counting look (the refusal's
own round), kube-proxy held one version at that instant, one whose ready local count is the
answer's (`held_at`'s fits): a count of one or more is enough, whatever versions the count
excludes lie between the fits (a terminating listing between the old pod's ready version
and a replacement listed within the watch skew after the look; random 33,000,775 node-001).
Before the first counting look the order's floor is the newest version written the lag bound
before the refused look (as `held_at` bounds it), and nothing is claimed where that is one
from before the node's first listing. No new number: kube-proxy's lag bound (replay.proxy
`proxy_lag_hi`, as replay.rejected reads it) and `watch_skew_s`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState, Sample
from gapwatch.replay.held import Versions, held_at
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.proxy import proxy_lag_hi
from gapwatch.replay.rejected import refused_look_us, rejected_possible


def counted_through(
    health: Sequence[Sample],
    versions: Versions,
    span: tuple[int, int],
    lag_us: int,
    skew_us: int,
) -> bool:
    """Every version kube-proxy can hold from `span[0]` through `span[1]` lists a ready local
    pod, read from the health check's counts in kube-proxy's order (module docstring)."""
    look_us, until_us = span
    held = held_at(health, versions, lag_us, skew_us)
    before = [h for h in held if h.at_us <= look_us]
    after = next((h for h in held if h.at_us >= until_us), None)
    if after is None:
        return False
    if before and before[-1] is after:
        # the span is that one look: kube-proxy held one of the versions its count admits
        # there, each with `num` ready local pods, not one between them (module docstring)
        return after.num > 0
    if before:
        first = before[-1].first
    else:
        # -1: kube-proxy may hold a version from before the node's first listing (none ready)
        first = bisect_right([t for t, _p in versions], look_us - lag_us - skew_us) - 1
    return 0 <= first <= after.last and all(
        (pods := versions[k][1]) is not None and bool(pods) for k in range(first, after.last + 1)
    )


def rejected_uncounted(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    looks: tuple[Sequence[Sample], Sequence[int]],
    health: Sequence[Sample],
    at_us: int,
    settings: DetectSettings,
) -> bool:
    """The refused look a window starting by `at_us` reads its reason from (`looks`: the
    not-serving looks and their times) may be kube-proxy's REJECT (replay.rejected), and the
    node's health check does not show kube-proxy holding a ready local endpoint from that look
    through `at_us` (`counted_through`)."""
    look = refused_look_us(*looks, at_us)
    if look is None or not rejected_possible(state, svc, node, (look, at_us), settings):
        return False
    versions = state.ready_sets.get((svc, node), ())
    if not versions:
        return True
    lag_us, skew_us = proxy_lag_hi(state, svc, settings), seconds_us(settings.watch_skew_s)
    return not counted_through(health, versions, (look, max(look, at_us)), lag_us, skew_us)
