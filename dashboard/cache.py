"""Streamlit caching around dashboard.data: one engine per store URL, query results per version.

Every cached query takes `version` (the log's highest event id): when a recorder writes, the
version changes and the next run reads afresh; otherwise reruns (a click, a slider) hit the cache.
Filters are normalised so that switching page or toggling live mode does not miss the cache.
"""

from __future__ import annotations

import threading

import streamlit as st
from sqlalchemy import Engine

from dashboard import data
from dashboard.filters import Filters
from recorder.store import make_engine
from replay import api
from replay.model import Advice, Rollout, Segment, ServiceRef, WhatIf, Window


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Engine:
    return make_engine(url)


def _key(filters: Filters) -> Filters:
    return Filters(
        cluster=filters.cluster, service=filters.service, since=filters.since, until=filters.until
    )


def version(url: str) -> int:
    """The log's highest event id, read on every run (cheap: the primary key's max)."""
    return data.last_event_id(engine(url))


@st.cache_data(show_spinner=False, max_entries=16)
def refreshed(url: str, version: int) -> int:
    """Bring the replay projections up to `version` once per new version; new windows found."""
    return int(api.refresh(engine(url)))


@st.cache_data(show_spinner=False, max_entries=16)
def store_info(url: str, version: int) -> data.StoreInfo:
    return data.store_info(engine(url))


@st.cache_data(show_spinner=False, max_entries=16)
def services(url: str, cluster: str | None, version: int) -> list[ServiceRef]:
    return data.services(engine(url), Filters(cluster=cluster))


@st.cache_data(show_spinner=False, max_entries=32)
def windows(url: str, filters: Filters, version: int) -> list[Window]:
    return data.windows(engine(url), _key(filters))


@st.cache_data(show_spinner=False, max_entries=32)
def rollouts(url: str, filters: Filters, version: int) -> list[Rollout]:
    return data.rollouts(engine(url), _key(filters))


@st.cache_resource(show_spinner=False, max_entries=8)
def service_timeline(url: str, service: ServiceRef, version: int) -> list[Segment]:
    """All lane segments of a Service, shared (not copied) between runs and sessions.

    replay.api.timeline folds the Service's whole history whatever range is asked, so the app
    asks once per log version and slices in memory: moving the range or switching between the
    Service's rollouts costs milliseconds instead of a fold.
    """
    return data.service_timeline(engine(url), service)


_warming: set[tuple[str, ServiceRef, int]] = set()
_warming_lock = threading.Lock()


def prewarm(url: str, services: list[ServiceRef], version: int) -> list[threading.Thread]:
    """Fill `service_timeline` for these Services in the background (once per version), so the
    rollout page the user opens next finds them folded. Returns the threads it started."""
    started = []
    for service in services:
        key = (url, service, version)
        with _warming_lock:
            if key in _warming:
                continue
            _warming.add(key)
        thread = threading.Thread(
            target=service_timeline, args=key, name="gapwatch-prewarm", daemon=True
        )
        thread.start()
        started.append(thread)
    return started


def rollout_page(
    url: str, rollout: Rollout, since_us: int | None, until_us: int | None, version: int
) -> data.RolloutPage:
    lo, hi = data.visible_range(rollout, since_us, until_us)
    return data.slice_page(rollout, service_timeline(url, rollout.service, version), lo, hi)


@st.cache_data(show_spinner=False, max_entries=64)
def whatif(
    url: str, service: ServiceRef, settings: WhatIf, filters: Filters, version: int
) -> list[Window]:
    return list(
        api.whatif(engine(url), service, settings, since=filters.since, until=filters.until)
    )


@st.cache_data(show_spinner=False, max_entries=16)
def advice(url: str, service: ServiceRef, version: int) -> Advice:
    result: Advice = api.advise(engine(url), service)
    return result
