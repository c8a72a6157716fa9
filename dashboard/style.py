"""Colours, labels and time conversion shared by every figure and table of the dashboard.

One colour language: green serves, red loses traffic (or would, were the LB to route there),
grey is not routed (the LB sends nothing: safe), amber is on its way out. So the lb lane is green
only while the LB routes to the node and grey while it does not; the serving lanes (node,
endpoints, proxy, pod) are red when they cannot serve. A gap window, where the LB routes and the
node does not serve, is red: solid when the samples prove it, hatched when they only allow it.
Window classes keep four colours of their own for the per-class charts, never on the lanes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

GOOD = "#2ca02c"
LEAVING = "#ff9f1c"
BAD = "#d62728"
NOT_ROUTED = "#c7c7c7"
UNKNOWN = "#7f7f7f"
#: Gap windows: traffic lost.
LOSS = BAD

STATE_COLORS: dict[str, str] = {
    # endpoints
    "ready": GOOD,
    "serving-terminating": LEAVING,
    "none": BAD,
    # proxy
    "OPEN": GOOD,
    "REFUSED": "#f08080",  # a NodePort look refused: rules to no live pod
    "CLOSED": BAD,
    "DOWN": "#7f0000",
    "UNKNOWN": UNKNOWN,
    # lb: green while it routes to the node, grey while it does not (safe), amber draining
    "HEALTHY": GOOD,
    "INITIAL": NOT_ROUTED,
    "DRAINING": LEAVING,
    "UNHEALTHY": NOT_ROUTED,
    "UNUSED": NOT_ROUTED,
    "ABSENT": NOT_ROUTED,
    # lb from CloudTrail: registered, health unknown (maybe routed); deregistered (leaving)
    "REGISTERED": UNKNOWN,
    "DEREGISTERED": LEAVING,
    # pod
    "serving": GOOD,
    "terminating": LEAVING,
    "unready": "#f08080",  # up but not Ready (a readiness loss): not forwarded to, not dead
    "gone": BAD,
    # node
    "Ready": GOOD,
    "NotReady": BAD,
}

CLASS_COLORS: dict[str, str] = {
    "registered-before-forwarding": "#9467bd",
    "closed-before-deregistered": "#1f77b4",
    "pod-gone-before-deregistered": "#e377c2",
    "node-not-ready": "#8c564b",
}

#: Lanes in the order they are drawn inside one node's group (top to bottom).
LANE_ORDER: tuple[str, ...] = ("node", "endpoints", "proxy", "lb", "pod")

#: Inferred segments are dotted and paler than measured ones (hatching is kept for windows
#: that are possible but not proven, so the two never read alike).
INFERRED_PATTERN = "."
INFERRED_OPACITY = 0.55
#: Possible (not proven) gap windows are hatched; proven ones solid.
POSSIBLE_PATTERN = "/"


def state_color(state: str) -> str:
    return STATE_COLORS.get(state, UNKNOWN)


def class_color(cls: str) -> str:
    return CLASS_COLORS.get(cls, UNKNOWN)


def to_datetime64(micros: Sequence[int] | Iterable[int]) -> np.ndarray:
    """Epoch microseconds to a numpy datetime64[us] array (UTC, naive), as plotly wants dates."""
    return np.asarray(list(micros), dtype="int64").astype("datetime64[us]")


def us_to_iso(micros: int) -> str:
    """One epoch-microsecond instant as an ISO string plotly reads as a date (UTC)."""
    return str(np.datetime64(micros, "us"))


def format_seconds(seconds: float) -> str:
    """A duration for people: 850 ms, 4.2 s, 3 min 5 s, 2 h 1 min."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def duration_label(duration_s: float, min_s: float, max_s: float) -> str:
    """`4.2 s (3.1-5.0 s)`: the best estimate and the range the sampling allows."""
    if abs(max_s - min_s) < 1e-3:
        return format_seconds(duration_s)
    return f"{format_seconds(duration_s)} ({min_s:.1f}-{max_s:.1f} s)"
