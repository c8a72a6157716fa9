"""Gap windows drawn over the lane timeline (dashboard.lanes): proven solid, possible hatched.

Each window is a red bar over every row of its node's group (two traces, so the legend says which
is solid and which hatched), a dashed rect of how far the sampling lets it stretch, a label inside
the group, and a clickable marker (trace "gap windows", customdata = the window's index in the
list given). Pure: replay.model Windows and the figure's rows in, plotly traces and layout dicts
out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from gapwatch.dashboard.inert import plotly_text
from gapwatch.dashboard.style import (
    LOSS,
    POSSIBLE_PATTERN,
    duration_label,
    to_datetime64,
    us_to_iso,
)
from gapwatch.replay.model import Window


def evidence(win: Window) -> str:
    """`proven` when the samples show the window, `possible` when they only allow it."""
    return "proven" if win.certain else "possible"


def window_label(win: Window) -> str:
    """`proven · closed-before-deregistered · 4.2 s (3.1-5.0 s)` (`· inferred` when it is; an
    undecided class names its alternatives: replay.model.class_text)."""
    text = (
        f"{evidence(win)} · {win.class_text} · "
        f"{duration_label(win.duration_s, win.duration_min_s, win.duration_max_s)}"
    )
    return text if win.provenance == "measured" else text + " · inferred"


def node_spans(rows: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """The first and last row of each node, keyed by the node's Plotly text (lanes.row_label
    wrote it with `plotly_text`, which shows control characters as escapes: not reversible,
    so a window finds its rows by `plotly_text(win.node)`)."""
    first_row: dict[str, int] = {}
    last_row: dict[str, int] = {}
    for i, row in enumerate(rows):
        node = row.split(" · ", 1)[0]
        first_row.setdefault(node, i)
        last_row[node] = i
    return first_row, last_row


def window_shapes(
    windows: Sequence[Window], rows: list[str], max_labels: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per window a dashed rect of its possible extent and (the first `max_labels`) a label
    inside its node's group; as plain dicts, set on the layout at once (add_shape is O(n))."""
    first_row, last_row = node_spans(rows)
    shapes: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for n, win in enumerate(sorted(windows, key=lambda w: (w.node, w.start_us))):
        drawn = plotly_text(win.node)
        y0, y1 = first_row[drawn] - 0.5, last_row[drawn] + 0.5
        shapes.append({
            "type": "rect", "xref": "x", "yref": "y",
            "x0": us_to_iso(win.start_earliest_us), "x1": us_to_iso(win.end_latest_us),
            "y0": y0, "y1": y1, "layer": "above",
            "line": {"color": LOSS, "width": 1, "dash": "dash"},
        })  # fmt: skip
        if n < max_labels:
            # y grows downwards (reversed axis): anchored at its top, the label sits inside
            # the window's own node group, never in the group above
            labels.append({
                "x": us_to_iso(win.start_us), "y": y0, "xref": "x", "yref": "y",
                "text": window_label(win), "showarrow": False, "xanchor": "left",
                "yanchor": "top", "font": {"size": 11, "color": "#7f0000"},
                "bgcolor": "rgba(255,255,255,0.85)",
            })  # fmt: skip
    return shapes, labels


WINDOW_TRACES = {
    True: "gap window, proven (solid): traffic lost",
    False: "gap window, possible (hatched): not proven",
}


def window_bars(windows: Sequence[Window], rows: list[str]) -> list[Any]:
    """Each window as a bar over every row of its node's group: solid red when proven,
    hatched red when only possible. Two traces, so the legend says which is which."""
    first_row, last_row = node_spans(rows)
    traces = []
    for proven in (True, False):
        mine = [w for w in windows if w.certain == proven]
        if not mine:
            continue
        ys: list[str] = []
        base: list[int] = []
        length: list[float] = []
        text: list[str] = []
        for w in mine:
            drawn = plotly_text(w.node)
            for i in range(first_row[drawn], last_row[drawn] + 1):
                ys.append(rows[i])
                base.append(w.start_us)
                length.append(max(w.end_us - w.start_us, 1000) / 1000.0)
                text.append(window_label(w))
        marker: dict[str, Any] = (
            {"color": LOSS, "opacity": 0.45}
            if proven
            else {
                "color": "rgba(214,39,40,0.08)",
                "pattern": {"shape": POSSIBLE_PATTERN, "fgcolor": LOSS, "size": 8,
                            "solidity": 0.35},
            }
        )  # fmt: skip
        traces.append(
            go.Bar(
                orientation="h",
                base=to_datetime64(base),
                x=length,
                y=ys,
                width=1.0,
                name=WINDOW_TRACES[proven],
                legendgroup="windows",
                legendrank=1,
                marker=marker,
                text=text,
                textposition="none",
                hovertemplate="%{text}<extra></extra>",
            )
        )
    return traces


def window_markers(windows: Sequence[Window], rows: list[str]) -> Any:
    first_row, _ = node_spans(rows)
    ordered = sorted(range(len(windows)), key=lambda i: (windows[i].node, windows[i].start_us))
    picked = [windows[i] for i in ordered]
    return go.Scatter(
        x=[us_to_iso((w.start_us + w.end_us) // 2) for w in picked],
        y=[rows[first_row[plotly_text(w.node)]] for w in picked],
        mode="markers",
        name="gap windows",
        marker={
            "symbol": ["diamond" if w.certain else "diamond-open" for w in picked],
            "size": 12,
            "color": LOSS,
            "line": {"width": 1.5, "color": "#7f0000"},
        },
        legendrank=2,
        customdata=ordered,
        text=[window_label(w) for w in picked],
        hovertemplate="%{text}<br>click for the events behind it<extra></extra>",
    )
