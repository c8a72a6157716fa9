"""A terminating pod's death against the close a health look dates, where kube-proxy surely runs
without ProxyTerminatingEndpoints (docs/semantics.md, "kube-proxy's gate from its configuration
(session 30)": the gate-off reading).

Without the gate (KEP-1669; DESIGN.md section 6) kube-proxy forwards to ready endpoints only. It
stops forwarding to a pod that turned terminating when it applies the EndpointSlice version that
lists the pod so, at a rule sync some lag after the change, not at the change itself. Its health
check counts the ready local endpoints of its last sync (kube-proxy's
pkg/proxy/healthcheck/service_health.go: the counts are pushed after each sync), so a 503
counting none, answered after the pod turned terminating, shows that a sync without a ready
local endpoint was done by then: without the gate, kube-proxy forwarded nothing from it on. Where
that look lies in a window's start range (`since_us`, `at_us`], kube-proxy's close lies there
too, and a pod's death that may lie after the range's start is not ordered against it: the death
opened the window only if it came first. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gapwatch.replay.fold import Sample


class Stop(NamedTuple):
    """A local pod's death as the log shows it: the Pod update that says it stopped, when the
    pod was first seen terminating in the run of updates just before it, and the latest
    instant it may have died (replay.deaths.death_span)."""

    seen_us: int
    terminating_us: int
    latest_us: int


def synced_before_death(
    health: Sequence[Sample], stops: Sequence[Stop], since_us: int, at_us: int
) -> set[int]:
    """The deaths of `stops` (their `seen_us`) that kube-proxy's close may have come before, in
    a window whose start range is (`since_us`, `at_us`], on a kube-proxy surely without
    ProxyTerminatingEndpoints: a health look (`health`, time-ordered) answered 503 counting no
    ready local endpoint inside the range after the pod turned terminating (kube-proxy had
    closed by then), and the pod may have died after the close's earliest instant (the later
    of the range's start and the termination). Such a death took traffic only if it came
    first, which the log does not order."""
    looks = [
        h.at_us for h in health if since_us < h.at_us <= at_us and h.value == "503" and h.num == 0
    ]
    return {
        stop.seen_us
        for stop in stops
        if stop.seen_us > since_us
        and any(
            look > stop.terminating_us and stop.latest_us > max(since_us, stop.terminating_us)
            for look in looks
        )
    }
