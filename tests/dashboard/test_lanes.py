"""The lane timeline figure, built from hand-made segments and windows (no Streamlit)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import plotly.graph_objects as go

from gapwatch.dashboard import lanes
from gapwatch.dashboard.style import LOSS, NOT_ROUTED, state_color
from tests.dashboard.builders import T0, S, seg, win


def _trace(fig: go.Figure, name: str) -> Any:
    """The one trace called `name` (plotly's trace classes are generated: typed as Any)."""
    matches = [t for t in fig.data if t.name == name]
    assert len(matches) == 1, [t.name for t in fig.data]
    return matches[0]


def test_rows_group_lanes_per_node_in_fixed_order() -> None:
    segments = [
        seg("n2", "pod", "serving", 0, 10),
        seg("n1", "lb", "HEALTHY", 0, 10),
        seg("n1", "endpoints", "ready", 0, 10),
        seg("n2", "endpoints", "ready", 0, 10),
        seg("n1", "proxy", "OPEN", 0, 10),
    ]
    assert lanes.lane_rows(segments) == [
        "n1 · endpoints",
        "n1 · proxy",
        "n1 · lb",
        "n2 · endpoints",
        "n2 · pod",
    ]


def test_bars_start_at_the_segment_and_last_its_duration() -> None:
    segments = [
        seg("n1", "lb", "HEALTHY", 2, 9.5),
        seg("n1", "proxy", "OPEN", 1, None, provenance="inferred", jitter_s=0.5),
    ]
    fig = lanes.lane_timeline(segments, until_us=T0 + 20 * S)
    assert fig.layout.meta["renderer"] == "svg"
    healthy = _trace(fig, "lb: HEALTHY")
    assert healthy.type == "bar" and healthy.orientation == "h"
    assert healthy.base[0] == np.datetime64(T0 + 2 * S, "us")
    assert healthy.x[0] == 7500.0  # milliseconds on a date axis
    assert healthy.marker.pattern.shape == ""
    opened = _trace(fig, "proxy: OPEN (inferred)")
    assert opened.x[0] == 19000.0  # open segment drawn until `until_us`
    assert opened.marker.pattern.shape == "."  # dotted: hatching means "possible window"
    assert opened.opacity < healthy.opacity
    # the hover shows when the state began at the earliest
    assert opened.customdata[0][2].startswith(str(np.datetime64(T0 + S // 2, "us"))[:19])
    assert fig.layout.xaxis.type == "date"


def test_windows_shade_their_node_group_with_label_and_uncertainty() -> None:
    segments = [
        seg("n1", "endpoints", "ready", 0, 30),
        seg("n1", "proxy", "CLOSED", 0, 30),
        seg("n1", "lb", "HEALTHY", 0, 30),
        seg("n2", "lb", "HEALTHY", 0, 30),
    ]
    w = win("n2", "closed-before-deregistered", 10, 14.5, slack_s=0.5)
    fig = lanes.lane_timeline(segments, [w])
    rows = fig.layout.meta["rows"]
    assert rows == ["n1 · endpoints", "n1 · proxy", "n1 · lb", "n2 · lb"]
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    proven = _trace(fig, lanes.WINDOW_TRACES[True])
    assert list(proven.y) == ["n2 · lb"]  # n2's single row only
    assert proven.base[0] == np.datetime64(T0 + 10 * S, "us")
    assert proven.x[0] == 4500.0
    assert proven.marker.color == LOSS and not proven.marker.pattern.shape
    assert lanes.WINDOW_TRACES[False] not in {t.name for t in fig.data}
    outline = [s for s in rects if s.line.dash == "dash"]
    assert outline[0].x0 == str(np.datetime64(T0 + int(9.5 * S), "us"))
    assert outline[0].x1 == str(np.datetime64(T0 + 15 * S, "us"))
    (label,) = fig.layout.annotations
    assert label.text == "proven · closed-before-deregistered · 4.5 s (3.5-5.5 s)"
    # anchored at its top on the group's top edge (y grows downwards): inside n2's group
    assert (label.y, label.yanchor) == (2.5, "top")
    # one separator line between the two node groups
    assert [s.y0 for s in fig.layout.shapes if s.type == "line"] == [2.5]
    marker = _trace(fig, "gap windows")
    assert list(marker.customdata) == [0]
    assert list(marker.y) == ["n2 · lb"]


def test_possible_windows_are_hatched_and_the_legend_says_so() -> None:
    segments = [seg("a", "lb", "HEALTHY", 0, 30), seg("a", "proxy", "CLOSED", 0, 30)]
    possible = replace(win("a", "registered-before-forwarding", 5, 6), certain=False)
    proven = win("a", "closed-before-deregistered", 10, 12)
    fig = lanes.lane_timeline(segments, [possible, proven])
    hatched = _trace(fig, lanes.WINDOW_TRACES[False])
    solid = _trace(fig, lanes.WINDOW_TRACES[True])
    assert hatched.marker.pattern.shape == "/" and not solid.marker.pattern.shape
    assert "hatched" in hatched.name and "solid" in solid.name
    assert list(hatched.y) == ["a · proxy", "a · lb"]  # every row of the node's group
    labels = sorted(a.text for a in fig.layout.annotations)
    assert labels[0].startswith("possible · registered-before-forwarding")
    assert labels[1].startswith("proven · closed-before-deregistered")
    marker = _trace(fig, "gap windows")
    assert sorted(marker.marker.symbol) == ["diamond", "diamond-open"]


def test_one_colour_language() -> None:
    """Green serves, red loses traffic, grey is not routed: an LB that does not route to a
    node is never red."""
    for state in ("ABSENT", "INITIAL", "UNHEALTHY", "UNUSED"):
        assert state_color(state) == NOT_ROUTED
    for state in ("HEALTHY", "OPEN", "ready", "serving", "Ready"):
        assert state_color(state) == state_color("HEALTHY") != LOSS
    for state in ("CLOSED", "none", "gone", "NotReady"):
        assert state_color(state) == LOSS


def test_legend_names_the_lane_of_each_state() -> None:
    segments = [seg("a", "node", "Ready", 0, 30), seg("a", "endpoints", "ready", 0, 30)]
    fig = lanes.lane_timeline(segments)
    assert {t.name for t in fig.data} == {"node: Ready", "endpoints: ready"}
    assert fig.layout.legend.yref == "container" and fig.layout.legend.yanchor == "bottom"


def test_marker_customdata_indexes_the_windows_given() -> None:
    segments = [seg("a", "lb", "HEALTHY", 0, 30), seg("b", "lb", "HEALTHY", 0, 30)]
    wins = [
        win("b", "node-not-ready", 1, 2),
        win("a", "registered-before-forwarding", 5, 6, provenance="inferred"),
    ]
    fig = lanes.lane_timeline(segments, wins)
    marker = _trace(fig, "gap windows")
    picked = {int(i): y for i, y in zip(marker.customdata, marker.y, strict=True)}
    assert picked == {0: "b · lb", 1: "a · lb"}
    assert any(t.endswith("· inferred") for t in marker.text)


def test_many_segments_switch_to_webgl_line_segments() -> None:
    segments = [seg(f"n{i % 7}", "lb", "HEALTHY", i, i + 0.5) for i in range(120)]
    fig = lanes.lane_timeline(segments, webgl_above=100)
    assert fig.layout.meta["renderer"] == "webgl"
    (trace,) = fig.data
    assert trace.type == "scattergl"
    assert len(trace.x) == 3 * 120
    assert list(trace.y[:3]) == ["n0 · lb", "n0 · lb", None]
    assert trace.x[0] == np.datetime64(T0, "us")
    assert trace.x[1] == np.datetime64(T0 + S // 2, "us")
    below = lanes.lane_timeline(segments, webgl_above=120)
    assert below.layout.meta["renderer"] == "svg"


def test_figure_serialises_for_the_browser() -> None:
    segments = [seg("n1", "lb", "HEALTHY", 0, 10), seg("n1", "pod", "gone", 3, None)]
    spec = json.loads(lanes.lane_timeline(segments, [win("n1", "node-not-ready", 1, 2)]).to_json())
    assert {t["type"] for t in spec["data"]} == {"bar", "scatter"}
    assert spec["layout"]["yaxis"]["categoryarray"] == ["n1 · lb", "n1 · pod"]


def test_no_data_says_so() -> None:
    fig = lanes.lane_timeline([])
    assert [a.text for a in fig.layout.annotations] == ["no lane data in this range"]
