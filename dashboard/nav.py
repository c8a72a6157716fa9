"""Moving between pages from inside a page (a click on a rollout opens the rollout page).

A widget's value cannot change once it has been drawn in the run, so a page asks for the move and
reruns; the sidebar applies the move before it draws its widgets.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_PENDING = "_goto"


def go(page: str, *, rollout: str | None = None) -> None:
    """Open `page` (and this rollout) on the next run, now."""
    st.session_state[_PENDING] = (page, rollout)
    st.rerun()


def apply_pending() -> None:
    """Called before the sidebar's widgets exist: carry out a requested move."""
    pending = st.session_state.pop(_PENDING, None)
    if pending is None:
        return
    page, rollout = pending
    st.session_state["page"] = page
    if rollout is not None:
        st.session_state["rollout"] = rollout


def selection(state: Any, part: str) -> list[Any]:
    """`points` or `rows` of a chart's or table's selection state (None or empty: [])."""
    chosen = (state or {}).get("selection") or {}
    return list(chosen.get(part) or [])
