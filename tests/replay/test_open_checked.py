"""`replay.cli_checks.open_checked`, the prologue of the read commands (gaps, rollouts, timeline,
report): the range is parsed once and checked before any store is opened; the filters are
checked against the store; the parsed range is what the command then queries with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer

from gapwatch.dashboard.demo import DemoStore, build_demo_store
from gapwatch.replay.cli_checks import open_checked


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return build_demo_store(tmp_path_factory.mktemp("checked") / "demo.db")


def test_a_backwards_range_fails_before_the_store_is_opened(tmp_path: Path) -> None:
    missing = tmp_path / "never.db"
    with pytest.raises(typer.Exit) as caught:
        open_checked(
            f"sqlite:///{missing}",
            cluster=None,
            service=None,
            since="2026-01-01T01:00:00Z",
            until="2026-01-01T00:00:00Z",
        )
    assert caught.value.exit_code == 2
    assert not missing.exists()


def test_a_bad_time_names_its_option(tmp_path: Path) -> None:
    with pytest.raises(typer.BadParameter) as caught:
        open_checked(
            f"sqlite:///{tmp_path / 'never.db'}",
            cluster=None,
            service=None,
            since=None,
            until="yesterday-ish",
        )
    assert caught.value.param_hint == "--until"


def test_the_range_comes_back_parsed_and_the_filters_checked(demo: DemoStore) -> None:
    engine, lo, hi = open_checked(
        demo.url, cluster="seed", service=None, since="2026-01-01T00:00:00Z", until=None
    )
    try:
        assert (lo, hi) == (datetime(2026, 1, 1, tzinfo=UTC), None)
        assert engine.url.database is not None and engine.url.database.endswith("demo.db")
    finally:
        engine.dispose()
    with pytest.raises(typer.Exit):
        open_checked(demo.url, cluster="seed", service=None, since=None, until=None, nodes=["N9"])
