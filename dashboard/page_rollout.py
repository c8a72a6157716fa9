"""Rollout: the lanes of every node the rollout touched on one time axis, its gap windows shaded
and labelled, the windows as a table, per-class counts, and the events behind a chosen window."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from gapwatch.dashboard import cache, data, figures, lanes, nav, tables
from gapwatch.dashboard.filters import match_rollout, pick_service
from gapwatch.dashboard.inert import cells, md, md_sentence, text
from gapwatch.recorder.timefmt import format_time, from_micros, to_micros
from gapwatch.replay import api
from gapwatch.replay.model import Rollout, Window

#: The window table's columns on this page, most telling first.
ROLLOUT_WINDOW_COLUMNS = (
    "node", "class", "also", "certain", "duration_s", "duration_min_s", "duration_max_s",
    "failed_requests", "start", "end", "provenance",
)  # fmt: skip
#: Past this many nodes the page first draws only the nodes that had windows.
MANY_NODES = 8

if TYPE_CHECKING:
    from gapwatch.dashboard.app import Context


def _pick_rollout(rolls: list[Rollout]) -> Rollout | None:
    ranked = figures.rank_rollouts(rolls)
    if not ranked:
        return None
    by_id = {r.id: r for r in ranked}
    # a URL's rollout the range does not hold (a short id, another store's, a typo) was replaced
    # by the worst rollout without a word: the page showed another rollout than the one asked for
    found, problem = match_rollout(st.session_state.get("rollout"), list(by_id))
    if problem is not None:
        st.warning(f"{md(problem)}: showing the worst one")
    st.session_state["rollout"] = found or ranked[0].id
    chosen = st.selectbox(
        "Rollout (worst first)",
        list(by_id),
        format_func=lambda i: (
            f"{text(figures.rollout_label(by_id[i]))} · "
            f"{len(by_id[i].windows)} windows, {by_id[i].gap_seconds:.1f} gap-s"
        ),
        key="rollout",
    )
    # the URL opens this rollout again, in its cluster (ids are unique; the cluster is for people)
    st.query_params["rollout"] = chosen
    st.query_params["cluster"] = by_id[chosen].service.cluster
    return by_id[chosen]


def _visible_range(rollout: Rollout) -> tuple[int, int]:
    lo = from_micros(rollout.start_us - data.MARGIN_US).replace(microsecond=0)
    hi = from_micros(rollout.end_us + data.MARGIN_US).replace(microsecond=0) + timedelta(seconds=1)
    chosen = st.slider(
        "Visible range (only this range is read)",
        min_value=lo,
        max_value=hi,
        value=(lo, hi),
        step=timedelta(seconds=1),
        format="HH:mm:ss",
        key=f"range-{rollout.id}",
    )
    return to_micros(chosen[0]), to_micros(chosen[1])


def _selected_window(
    chart: Any, drawn: list[Window], table: Any, listed: list[Window], node: str | None
) -> Window | None:
    """The window picked by a click on its marker (an index into `drawn`), else by a row of
    the table (an index into `listed`), else the first window on the URL's `node`. A pick is
    written back to the URL (`&node=`), so the link opens this window again."""
    picked = None
    for point in nav.selection(chart, "points"):
        custom = point.get("customdata")
        if isinstance(custom, int) and 0 <= custom < len(drawn):
            picked = drawn[custom]
            break
    rows = nav.selection(table, "rows")
    if picked is None and rows and int(rows[0]) < len(listed):
        picked = listed[int(rows[0])]
    if picked is not None:
        st.query_params["node"] = picked.node
        st.session_state["node"] = picked.node
        return picked
    return next((w for w in listed if w.node == node), None)


def _pick_nodes(
    rollout: Rollout, page: data.RolloutPage, wins: list[Window], linked: str | None
) -> set[str]:
    """Which nodes' lanes to draw: all of them for a small rollout, else the worst few (and
    the node the URL names)."""
    every = sorted({s.node for s in page.segments} | {w.node for w in wins})
    default = every if len(every) <= MANY_NODES else tables.worst_nodes(wins, MANY_NODES) or every
    if linked in every and linked not in default:
        default = sorted([*default, linked])
    chosen = st.multiselect(
        f"Nodes drawn ({len(every)} in this rollout)",
        every,
        default=default,
        format_func=text,
        key=f"nodes-{rollout.id}",
        help=f"Past {MANY_NODES} nodes the page starts with the nodes that lost most.",
    )
    return set(chosen or every)


def _metrics(rollout: Rollout, wins: list[Window]) -> None:
    impact = [w.failed_requests for w in wins if w.failed_requests is not None]
    c = st.columns(5)
    c[0].metric("Gap windows", len(wins))
    c[1].metric("Gap-seconds", f"{sum(w.duration_s for w in wins):.1f}")
    low, high = sum(w.duration_min_s for w in wins), sum(w.duration_max_s for w in wins)
    c[2].metric("Possible range", f"{low:.1f}-{high:.1f} s")
    c[3].metric("Nodes", len(rollout.nodes) or len({w.node for w in wins}))
    c[4].metric(
        "Failed requests",
        sum(impact) if impact else "n/a",
        help="From LB access logs or the simulator; n/a when no impact data was recorded.",
    )


def _render_range(ctx: Context, node: str, since_us: int, until_us: int) -> None:
    """A window that belongs to no rollout (`?page=rollout&cluster=&service=&node=&since=&until=`,
    the Overview's "windows outside any rollout" links): that node's lanes over the range."""
    st.header(f"Node {md(node)}")
    wins = sorted(
        (w for w in cache.windows(ctx.url, ctx.filters, ctx.version) if w.node == node),
        key=lambda w: (w.start_us, w.node),
    )
    svcs = cache.services(ctx.url, ctx.filters.cluster, ctx.version)
    service = wins[0].service if wins else pick_service(svcs, ctx.filters)
    if service is None:
        st.info("No LB-facing service in this filter.")
        return
    st.caption(
        f"{md(service.cluster)} · {md(service.key)} · {format_time(from_micros(since_us))} .. "
        f"{format_time(from_micros(until_us))}, outside any rollout (the sidebar's time range)"
    )
    segments = cache.node_lanes(ctx.url, service, node, since_us, until_us, ctx.version)
    gone = api.retention_lanes_note(cache.engine(ctx.url), service, since_us, segments)
    if gone:
        st.warning(md_sentence(gone[0].upper() + gone[1:]))
    fig = lanes.lane_timeline(segments, wins, until_us=until_us)
    fig.update_xaxes(range=[from_micros(since_us), from_micros(until_us)])
    chart = st.plotly_chart(fig, key="lanes", on_select="rerun", selection_mode="points")
    table = _window_table(wins)
    _window_events(ctx, _selected_window(chart, wins, table, wins, node), wins)


def _window_table(wins: list[Window]) -> Any:
    """The windows under the heading "Gap windows"; a row can be picked (its events follow).
    The cluster and Service are the page's (above): the columns that differ fit."""
    st.subheader("Gap windows")
    frame = pd.DataFrame(tables.window_rows(wins), columns=list(ROLLOUT_WINDOW_COLUMNS))
    frame["also"] = frame["also"].map(tables.also_cell)
    return st.dataframe(
        cells(frame),
        hide_index=True,
        key="window_table",
        on_select="rerun",
        selection_mode="single-row",
    )


def _window_events(ctx: Context, win: Window | None, wins: list[Window]) -> None:
    if win is not None:
        st.subheader(f"Events behind the window on {md(win.node)}")
        st.caption(md(lanes.window_label(win)))
        rows = data.events_by_id(cache.engine(ctx.url), data.window_event_ids(win))
        frame = pd.DataFrame(rows, columns=list(data.EVENT_COLUMNS))
        st.dataframe(cells(frame), hide_index=True)
        if not win.certain:
            _why_possible(ctx, win, wins)
    elif wins:
        st.caption("Select a window (diamond in the chart or a table row) to see its events.")


def _why_possible(ctx: Context, win: Window, wins: list[Window]) -> None:
    """On request (it reads the samples around the shown windows): why the selected possible
    window is only possible, and what denser sampling would have done (replay.openness, as the
    report words it), read for the shown windows of its Service at once."""
    asked = st.toggle(
        "Why is it only possible? (reads the samples around these windows: about a second on "
        "a store of a million events)",
        key="why-possible",
    )
    mine = [w for w in wins if w.service == win.service] or [win]
    since, until = min(w.start_us for w in mine), max(w.end_us for w in mine) + 1
    why = (
        cache.openness(ctx.url, win.service, since, until, ctx.version).get(win) if asked else None
    )
    if why is None:
        return
    st.markdown(
        f"**Why possible:** {md(why.why)}.  \n**kube-proxy:** {md(why.kube_proxy)}.  \n"
        f"**LB:** {md(why.lb)}.  \n{md(why.denser)}"
    )


def render(ctx: Context) -> None:
    f = ctx.filters
    if f.rollout is None and f.node and f.since_us is not None and f.until_us is not None:
        _render_range(ctx, f.node, f.since_us, f.until_us)
        return
    st.header("Rollout")
    rolls = cache.rollouts(ctx.url, ctx.filters, ctx.version)
    rollout = _pick_rollout(rolls)
    if rollout is None:
        st.info("No rollouts in this range and filter.")
        return
    since_us, until_us = _visible_range(rollout)
    page = cache.rollout_page(ctx.url, rollout, since_us, until_us, ctx.version)
    wins = sorted(page.windows, key=lambda w: (w.start_us, w.node))
    _metrics(rollout, wins)
    if page.lanes_note:  # a kept rollout's windows over empty lanes said nothing of why
        st.warning(md_sentence(page.lanes_note[0].upper() + page.lanes_note[1:]))
    if not wins:
        st.success("Clean rollout: no gap windows.")
    nodes = _pick_nodes(rollout, page, wins, ctx.filters.node)
    drawn = [w for w in wins if w.node in nodes]
    segments = [s for s in page.segments if s.node in nodes]
    fig = lanes.lane_timeline(segments, drawn, until_us=page.until_us)
    fig.update_xaxes(range=[from_micros(page.since_us), from_micros(page.until_us)])
    chart = st.plotly_chart(fig, key="lanes", on_select="rerun", selection_mode="points")
    st.caption(
        "Green serves, red loses traffic, grey: the LB does not route there. Lanes: solid "
        "measured, dotted and paler inferred. Gap windows: solid red proven, hatched red possible "
        f"(dashed: how far sampling lets them stretch). {len(segments):,} segments, "
        f"{fig.layout.meta['renderer']} renderer. Click a window's diamond for its events."
    )
    table = _window_table(wins)
    st.subheader("Per class")
    st.dataframe(pd.DataFrame(tables.class_summary(wins)), hide_index=True, key="class_table")
    _window_events(ctx, _selected_window(chart, drawn, table, wins, ctx.filters.node), wins)
