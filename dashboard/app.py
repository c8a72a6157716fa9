"""The gapwatch dashboard (Streamlit): `gapwatch dashboard` runs `streamlit run` on this file.

Thin by design: it reads the store URL (env GAPWATCH_DB, or `-- --db URL` after the script), the
shared filters from the URL's query parameters, draws the sidebar and hands one page the context.
Pages (dashboard/page_*.py) only wire widgets to dashboard.cache queries and pure figure builders.
Live mode reruns the page body every few seconds (st.fragment(run_every=...)); a run reads the
log's highest event id and, when it moved, brings the replay projections up to date first.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import streamlit as st

from gapwatch.dashboard import cache, nav
from gapwatch.dashboard.filters import PAGE_TITLES, PAGES, Filters, from_params
from gapwatch.dashboard.inert import md, md_sentence, text
from gapwatch.recorder.errors import GapwatchError
from gapwatch.recorder.store import DEFAULT_URL, redact
from gapwatch.recorder.timefmt import format_time, parse_time

LIVE_EVERY_S = 5.0
#: session key: this run's main already refreshed (the page body need not look again)
_REFRESHED = "_refreshed"
#: set when a page read starved at the SQLite heap cap was retried (dashboard/heapshare.py)
_RETRIED = "_heap_retried"
ALL = "(all)"


@dataclass(frozen=True, slots=True)
class Context:
    """What a page gets: the store URL, the filters and the log version of this run."""

    url: str
    filters: Filters
    version: int


def store_url(argv: list[str]) -> str:
    """`--db URL` after the script's `--`, else GAPWATCH_DB, else the default file."""
    if "--db" in argv:
        i = argv.index("--db")
        if i + 1 < len(argv):
            return argv[i + 1]
    return os.environ.get("GAPWATCH_DB") or DEFAULT_URL


def _init_state(filters: Filters) -> None:
    if st.session_state.get("_init"):
        return
    st.session_state["_init"] = True
    st.session_state["page"] = filters.page
    st.session_state["cluster"] = filters.cluster or ALL
    st.session_state["service"] = filters.service or ALL
    st.session_state["since"] = format_time(filters.since) if filters.since else ""
    st.session_state["until"] = format_time(filters.until) if filters.until else ""
    st.session_state["live"] = filters.live
    if filters.rollout:
        st.session_state["rollout"] = filters.rollout
    if filters.node:
        st.session_state["node"] = filters.node


def _time_input(label: str, key: str) -> str | None:
    raw = st.sidebar.text_input(
        label, key=key, placeholder="not set, e.g. 2026-11-25T10:00:00Z"
    ).strip()
    if not raw:
        return None
    try:
        parse_time(raw)
    except ValueError as exc:
        st.sidebar.warning(md(str(exc)))
        return None
    return raw


def sidebar(url: str, version: int) -> Filters:
    """The shared filters, from widgets whose first values came from the query parameters."""
    info = cache.store_info(url)
    st.sidebar.title("gapwatch")
    st.sidebar.caption(f"store `{redact(url)}` · {info.events:,} events")
    page = st.sidebar.radio("Page", PAGES, format_func=PAGE_TITLES.__getitem__, key="page")
    if page == "sql":  # the console queries the whole store: no filter applies to it
        return Filters(page="sql")
    clusters = [ALL, *info.clusters]
    if st.session_state.get("cluster") not in clusters:
        # a URL's cluster the store does not hold showed every cluster without a word
        st.warning(
            f"ignored URL parameter cluster: no cluster {md(repr(st.session_state.get('cluster')))}"
            f" in this store (it holds {md(', '.join(info.clusters) or 'none')}): showing every "
            "cluster"
        )
        st.session_state["cluster"] = ALL
    picked = st.sidebar.selectbox("Cluster", clusters, format_func=text, key="cluster")
    cluster = None if picked == ALL else picked
    keys = sorted({s.key for s in cache.services(url, cluster, version)})
    options = [ALL, *keys]
    if st.session_state.get("service") not in options:
        st.session_state["service"] = ALL
    service = st.sidebar.selectbox("Service (LB-facing)", options, format_func=text, key="service")
    since = _time_input("Since (RFC 3339, UTC; empty: from the start)", "since")
    until = _time_input("Until (empty: to the end)", "until")
    if info.first and info.last:
        st.sidebar.caption(f"data: {format_time(info.first)} .. {format_time(info.last)}")
    live = st.sidebar.toggle("Live (refresh every 5 s)", key="live")
    rollout = st.session_state.get("rollout") if page == "rollout" else None
    node = st.session_state.get("node") if page == "rollout" else None
    params = {
        "page": page,
        "cluster": cluster or "",
        "service": "" if service == ALL else service,
        "since": since or "",
        "until": until or "",
        "rollout": rollout or "",
        "node": node or "",
        "live": "1" if live else "",
    }
    filters, _problems = from_params(params)
    return filters


def refresh(url: str, version: int, *, warn: bool = False) -> None:
    """Bring the projections up to date; a long refresh (a rebuild after an upgrade, a first
    build, the first fold since start: replay.due) says on the page what it does and why while
    it runs, instead of a page that only spins; `warn`: say too when other code derived facts.
    A run refreshes before the sidebar, whose Service list reads the projections."""
    due = cache.due(url)
    if warn and due.facts.mixed:
        st.warning(md_sentence(due.facts.message()), icon=":material/history:")
    saying = due.saying()
    if saying is None:
        cache.refreshed(url, version)
        return
    label, why = saying
    with st.status(label + "...", expanded=True) as status:
        st.write(why)
        started = time.monotonic()
        cache.refresh_now(url)
        took = time.monotonic() - started
        status.update(label=f"{label}: done in {took:.1f} s", state="complete", expanded=False)


def render_page(url: str, filters: Filters) -> None:
    """One run of the page body (inside a fragment in live mode)."""
    try:
        _render_page(url, filters)
    except MemoryError as exc:
        _starved(exc)


def _starved(exc: MemoryError) -> None:
    """A page read refused at the SQLite heap cap a console query held: wait for the heap to
    have room and run the page again, once; a second refusal is said in one line."""
    from gapwatch.dashboard import heapshare

    if not heapshare.starved(exc):
        raise exc
    if st.session_state.pop(_RETRIED, False):
        st.error(heapshare.REFUSED)
        return
    st.session_state[_RETRIED] = True
    heapshare.wait_for_room()
    st.rerun()


def _render_page(url: str, filters: Filters) -> None:
    from gapwatch.dashboard import page_overview, page_rollout, page_sql, page_whatif

    version = cache.version(url)
    # the run's first body follows main's own refresh; a live rerun of the fragment refreshes
    if filters.page != "sql" and not st.session_state.pop(_REFRESHED, False):
        refresh(url, version)
    ctx = Context(url=url, filters=filters, version=version)
    {
        "overview": page_overview.render,
        "rollout": page_rollout.render,
        "whatif": page_whatif.render,
        "sql": page_sql.render,
    }[filters.page](ctx)


def _logged_in() -> bool:
    """With Streamlit's OIDC login configured ([auth] in secrets.toml), visitors must log in."""
    try:
        configured = "auth" in st.secrets
    except FileNotFoundError:
        configured = False
    if not configured or st.user.is_logged_in:
        return True
    st.title("gapwatch")
    st.button("Log in", on_click=st.login, key="login")
    return False


def main() -> None:
    st.set_page_config(page_title="gapwatch", page_icon=":material/lan:", layout="wide")
    if not _logged_in():
        return
    url = store_url(sys.argv[1:])
    initial, problems = from_params({k: st.query_params.get(k, "") for k in st.query_params})
    _init_state(initial)
    nav.apply_pending()
    for problem in problems:
        st.warning(f"ignored URL parameter {md(problem)}")
    try:
        version = cache.version(url)
        if st.session_state.get("page") != "sql":
            refresh(url, version, warn=True)
            st.session_state[_REFRESHED] = True
        filters = sidebar(url, version)
        st.query_params.from_dict(filters.to_params())
        body = st.fragment(render_page, run_every=LIVE_EVERY_S if filters.live else None)
        body(url, filters)
        st.session_state.pop(_RETRIED, None)  # drawn: a later refusal is retried again
    except GapwatchError as exc:
        st.error(f"{type(exc).__name__}: {md(str(exc))}")
    except MemoryError as exc:
        _starved(exc)


main()
