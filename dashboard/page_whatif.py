"""What-if: replay the recorded timeline under other settings (preStop, PTE, CCM delay, health
checks) and show the windows side by side with the recorded ones, plus `gapwatch advise`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from gapwatch.dashboard import cache, figures, tables
from gapwatch.dashboard.filters import Filters, match_rollout, pick_service
from gapwatch.dashboard.inert import cells, md, text
from gapwatch.recorder.timefmt import from_micros
from gapwatch.replay import api
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.context import ccm_mode, nodes_of
from gapwatch.replay.fold import FoldState
from gapwatch.replay.load import load_state
from gapwatch.replay.measure import Measured, stated_reads
from gapwatch.replay.model import Advice, Rollout, ServiceRef, WhatIf
from gapwatch.replay.proxy import pte_enabled
from gapwatch.replay.rollout_range import rollout_range
from gapwatch.replay.whatif import pod_lives

if TYPE_CHECKING:
    from gapwatch.dashboard.app import Context

AS_RECORDED = "as recorded"
WHOLE_RANGE = "(whole range)"

#: (WhatIf field, label, choices) - each a select-slider whose first stop is "as recorded".
SETTINGS: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("prestop_s", "preStop sleep (s)", (0, 5, 10, 15, 20, 30, 45, 60, 90, 120)),
    ("termination_grace_s", "terminationGracePeriodSeconds", (30, 60, 90, 120, 180, 300)),
    ("proxy_terminating_endpoints", "ProxyTerminatingEndpoints", (True, False)),
    ("ccm_register_delay_s", "CCM registration delay (s)", (0, 1, 2, 5, 10, 15, 30, 60)),
    ("hc_interval_s", "LB health-check interval (s)", (2, 5, 10, 15, 30)),
    ("hc_healthy_threshold", "healthy threshold", (1, 2, 3, 5, 10)),
    ("hc_unhealthy_threshold", "unhealthy threshold", (1, 2, 3, 5, 10)),
    ("deregistration_delay_s", "deregistration delay (s)", (0, 5, 15, 30, 60, 300)),
)


def _label(value: Any) -> str:
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def _spread(values: set[Any], unit: str = "") -> str:
    """`30 s`, `0-30 s` (pods that differ), `on`, `on/off` (nodes that differ); `?` for none."""
    if not values:
        return "?"
    if all(isinstance(v, bool) for v in values):
        return "/".join(_label(v) for v in sorted(values, reverse=True))
    low, high = min(values), max(values)
    return (f"{low:g}" if low == high else f"{low:g}-{high:g}") + unit


def _lb_value(found: Measured | None, unit: str) -> str:
    """`10 s (measured, 1 sample)` or `10 s (assumed default)`."""
    if found is None or found.value is None:
        return "?"
    how = f"measured, {found.samples} sample{'s' * (found.samples != 1)}"
    return f"{found.value:g}{unit} ({how if found.measured else 'assumed default'})"


def recorded_values(
    state: FoldState,
    svc: ServiceRef,
    assumed: DetectSettings,
    lb: Mapping[str, Measured] | None = None,
) -> dict[str, str]:
    """What the timeline ran with, per setting (what "as recorded" replays): the pods' preStop
    and grace period, each node's ProxyTerminatingEndpoints, no added registration delay; the
    LB's health-check settings as the target group's reads measured them (`lb`, else the
    assumptions'), used only by a node-driven LB; the deregistration delay changes no window
    (it lets open connections finish; new ones stop at deregistration)."""
    nodes = nodes_of(state, svc)
    pods = [pod for node in nodes for pod in pod_lives(state, svc, node)]
    node_driven = ccm_mode(state, svc, assumed) == "node"
    lb = stated_reads(state, svc, lb)  # what detection used: CloudTrail's statements too
    dereg = _lb_value(lb.get("deregistration_delay_s"), " s")
    return {
        "prestop_s": _spread({pod.prestop_s for pod in pods}, " s"),
        "termination_grace_s": _spread({pod.grace_s for pod in pods}, " s"),
        "proxy_terminating_endpoints": _spread(
            {pte_enabled(state, svc.cluster, node, assumed) for node in nodes}
        ),
        "ccm_register_delay_s": "none added",
        "hc_interval_s": _lb_value(lb.get("hc_interval_s"), " s")
        if node_driven
        else "not used (endpoint-driven LB)",
        "hc_healthy_threshold": _lb_value(lb.get("hc_healthy_threshold"), "")
        if node_driven
        else "not used (endpoint-driven LB)",
        "hc_unhealthy_threshold": _lb_value(lb.get("hc_unhealthy_threshold"), "")
        if node_driven
        else "not used (endpoint-driven LB)",
        "deregistration_delay_s": f"{dereg}; changes no window",
    }


@st.cache_data(show_spinner=False, max_entries=16)
def _recorded(url: str, service: ServiceRef, scope: Filters, version: int) -> dict[str, str]:
    """What the pods and nodes of the scope ran with (of the whole history: no range)."""
    engine = cache.engine(url)
    lo, hi = scope.since_us, scope.until_us
    if lo is not None and hi is not None:
        found = cache.scope(url, service, lo, hi, version)
        return recorded_values(found.state, service, found.settings, found.lb_reads)
    state = load_state(engine, service=service)
    lb = api.measurements(engine, service).lb
    return recorded_values(state, service, api.assumptions(engine), lb)


def settings_from_widgets(recorded: dict[str, str]) -> WhatIf:
    """One control per setting; each starts at (and can return to) "as recorded", which shows
    the recorded value. The on/off setting is a three-way toggle, the others select-sliders."""
    values: dict[str, Any] = {}
    cols = st.columns(4)
    for i, (field, label, choices) in enumerate(SETTINGS):
        key = f"whatif-{field}"
        options = (AS_RECORDED, *choices)
        if st.session_state.get(key) not in options:
            st.session_state[key] = AS_RECORDED
        was = recorded[field]

        def show(value: Any, was: str = was) -> str:
            return f"{AS_RECORDED}: {was}" if value == AS_RECORDED else _label(value)

        helptext = f"Recorded: {was}. Pick a value to replay the timeline with it instead."
        if all(isinstance(c, bool) for c in choices):
            chosen = cols[i % 4].segmented_control(
                label,
                options=options,
                format_func=show,
                key=key,
                selection_mode="single",
                help=helptext,
            )
            chosen = AS_RECORDED if chosen is None else chosen
        else:
            chosen = cols[i % 4].select_slider(
                label, options=options, format_func=show, key=key, help=helptext
            )
        values[field] = None if chosen == AS_RECORDED else chosen
    return WhatIf(**values)


def _scope(ctx: Context, service: ServiceRef) -> tuple[Filters, Rollout | None]:
    """The filters narrowed to one rollout of the service (the URL's, or the one picked) and
    that rollout, or left as they are for "the whole range" (and None)."""
    rolls = [r for r in cache.rollouts(ctx.url, ctx.filters, ctx.version) if r.service == service]
    options = [WHOLE_RANGE, *(r.id for r in figures.rank_rollouts(rolls))]
    by_id = {r.id: r for r in rolls}
    key = "whatif-rollout"
    if st.session_state.get(key) not in options:
        # the URL's rollout, else the worst one: a rollout's span replays in a second, the
        # whole history of a large Service takes minutes (docs/dashboard.md, Performance)
        wanted = ctx.filters.rollout or st.session_state.get("rollout")
        found, problem = match_rollout(wanted, list(by_id))
        if problem is not None:
            st.warning(f"{md(problem)}: the scope is the worst one")
        st.session_state[key] = found or options[min(1, len(options) - 1)]
    chosen = st.selectbox(
        "Scope",
        options,
        format_func=lambda i: i if i == WHOLE_RANGE else text(figures.rollout_label(by_id[i])),
        key=key,
        help="Replay one rollout (its span) or everything the sidebar's range allows (on a "
        "long, busy history that takes minutes).",
    )
    if chosen == WHOLE_RANGE:
        return ctx.filters, None
    r = by_id[chosen]
    st.query_params["rollout"] = r.id
    # the range `gapwatch whatif --rollout` reads (replay.rollout_range), not the lanes' margin
    # either side (data.MARGIN_US), which counted a neighbour's windows as the rollout's
    lo, hi = rollout_range(r, cache.assumptions(ctx.url, ctx.version))
    # of which only the windows the rollout owns count, recorded and replayed (replay.owned):
    # a neighbour's that start inside the range are not its
    return ctx.filters.with_(since=from_micros(lo), until=from_micros(hi)), r


def _apply_advice(advice: Advice) -> None:
    for field, _label_text, choices in SETTINGS:
        value = getattr(advice.settings, field)
        key = f"whatif-{field}"
        if value is None:
            st.session_state[key] = AS_RECORDED
        elif value in choices:
            st.session_state[key] = value
        else:  # the nearest stop at or above the advised value
            above = [c for c in choices if not isinstance(c, bool) and c >= value]
            st.session_state[key] = above[0] if above else choices[-1]


def advice_outcome(advice: Advice) -> str:
    """What the advised settings do to the recorded timeline, in words: the page said "the
    replay finds **0** windows instead of **3**", which reads as a search that came back empty
    as much as a timeline with every gap closed."""
    before = f"{advice.windows_before} window{'s' if advice.windows_before != 1 else ''}"
    if advice.windows_after == 0:
        return (
            "Replayed under these settings, the recorded timeline has **no gap window left** "
            f"(as recorded it has {before})."
        )
    after = f"{advice.windows_after} gap window{'s' if advice.windows_after != 1 else ''}"
    return (
        f"Replayed under these settings, the recorded timeline still has **{after}** (as "
        f"recorded it has {before})."
    )


def _advice(advice: Advice) -> None:
    st.subheader("Advice (`gapwatch advise`)")
    st.write(advice_outcome(advice))
    changed = {k: _label(v) for k, v in asdict(advice.settings).items() if v is not None}
    st.dataframe(
        pd.DataFrame([{"setting": k, "advised": v} for k, v in changed.items()]),
        hide_index=True,
        key="advice_settings",
    )
    if advice.knobs:
        st.caption("The knobs that set them on this platform, and what each number rests on")
        for knob in advice.knobs:
            st.markdown(f"- {knob}")
    st.caption("Evidence: the measured lags these settings must cover")
    lags = cells(pd.DataFrame(tables.lag_rows(advice.lags)))
    st.dataframe(lags, hide_index=True, key="advice_lags")
    for note in advice.notes:
        st.markdown(f"- {note}")
    st.button("Try the advised settings", on_click=_apply_advice, args=(advice,))


def render(ctx: Context) -> None:
    st.header("What-if")
    svcs = cache.services(ctx.url, ctx.filters.cluster, ctx.version)
    service = pick_service(svcs, ctx.filters)
    if service is None:
        st.info("No LB-facing service in this filter.")
        return
    st.caption(
        f"Service {md(service.key)} in cluster {md(service.cluster)} (choose another in the "
        'sidebar). Every control starts at "as recorded": the timeline replayed with what the '
        "cluster did."
    )
    scope, rollout = _scope(ctx, service)
    settings = settings_from_widgets(_recorded(ctx.url, service, scope, ctx.version))
    recorded = [w for w in cache.windows(ctx.url, scope, ctx.version) if w.service == service]
    if rollout is not None:
        recorded = [w for w in recorded if w.rollout == rollout.id]
    replayed = cache.whatif(ctx.url, service, settings, scope, ctx.version, rollout)
    c = st.columns(4)
    c[0].metric("Recorded windows", len(recorded))
    diff = len(replayed) - len(recorded)
    c[1].metric("What-if windows", len(replayed), delta=diff or None, delta_color="inverse")
    rec_s, new_s = sum(w.duration_s for w in recorded), sum(w.duration_s for w in replayed)
    c[2].metric("Recorded gap-seconds", f"{rec_s:.1f}")
    delta = f"{new_s - rec_s:.1f}" if abs(new_s - rec_s) >= 0.05 else None
    c[3].metric("What-if gap-seconds", f"{new_s:.1f}", delta=delta, delta_color="inverse")
    if recorded or replayed:
        st.plotly_chart(figures.whatif_comparison(recorded, replayed), key="whatif_fig")
    else:  # an empty frame, with nothing on the page saying why
        st.caption("No window recorded and none under these settings: nothing to chart.")
    left, right = st.columns(2)
    left.caption("Recorded, per class")
    left.dataframe(pd.DataFrame(tables.class_summary(recorded)), hide_index=True, key="rec_cls")
    right.caption("What-if, per class")
    right.dataframe(pd.DataFrame(tables.class_summary(replayed)), hide_index=True, key="new_cls")
    _advice(cache.advice(ctx.url, service, scope, ctx.version, rollout))
