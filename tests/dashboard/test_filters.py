"""Shareable URLs: the filters survive a round trip through query parameters."""

from __future__ import annotations

from datetime import UTC, datetime

from gapwatch.dashboard.filters import Filters, from_params, pick_service
from gapwatch.replay.model import ServiceRef


def test_round_trip_through_query_parameters() -> None:
    f = Filters(
        page="rollout",
        cluster="prod",
        service="istio-system/gw",
        since=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        until=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        rollout="r-17",
        live=True,
    )
    params = f.to_params()
    assert params["since"] == "2026-11-25T09:00:00.000000Z"
    back, problems = from_params(params)
    assert (back, problems) == (f, [])


def test_defaults_give_a_short_url() -> None:
    assert Filters().to_params() == {"page": "overview"}


def test_bad_parameters_are_reported_and_ignored() -> None:
    f, problems = from_params(
        {"page": "nope", "service": "no-slash", "since": "yesterday", "until": "2026-11-25T10:00Z"}
    )
    assert f.page == "overview" and f.service is None and f.since is None
    assert f.until == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert len(problems) == 3
    _, problems = from_params({"since": "2026-11-25T10:00Z", "until": "2026-11-25T09:00Z"})
    assert problems == ["since: not before until; the time range is ignored"]


def test_service_filter_picks_the_named_service() -> None:
    a, b = ServiceRef("c1", "ns", "a"), ServiceRef("c2", "ns", "b")
    assert pick_service([a, b], Filters(service="ns/b")) == b
    assert pick_service([a, b], Filters(cluster="c2")) == b
    assert pick_service([a, b], Filters(cluster="c3")) is None
    assert pick_service([a, b], Filters()) == a
