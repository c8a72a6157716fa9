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

from gapwatch.dashboard.inert import plotly_text
from gapwatch.dashboard.lane_windows import (
    WINDOW_TRACES,
    evidence,
    node_spans,
    window_bars,
    window_label,
    window_markers,
    window_shapes,
)
from gapwatch.dashboard.style import (
    INFERRED_OPACITY,
    INFERRED_PATTERN,
    LANE_ORDER,
    state_color,
    to_datetime64,
)
from gapwatch.replay.model import Segment, Window

__all__ = ["WINDOW_TRACES", "evidence", "lane_rows", "lane_timeline", "row_label", "window_label"]

WEBGL_THRESHOLD = 3000
ROW_PX = 26
#: Room under the plot for the legend (x-axis title and about four rows of entries).
LEGEND_PX = 150
#: Beyond this many windows only the shading is drawn, not every label.
MAX_LABELS = 60


def row_label(node: str, lane: str) -> str:
    """`NODE · lane`, the node as Plotly text (a y category is drawn, and shown in the hover)."""
    return f"{plotly_text(node)} · {lane}"


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


def _group_separators(rows: list[str]) -> list[dict[str, Any]]:
    """A thin line between node groups so each node's lanes read as one block."""
    first_row, _ = node_spans(rows)
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
    shapes, labels = window_shapes(windows, rows, max_labels)
    if windows:
        traces.extend(window_bars(windows, rows))
        traces.append(window_markers(windows, rows))
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
