"""SQL console: one read-only query at a time against the store, results as a table with a CSV
download; the store's views and tables listed with their columns."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from gapwatch.dashboard import cache, sqlconsole
from gapwatch.dashboard.errors import QueryError
from gapwatch.dashboard.inert import cells, md, md_sentence
from gapwatch.recorder.store import redact

if TYPE_CHECKING:
    from gapwatch.dashboard.app import Context

EXAMPLE = (
    "SELECT source, kind, count(*) AS events, min(observed_at) AS first, max(observed_at) AS last\n"
    "FROM events\nGROUP BY source, kind\nORDER BY events DESC"
)


def console_url(store: str) -> str:
    """GAPWATCH_CONSOLE_DB (a login in gapwatch_reader: deploy/sql/roles.sql) or the store."""
    return os.environ.get("GAPWATCH_CONSOLE_DB") or store


@st.cache_data(show_spinner=False, max_entries=8)
def _relations(url: str, version: int) -> list[sqlconsole.Relation]:
    return sqlconsole.describe_relations(cache.engine(url))


def render(ctx: Context) -> None:
    st.header("SQL console")
    url = console_url(ctx.url)
    st.caption(
        f"Read-only against `{redact(url)}`: one SELECT as gapwatch_reader (PostgreSQL: never "
        "as a superuser; set GAPWATCH_CONSOLE_DB to a console login), a read-only transaction, "
        "a statement timeout, row and size limits. Views: docs/sql.md; rules: docs/dashboard.md."
    )
    main, side = st.columns([3, 1])
    with side:
        st.markdown("**Views and tables**")
        for rel in _relations(ctx.url, ctx.version):
            with st.expander(f"{rel.kind} `{rel.name}`"):
                st.dataframe(
                    pd.DataFrame(rel.columns, columns=["column", "type"]),
                    hide_index=True,
                    key=f"rel-{rel.name}",
                )
    with main:
        sql = st.text_area("Query", value=EXAMPLE, height=160, key="sql")
        a, b, c = st.columns(3)
        limit = a.number_input("Row limit", 1, 100_000, sqlconsole.DEFAULT_ROW_LIMIT, key="limit")
        timeout = b.number_input("Timeout (s)", 0.1, 60.0, sqlconsole.DEFAULT_TIMEOUT_S, key="tmo")
        run = c.button("Run", type="primary", key="run")
        if not run and "sql_result" not in st.session_state:
            return
        if run:
            try:
                result = sqlconsole.run_query(
                    url, sql, timeout_s=float(timeout), row_limit=int(limit)
                )
            except QueryError as exc:
                st.session_state.pop("sql_result", None)
                st.error(f"{type(exc).__name__}: {md(str(exc))}")
                return
            st.session_state["sql_result"] = result
        result = st.session_state["sql_result"]
        st.caption(f"{len(result.rows)} rows in {result.elapsed_s * 1000:.0f} ms")
        if result.truncated:  # which limit, at which row, and how to see more
            st.warning(f"Cut: {md_sentence(result.cut or 'more rows exist')}")
        frame = pd.DataFrame(result.rows, columns=result.columns)
        # shown as `gapwatch sql` shows a table; the download below is exact
        st.dataframe(cells(frame), hide_index=True, key="sql_table")
        st.download_button(
            "Download CSV",
            sqlconsole.to_csv(result),
            file_name="gapwatch-query.csv",
            mime="text/csv",
            key="csv",
        )
