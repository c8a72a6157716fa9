"""Streamlit caching around dashboard.data: one engine per store URL, query results per version.

Every cached query takes `version` (the log's highest event id): when a recorder writes, the
version changes and the next run reads afresh; otherwise reruns (a click, a slider) hit the cache.
Filters are normalised so that switching page or toggling live mode does not miss the cache.
The large answers (windows, rollouts, lanes: thousands of frozen objects) are kept as they are
(`st.cache_resource`) rather than pickled and unpickled on every run (`st.cache_data`: ~0.4 s
for the 5,000 windows of the large demo store); pages only read them.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from gapwatch.dashboard import data
from gapwatch.dashboard.filters import Filters
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.timefmt import from_micros
from gapwatch.replay import api, checkpoint_file
from gapwatch.replay import scope as replay_scope
from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.catchup import catch_up
from gapwatch.replay.due import Due
from gapwatch.replay.due import due as replay_due
from gapwatch.replay.model import Advice, Rollout, Segment, ServiceRef, WhatIf, Window
from gapwatch.replay.openness import Openness
from gapwatch.replay.scope import Scope


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
    """Bring the replay projections up to `version` once per new version; new windows found.
    The server keeps the fold state between versions (replay.checkpoint_file): a new version
    folds only its new facts."""
    catch_up(engine(url))
    return checkpoint_file.refresh(engine(url))


def refresh_now(url: str) -> int:
    """`refreshed` without the cache: a long refresh the page announces (replay.due) runs even
    where this version was refreshed before (a rebuild by other code moves no version)."""
    catch_up(engine(url))
    return checkpoint_file.refresh(engine(url))


def due(url: str) -> Due:
    """What the next refresh has to do (replay.due), read on every run of a page: two
    statements of primary-key lookups, not cached (a rederive or rebuild moves no version)."""
    return replay_due(engine(url))


def store_info(url: str) -> data.StoreInfo:
    """Read on every run, not cached by the store's version: a retention moves no version (the
    newest event stays) and the sidebar showed the count from before it. Index seeks and the
    events since the last look (dashboard.eventcount), not a count of the log."""
    return data.store_info(engine(url))


@st.cache_data(show_spinner=False, max_entries=4)
def assumptions(url: str, version: int) -> DetectSettings:
    """The assumptions the projections were computed with (replay.api.assumptions)."""
    return api.assumptions(engine(url))


@st.cache_data(show_spinner=False, max_entries=16)
def services(url: str, cluster: str | None, version: int) -> list[ServiceRef]:
    return data.services(engine(url), Filters(cluster=cluster))


@st.cache_data(show_spinner=False, max_entries=16)
def lb_lanes(url: str, cluster: str | None, service: str | None, version: int) -> int:
    """How many (Service, node) pairs have an LB lane (replay.cli_checks.lb_lanes): none means no
    window could be seen, whatever the LB did."""
    from gapwatch.replay.cli_checks import lb_lanes as count

    return count(engine(url), cluster=cluster, service=service)


@st.cache_resource(show_spinner=False, max_entries=32)
def windows(url: str, filters: Filters, version: int) -> list[Window]:
    return data.windows(engine(url), _key(filters))


@st.cache_resource(show_spinner=False, max_entries=32)
def rollouts(
    url: str, filters: Filters, version: int, _windows: list[Window] | None = None
) -> list[Rollout]:
    """`_windows`: `windows(url, filters, version)`, where the page has them (the Overview):
    their rows are not read and turned into windows again (about half of the Overview's reads
    on the `large` store). Not part of the cache's key: the answer is the same either way."""
    return data.rollouts(engine(url), _key(filters), _windows)


@st.cache_data(show_spinner=False, max_entries=32)
def kept_note(url: str, filters: Filters, version: int) -> str:
    """api.retention_kept_note of the filtered windows and rollouts: those an earlier replay
    computed from events retention dropped since, kept as they were."""
    wins = windows(url, filters, version)
    return api.retention_kept_note(engine(url), wins, rollouts(url, filters, version, wins))


@st.cache_resource(show_spinner=False, max_entries=32)
def rollout_page(
    url: str, rollout: Rollout, since_us: int | None, until_us: int | None, version: int
) -> data.RolloutPage:
    """The rollout page's lanes: replay reads the visible range of the segments projection, so a
    first load costs the range, not the Service's history; reruns hit this cache."""
    return data.rollout_page(engine(url), rollout, since_us=since_us, until_us=until_us)


@st.cache_resource(show_spinner=False, max_entries=32)
def node_lanes(
    url: str, service: ServiceRef, node: str, since_us: int, until_us: int, version: int
) -> list[Segment]:
    return data.node_lanes(engine(url), service, node, since_us, until_us)


@st.cache_resource(show_spinner=False, max_entries=4)
def scope(url: str, service: ServiceRef, since_us: int, until_us: int, version: int) -> Scope:
    """The Service around a range, for what-if and advice (replay.scope): loaded once per
    range and version; every control the page moves reuses it."""
    return api.load_scope(engine(url), service, from_micros(since_us), from_micros(until_us))


@st.cache_resource(show_spinner=False, max_entries=64)
def whatif(
    url: str,
    service: ServiceRef,
    settings: WhatIf,
    filters: Filters,
    version: int,
    rollout: Rollout | None = None,
) -> list[Window]:
    """The what-if windows of the range; `rollout` (its range's): only those it owns."""
    if filters.since_us is not None and filters.until_us is not None:
        found = scope(url, service, filters.since_us, filters.until_us, version)
        return replay_scope.whatif(found, settings, rollout)
    return list(
        api.whatif(engine(url), service, settings, since=filters.since, until=filters.until)
    )


@st.cache_data(show_spinner=False, max_entries=16)
def advice(
    url: str, service: ServiceRef, filters: Filters, version: int, rollout: Rollout | None = None
) -> Advice:
    """Advice for the range (of `rollout`'s windows, its range's) when the filters bound it,
    else the whole history."""
    if filters.since_us is not None and filters.until_us is not None:
        found = scope(url, service, filters.since_us, filters.until_us, version)
        return replay_scope.advise(found, rollout)
    result: Advice = api.advise(engine(url), service)
    return result


@st.cache_resource(show_spinner="Reading the Service's samples...", max_entries=4)
def openness(
    url: str, service: ServiceRef, since_us: int, until_us: int, version: int
) -> dict[Window, Openness]:
    """Why each possible window of the Service that overlaps [since, until) (a rollout's) is
    only possible (replay.openness), from the facts around them (replay.openness_scope), or
    this server's current fold of the store (it keeps one while following a recorder). Asked
    for only when a person wants it (the rollout page's toggle), for all of the rollout's
    possible windows at once: the next window picked reads the cache."""
    since, until = from_micros(since_us), from_micros(until_us)
    wins = api.windows(engine(url), service=service, since=since, until=until)
    found = api.openness(engine(url), service, wins)
    return found
