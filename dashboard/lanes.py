"""The lane timeline: one group of lanes per node on a shared time axis, gap windows shaded.

Pure: replay.model Segments and Windows in, a plotly Figure out; no Streamlit, no database.
Rows read `NODE · lane` (node, endpoints, proxy, lb, pod), one group per node, top to bottom.
Colours follow dashboard.style (green serves, red loses traffic, grey not routed); legend entries
read `lane: state`. Measured segments are solid, inferred ones dotted and paler. Each gap window
covers its node's group in red: solid when proven, hatched when only possible (two legend entries
say so); a dashed outline marks how far the sampling lets it stretch, and a label inside the
group gives proven/possible, the class and the duration with its uncertainty. A marker per window
(trace "gap windows", customdata = the window's index) makes windows clickable in the app.

Up to `webgl_above` segments the lanes are bars (SVG); past it they are thick Scattergl line
segments, which stay fast to zoom with tens of thousands of segments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from gapwatch.dashboard.style import (
    INFERRED_OPACITY,
    INFERRED_PATTERN,
    LANE_ORDER,
    LOSS,
    POSSIBLE_PATTERN,
    duration_label,
    state_color,
    to_datetime64,
    us_to_iso,
)
from gapwatch.replay.model import Segment, Window

WEBGL_THRESHOLD = 3000
ROW_PX = 26
#: Room under the plot for the legend (x-axis title and about four rows of entries).
LEGEND_PX = 150
#: Beyond this many windows only the shading is drawn, not every label.
MAX_LABELS = 60


def row_label(node: str, lane: str) -> str:
    return f"{node} · {lane}"


def lane_rows(segments: Sequence[Segment], windows: Sequence[Window] = ()) -> list[str]:
    """The y categories top to bottom: nodes sorted, each node's lanes in LANE_ORDER."""
    lanes_by_node: dict[str, set[str]] = defaultdict(set)
    for seg in segments:
        lanes_by_node[seg.node].add(seg.lane)
    for win in windows:
        lanes_by_node.setdefault(win.node, set())
    rows: list[str] = []
    for node in sorted(lanes_by_node):
        present = lanes_by_node[node] or {"lb"}
        ordered = [lane for lane in LANE_ORDER if lane in present]
        ordered += sorted(present - set(LANE_ORDER))
        rows.extend(row_label(node, lane) for lane in ordered)
    return rows


def _data_end(segments: Sequence[Segment], windows: Sequence[Window]) -> int:
    ends = [s.end_us if s.end_us is not None else s.start_us for s in segments]
    ends += [w.end_us for w in windows]
    return max(ends) if ends else 0


def _group(segments: Sequence[Segment]) -> dict[tuple[str, str, str], list[Segment]]:
    groups: dict[tuple[str, str, str], list[Segment]] = defaultdict(list)
    for seg in segments:
        groups[(seg.lane, seg.state, seg.provenance)].append(seg)
    order = {lane: i for i, lane in enumerate(LANE_ORDER)}
    return dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0])))


def legend_name(lane: str, state: str, provenance: str) -> str:
    """`lb: HEALTHY`, `proxy: OPEN (inferred)`: the lane says which `ready` is meant."""
    return f"{lane}: {state}" + (" (inferred)" if provenance == "inferred" else "")


def _hover_data(segs: Sequence[Segment], ends: np.ndarray) -> np.ndarray:
    start = to_datetime64(s.start_us for s in segs).astype(str)
    early = to_datetime64(s.start_earliest_us for s in segs).astype(str)
    late = to_datetime64(s.start_latest_us for s in segs).astype(str)
    end = ends.astype("datetime64[us]").astype(str)
    ids = np.array(["" if s.event_id is None else str(s.event_id) for s in segs], dtype=object)
    return np.stack([start, end, early, late, ids], axis=1).astype(object)


_HOVER = (
    "%{y}<br><b>%{fullData.name}</b><br>from %{customdata[0]}<br>to %{customdata[1]}"
    "<br>began between %{customdata[2]} and %{customdata[3]}<br>event %{customdata[4]}"
    "<extra></extra>"
)


def _lane_traces(segments: Sequence[Segment], until_us: int, webgl: bool) -> list[Any]:
    traces: list[Any] = []
    for (lane, state, provenance), segs in _group(segments).items():
        starts = np.fromiter((s.start_us for s in segs), dtype="int64", count=len(segs))
        ends = np.fromiter(
            (until_us if s.end_us is None else s.end_us for s in segs),
            dtype="int64",
            count=len(segs),
        )
        ends = np.maximum(ends, starts)
        rows = [row_label(s.node, s.lane) for s in segs]
        name = legend_name(lane, state, provenance)
        inferred = provenance == "inferred"
        color = state_color(state)
        if webgl:
            count = len(segs)
            xs = np.empty(count * 3, dtype="datetime64[us]")
            xs[0::3] = starts.astype("datetime64[us]")
            xs[1::3] = ends.astype("datetime64[us]")
            xs[2::3] = xs[1::3]  # the None in y breaks the line between segments
            ys: list[str | None] = [None] * (count * 3)
            ys[0::3] = rows
            ys[1::3] = rows
            traces.append(
                go.Scattergl(
                    x=xs,
                    y=ys,
                    mode="lines",
                    name=name,
                    legendgroup=lane,
                    connectgaps=False,
                    line={"color": color, "width": 14, "dash": "dot" if inferred else "solid"},
                    opacity=INFERRED_OPACITY if inferred else 1.0,
                    hoverinfo="y+name",
                )
            )
        else:
            traces.append(
                go.Bar(
                    orientation="h",
                    base=starts.astype("datetime64[us]"),
                    x=(ends - starts) / 1000.0,  # milliseconds: a date axis reads bar lengths so
                    y=rows,
                    name=name,
                    legendgroup=lane,
                    marker={
                        "color": color,
                        "line": {"width": 0.5, "color": "#444"},
                        "pattern": {"shape": INFERRED_PATTERN if inferred else ""},
                    },
                    opacity=INFERRED_OPACITY if inferred else 1.0,
                    customdata=_hover_data(segs, ends),
                    hovertemplate=_HOVER,
                )
            )
    return traces


def evidence(win: Window) -> str:
    """`proven` when the samples show the window, `possible` when they only allow it."""
    return "proven" if win.certain else "possible"


def window_label(win: Window) -> str:
    """`proven · closed-before-deregistered · 4.2 s (3.1-5.0 s)` (`· inferred` when it is)."""
    text = (
        f"{evidence(win)} · {win.cls} · "
        f"{duration_label(win.duration_s, win.duration_min_s, win.duration_max_s)}"
    )
    return text if win.provenance == "measured" else text + " · inferred"


def _node_spans(rows: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    first_row: dict[str, int] = {}
    last_row: dict[str, int] = {}
    for i, row in enumerate(rows):
        node = row.split(" · ", 1)[0]
        first_row.setdefault(node, i)
        last_row[node] = i
    return first_row, last_row


def _group_separators(rows: list[str]) -> list[dict[str, Any]]:
    """A thin line between node groups so each node's lanes read as one block."""
    first_row, _ = _node_spans(rows)
    return [
        {
            "type": "line",
            "xref": "paper",
            "yref": "y",
            "x0": 0,
            "x1": 1,
            "y0": start - 0.5,
            "y1": start - 0.5,
            "line": {"color": "#555", "width": 1},
        }
        for start in sorted(first_row.values())[1:]
    ]


def _window_shapes(
    windows: Sequence[Window], rows: list[str], max_labels: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per window a dashed rect of its possible extent and (the first `max_labels`) a label
    inside its node's group; as plain dicts, set on the layout at once (add_shape is O(n))."""
    first_row, last_row = _node_spans(rows)
    shapes: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for n, win in enumerate(sorted(windows, key=lambda w: (w.node, w.start_us))):
        y0, y1 = first_row[win.node] - 0.5, last_row[win.node] + 0.5
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


def _window_bars(windows: Sequence[Window], rows: list[str]) -> list[Any]:
    """Each window as a bar over every row of its node's group: solid red when proven,
    hatched red when only possible. Two traces, so the legend says which is which."""
    first_row, last_row = _node_spans(rows)
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
            for i in range(first_row[w.node], last_row[w.node] + 1):
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


def _window_markers(windows: Sequence[Window], rows: list[str]) -> Any:
    first_row, _ = _node_spans(rows)
    ordered = sorted(range(len(windows)), key=lambda i: (windows[i].node, windows[i].start_us))
    picked = [windows[i] for i in ordered]
    return go.Scatter(
        x=[us_to_iso((w.start_us + w.end_us) // 2) for w in picked],
        y=[rows[first_row[w.node]] for w in picked],
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


def lane_timeline(
    segments: Sequence[Segment],
    windows: Sequence[Window] = (),
    *,
    until_us: int | None = None,
    webgl_above: int = WEBGL_THRESHOLD,
    max_labels: int = MAX_LABELS,
    title: str | None = None,
) -> Any:
    """The lanes of every node in `segments`, with `windows` shaded over their node's group.

    Open segments (end None) are drawn until `until_us` (default: the latest time in the data).
    `fig.layout.meta` says which renderer was used and lists the rows, for callers and tests.
    """
    rows = lane_rows(segments, windows)
    webgl = len(segments) > webgl_above
    end = until_us if until_us is not None else _data_end(segments, windows)
    traces = _lane_traces(segments, end, webgl)
    shapes, labels = _window_shapes(windows, rows, max_labels)
    if windows:
        traces.extend(_window_bars(windows, rows))
        traces.append(_window_markers(windows, rows))
    if not segments and not windows:
        labels.append({
            "text": "no lane data in this range", "showarrow": False, "xref": "paper",
            "yref": "paper", "x": 0.5, "y": 0.5, "font": {"size": 16},
        })  # fmt: skip
    fig = go.Figure(
        traces, layout={"shapes": _group_separators(rows) + shapes, "annotations": labels}
    )
    fig.update_xaxes(type="date", title_text="time (UTC)", showgrid=True)
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=rows,
        range=[len(rows) - 0.5, -0.5],
        showgrid=False,
        title_text=None,
    )
    fig.update_layout(
        title=title,
        barmode="overlay",
        height=max(360, LEGEND_PX + 110 + ROW_PX * len(rows)),
        margin={"l": 10, "r": 10, "t": 50 if title else 20, "b": LEGEND_PX},
        # in the bottom margin: never under the toolbar, the title or a window label
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0.0,
            "x": 0,
            "traceorder": "grouped",
        },
        bargap=0.25,
        meta={"renderer": "webgl" if webgl else "svg", "rows": rows, "segments": len(segments)},
        clickmode="event+select",
    )
    return fig
