"""Overview: clusters and LB-facing services, gap-seconds over time, rollouts ranked by damage,
windows by class, and a clear "clean" state when nothing dropped traffic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from gapwatch.dashboard import cache, data, figures, nav, tables
from gapwatch.dashboard.inert import cells, md, md_sentence
from gapwatch.dashboard.style import format_seconds

if TYPE_CHECKING:
    from gapwatch.dashboard.app import Context
    from gapwatch.dashboard.filters import Filters
    from gapwatch.replay.model import Window


def render(ctx: Context) -> None:
    f = ctx.filters
    wins = cache.windows(ctx.url, f, ctx.version)
    rolls = cache.rollouts(ctx.url, f, ctx.version, wins)  # their windows not read again
    svcs = cache.services(ctx.url, f.cluster, ctx.version)
    svcs = [s for s in svcs if f.matches(s)]
    st.header("Overview")
    total = sum(w.duration_s for w in wins)
    real = [r for r in rolls if r.kind == "rollout"]
    disruptions = [r for r in rolls if r.kind != "rollout"]
    c = st.columns(5)
    c[0].metric("Clusters", len({s.cluster for s in svcs}))
    c[1].metric("LB-facing services", len(svcs))
    c[2].metric("Gap windows", len(wins))
    c[3].metric("Gap-seconds", f"{total:.1f}")
    c[4].metric(
        "Rollouts with gaps",
        f"{sum(1 for r in real if r.windows)} of {len(real)}",
        help=f"Node disruptions (drains, deletions) are counted apart: "
        f"{sum(1 for r in disruptions if r.windows)} of {len(disruptions)} had gaps.",
    )
    kept = cache.kept_note(ctx.url, f, ctx.version)
    if kept:  # as `gaps` says it: rows of a span retention dropped, kept as they were
        st.info(f"Note: {md_sentence(kept)}.", icon=":material/history:")
    if not wins and not cache.lb_lanes(ctx.url, f.cluster, f.service, ctx.version):
        # as `gaps` says it: "clean" claimed what nothing recorded
        st.warning(
            "No gap windows could be seen: nothing recorded which nodes the load balancer routes "
            "to (no LB poller, CloudTrail, push API or service-controller Event; docs/lb.md, "
            "docs/importers.md). 0 windows here says nothing about the load balancer."
        )
    elif not wins:
        st.success(
            "Clean: no gap windows in this range. The load balancer never sent traffic to a node "
            "that could not serve it."
        )
    else:
        worst = max(wins, key=lambda w: w.duration_s)
        st.error(
            f"{len(wins)} gap windows, {format_seconds(total)} in all; the longest: "
            f"{worst.class_text} on {md(worst.node)} ({format_seconds(worst.duration_s)})."
        )
    if wins:
        left, right = st.columns([3, 2])
        left.plotly_chart(
            figures.gap_seconds_over_time(wins, since_us=f.since_us, until_us=f.until_us),
            key="gap_time",
        )
        right.plotly_chart(figures.window_class_counts(wins), key="class_counts")
    else:  # two empty frames said "clean" even where the warning above says nothing was seen
        st.caption("No gap window in this range: no gap-seconds over time or windows by class.")
    st.subheader("Rollouts ranked by damage")
    if any(r.windows for r in rolls):
        event = st.plotly_chart(
            figures.rollouts_ranked(rolls),
            key="ranked",
            on_select="rerun",
            selection_mode="points",
        )
        points = nav.selection(event, "points")
        if points and points[0].get("customdata"):
            nav.go("rollout", rollout=str(points[0]["customdata"]))
    else:
        st.caption(_NOTHING_RANKED if rolls else _NO_ROLLOUTS)
    rows = tables.rollout_rows(rolls)
    if rows:
        shown = ["rollout", "windows", "gap_s", "failed_requests", "kind"]
        frame = pd.DataFrame(rows)[shown]  # the cluster is in the label; fits the page width
        base = f.with_(page="rollout").to_params()
        links = [
            f"?{urlencode({**base, 'cluster': r['cluster'], 'rollout': r['id']})}" for r in rows
        ]
        frame.insert(0, "open", links)
        _linked_table(
            frame,
            "rollout_table",
            rollout=st.column_config.TextColumn("rollout (cluster · workload)", width="large"),
            gap_s=st.column_config.NumberColumn("gap-seconds", format="%.1f"),
        )
    _unowned_windows(f, wins)
    st.subheader("Services")
    st.dataframe(
        cells(pd.DataFrame(data.service_rows(svcs, wins, rolls))),
        hide_index=True,
        column_config={"gap_s": st.column_config.NumberColumn("gap_s", format="%.1f")},
    )


#: what the Overview says where its rollouts chart would show nothing
_NO_ROLLOUTS = "No rollout or node disruption in this range: nothing to rank."
_NOTHING_RANKED = (
    "No rollout or node disruption in this range had a gap window: each would be a bar of 0 "
    "gap-seconds (the table below lists them)."
)


def _unowned_windows(f: Filters, wins: list[Window]) -> None:
    """Windows outside any rollout or node disruption (a crash, a lone health-check flap): each
    with a link that opens that node's lanes around it on the rollout page."""
    rows = tables.unowned_window_rows(wins, data.MARGIN_US)
    if not rows:
        return
    st.subheader("Windows outside any rollout")
    base = f.with_(page="rollout", rollout=None, node=None).to_params()
    keys = ("cluster", "service", "node", "since", "until")
    frame = pd.DataFrame(rows)[
        ["cluster", "node", "class", "also", "start", "duration_s", "proven"]
    ]
    frame.insert(0, "open", [f"?{urlencode({**base, **{k: r[k] for k in keys}})}" for r in rows])
    _linked_table(
        frame,
        "unowned_table",
        duration_s=st.column_config.NumberColumn("duration (s)", format="%.1f"),
    )


def _linked_table(frame: pd.DataFrame, key: str, **columns: Any) -> None:
    """A table whose `open` column holds deep links (query strings) into the rollout page."""
    link = st.column_config.LinkColumn("open", display_text="open ↗", width="small")
    st.dataframe(
        cells(frame),
        hide_index=True,
        width="stretch",
        key=key,
        column_config={"open": link, **columns},
    )
