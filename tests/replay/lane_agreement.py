"""Whether the lanes drawn under the gap windows contradict them (issue #13).

What an SRE reads off the timeline: a lane's drawn value at t is the segment holding at t
(`start_us <= t < end_us`); `UNKNOWN` claims nothing. Two contradictions:

- inside a window's sure part (`certain`, from `start_latest` to `end_earliest`), the lanes
  say the node surely served (proxy `OPEN`, pod `serving`, Node `Ready`, all at once) or the
  LB surely sent it nothing (lb `ABSENT`, `INITIAL`, `UNHEALTHY`, `UNUSED`);
- outside every window of the node (from each `start_earliest` to `end_latest`), the lanes
  draw a gap kube-proxy made: proxy `CLOSED` though the endpoints are `ready`, the pod
  `serving` and the Node `Ready`, while the LB routes or may (lb `HEALTHY`, `REGISTERED`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from gapwatch.replay.model import Segment, Window

NOT_ROUTED = frozenset({"ABSENT", "INITIAL", "UNHEALTHY", "UNUSED"})
ROUTED = frozenset({"HEALTHY", "REGISTERED"})
Lanes = dict[str, list[Segment]]


def _drawn(lanes: Lanes, lane: str, t: int) -> str | None:
    for s in lanes.get(lane, ()):
        if s.start_us <= t and (s.end_us is None or t < s.end_us):
            return s.state
    return None


def _serves(lanes: Lanes, t: int) -> bool:
    return (
        _drawn(lanes, "proxy", t) == "OPEN"
        and _drawn(lanes, "pod", t) in ("serving", None)
        and _drawn(lanes, "node", t) in ("Ready", None)
    )


def _kube_proxy_gap(lanes: Lanes, t: int) -> bool:
    return (
        _drawn(lanes, "proxy", t) == "CLOSED"
        and _drawn(lanes, "endpoints", t) == "ready"
        and _drawn(lanes, "lb", t) in ROUTED
        and _drawn(lanes, "pod", t) == "serving"
        and _drawn(lanes, "node", t) in ("Ready", None)
    )


def _instants(lanes: Lanes) -> list[int]:
    """Every instant a drawn lane changes: between two of them nothing drawn moves."""
    return sorted({s.start_us for segs in lanes.values() for s in segs})


def contradictions(windows: Iterable[Window], segments: Sequence[Segment]) -> list[str]:
    """What the drawn lanes say against the windows (module docstring), one line each."""
    by_node: dict[str, Lanes] = defaultdict(lambda: defaultdict(list))
    for s in segments:
        by_node[s.node][s.lane].append(s)
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    out: list[str] = []
    for w in windows:
        spans[w.node].append((w.start_earliest_us, w.end_latest_us))
        lanes = by_node[w.node]
        if not w.certain or w.start_latest_us >= w.end_earliest_us:
            continue
        points = [w.start_latest_us, *(t for t in _instants(lanes) if t > w.start_latest_us)]
        for t in (t for t in points if t < w.end_earliest_us):
            if _serves(lanes, t):
                out.append(f"{w.node} {w.cls} surely open, lanes serve at {t}")
            if _drawn(lanes, "lb", t) in NOT_ROUTED:
                out.append(f"{w.node} {w.cls} surely open, lb not routed at {t}")
    for node, lanes in by_node.items():
        for t in _instants(lanes):
            inside = any(lo <= t <= hi for lo, hi in spans[node])
            if not inside and _kube_proxy_gap(lanes, t):
                out.append(f"{node}: proxy CLOSED, ready, routed, serving at {t}, no window")
    return out
