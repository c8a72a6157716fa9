"""Overview and what-if figures: pure functions from replay.model objects to plotly Figures.

- `gap_seconds_over_time`: stacked bars of gap-seconds per time bucket, by window class (a window
  that spans buckets is split between them, so the bars add up to the windows' total).
- `rollouts_ranked`: rollouts by damage (gap-seconds), worst on top; customdata = rollout id.
- `window_class_counts`: how many windows of each class (every class shown, zeros included).
- `whatif_comparison`: recorded windows and the what-if replay's, per node, on one time axis.
Each returns a figure whose `layout.meta` carries the numbers it drew, for the app and the tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from gapwatch.dashboard.inert import plotly_text
from gapwatch.dashboard.style import class_color, format_seconds, to_datetime64
from gapwatch.replay.model import WINDOW_CLASSES, Rollout, Window

#: The what-if figure labels its bars only up to this many windows.
MAX_BAR_LABELS = 40
_NICE_BUCKETS_S = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)


def _empty(fig: Any, message: str) -> Any:
    fig.add_annotation(
        text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
        font={"size": 16, "color": "#2ca02c"},
    )  # fmt: skip
    return fig


def _layout(fig: Any, title: str, height: int, meta: dict[str, Any]) -> Any:
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0},
        meta=meta,
    )
    return fig


def pick_bucket_s(span_s: float, target_buckets: int = 60) -> int:
    """A round bucket size giving at most about `target_buckets` bars over `span_s`."""
    for size in _NICE_BUCKETS_S:
        if span_s / size <= target_buckets:
            return size
    return _NICE_BUCKETS_S[-1]


def gap_seconds_by_bucket(
    windows: Sequence[Window], bucket_s: int, origin_us: int
) -> dict[str, dict[int, float]]:
    """{class: {bucket start (us): gap-seconds inside that bucket}}; windows split at edges."""
    size = bucket_s * 1_000_000
    out: dict[str, dict[int, float]] = {}
    for win in windows:
        per = out.setdefault(win.cls, {})
        start = win.start_us
        while start < win.end_us:
            bucket = origin_us + (start - origin_us) // size * size
            stop = min(win.end_us, bucket + size)
            per[bucket] = per.get(bucket, 0.0) + (stop - start) / 1e6
            start = stop
    return out


def gap_seconds_over_time(
    windows: Sequence[Window],
    *,
    since_us: int | None = None,
    until_us: int | None = None,
    bucket_s: int | None = None,
) -> Any:
    """Gap-seconds per time bucket, stacked by class."""
    fig = go.Figure()
    if not windows:
        return _layout(_empty(fig, "clean: no gap windows"), "gap-seconds over time", 300, {})
    lo = since_us if since_us is not None else min(w.start_us for w in windows)
    hi = until_us if until_us is not None else max(w.end_us for w in windows)
    size = bucket_s or pick_bucket_s(max(1.0, (hi - lo) / 1e6))
    origin = lo - lo % (size * 1_000_000)
    buckets = gap_seconds_by_bucket(windows, size, origin)
    for cls in WINDOW_CLASSES:
        if cls not in buckets:
            continue
        keys = sorted(buckets[cls])
        fig.add_trace(
            go.Bar(
                x=to_datetime64(k + size * 500_000 for k in keys),
                y=[buckets[cls][k] for k in keys],
                width=size * 1000 * 0.9,
                name=cls,
                marker_color=class_color(cls),
                hovertemplate="%{x}<br>%{y:.1f} gap-seconds<extra>" + cls + "</extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="date")
    fig.update_yaxes(title_text="gap-seconds")
    total = sum(sum(v.values()) for v in buckets.values())
    title = f"gap-seconds over time (UTC, {format_seconds(size)} buckets)"
    return _layout(fig, title, 340, {"bucket_s": size, "total_s": total})


def rollout_label(rollout: Rollout) -> str:
    """`seed · Deployment/ns/name rev1→rev2 @ 10:01:02`: the cluster first (two clusters often
    share a Service name); a node disruption shows its nodes."""
    when = str(np.datetime64(rollout.start_us, "us").astype("datetime64[s]")).replace("T", " ")
    if rollout.kind == "rollout":
        change = f"{rollout.revision_from or '?'}→{rollout.revision_to or '?'}"
    else:
        change = "disruption " + ",".join(rollout.nodes[:3])
    return f"{rollout.service.cluster} · {rollout.workload} {change} @ {when}"


def rank_rollouts(rollouts: Sequence[Rollout]) -> list[Rollout]:
    """Worst first: most gap-seconds, then most windows, then latest."""
    return sorted(rollouts, key=lambda r: (-r.gap_seconds, -len(r.windows), -r.start_us, r.id))


def rollouts_ranked(rollouts: Sequence[Rollout], *, top: int = 20) -> Any:
    """Horizontal bars of gap-seconds per rollout, worst on top, stacked by class."""
    fig = go.Figure()
    ranked = rank_rollouts(rollouts)[:top]
    if not ranked:
        return _layout(_empty(fig, "no rollouts in this range"), "rollouts by damage", 260, {})
    labels = [f"{i + 1}. {plotly_text(rollout_label(r))}" for i, r in enumerate(ranked)]
    for cls in WINDOW_CLASSES:
        values = [sum(w.duration_s for w in r.windows if w.cls == cls) for r in ranked]
        if not any(values):
            continue
        fig.add_trace(
            go.Bar(
                orientation="h",
                x=values,
                y=labels,
                name=cls,
                marker_color=class_color(cls),
                customdata=[r.id for r in ranked],
                hovertemplate="%{y}<br>%{x:.1f} gap-seconds<extra>" + cls + "</extra>",
            )
        )
    if not fig.data:
        fig.add_trace(go.Bar(orientation="h", x=[0] * len(ranked), y=labels, name="no gaps"))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(categoryorder="array", categoryarray=labels, autorange="reversed")
    fig.update_xaxes(title_text="gap-seconds")
    meta = {"ids": [r.id for r in ranked], "gap_seconds": [r.gap_seconds for r in ranked]}
    return _layout(fig, "rollouts by damage", max(260, 90 + 28 * len(ranked)), meta)


def class_counts(windows: Sequence[Window]) -> dict[str, int]:
    """Windows per class, every class present (0 when none)."""
    counts = Counter(w.cls for w in windows)
    return {cls: counts.get(cls, 0) for cls in WINDOW_CLASSES}


def window_class_counts(windows: Sequence[Window]) -> Any:
    """A bar per window class: how many windows."""
    counts = class_counts(windows)
    fig = go.Figure(
        go.Bar(
            x=list(counts),
            y=list(counts.values()),
            marker_color=[class_color(c) for c in counts],
            text=list(counts.values()),
            textposition="outside",
            hovertemplate="%{x}: %{y} windows<extra></extra>",
        )
    )
    fig.update_yaxes(title_text="windows", rangemode="tozero")
    if not windows:
        _empty(fig, "clean: no gap windows")
    return _layout(fig, "windows by class", 320, {"counts": counts})


def whatif_comparison(recorded: Sequence[Window], replayed: Sequence[Window]) -> Any:
    """Per node two rows, `recorded` and `what-if`, with each window a bar in its class colour."""
    nodes = sorted({w.node for w in recorded} | {w.node for w in replayed})
    rows = [f"{plotly_text(n)} · {which}" for n in nodes for which in ("recorded", "what-if")]
    fig = go.Figure()
    for which, wins in (("recorded", recorded), ("what-if", replayed)):
        for cls in WINDOW_CLASSES:
            mine = [w for w in wins if w.cls == cls]
            if not mine:
                continue
            starts = np.array([w.start_us for w in mine], dtype="int64")
            ends = np.array([w.end_us for w in mine], dtype="int64")
            fig.add_trace(
                go.Bar(
                    orientation="h",
                    base=starts.astype("datetime64[us]"),
                    x=np.maximum(ends - starts, 1000) / 1000.0,
                    y=[f"{plotly_text(w.node)} · {which}" for w in mine],
                    name=f"{cls} ({which})",
                    legendgroup=cls,
                    marker={
                        "color": class_color(cls),
                        "pattern": {"shape": "" if which == "recorded" else "x"},
                    },
                    text=[format_seconds(w.duration_s) for w in mine],
                    # the class as everywhere: an undecided one names the others
                    customdata=[w.class_text for w in mine],
                    # past a few dozen bars the labels only overlap: the hover keeps them
                    textposition="auto"
                    if len(recorded) + len(replayed) <= MAX_BAR_LABELS
                    else "none",
                    hovertemplate="%{y}<br>%{text}<br>%{customdata}<extra></extra>",
                )
            )
    if not rows:
        _empty(fig, "no windows recorded and none under these settings")
    fig.update_xaxes(type="date")
    fig.update_yaxes(
        type="category", categoryorder="array", categoryarray=rows, autorange="reversed"
    )
    fig.update_layout(barmode="overlay")
    meta = {
        "recorded": len(recorded),
        "whatif": len(replayed),
        "recorded_s": sum(w.duration_s for w in recorded),
        "whatif_s": sum(w.duration_s for w in replayed),
    }
    return _layout(fig, "recorded vs what-if windows (UTC)", max(280, 100 + 26 * len(rows)), meta)
