"""The Overview says which windows and rollouts an earlier replay computed from events
retention dropped since (replay.kept_rows keeps them through a rebuild), as `gaps` does. Real
SQLite store of the seed's run, `db maintain --retention 1d`, a replay-code change, the page
under AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard.test_overview_no_lb import overview
from tests.test_cli_retained_rebuild import _ok, _upgrade


def test_the_overview_says_the_kept_rows_are_an_earlier_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _ok("db", "upgrade", "--db", url)
    _ok("simulate", "--db", url, "--cluster", "seed")
    _ok("replay", "--db", url)
    _ok("db", "maintain", "--db", url, "--retention", "1d")
    _upgrade(url)
    at = overview(url, monkeypatch)
    assert {m.label: m.value for m in at.metric}["Gap windows"] == "3"
    said = [i.value for i in at.info]
    assert any("3 windows and" in s and "before the first event the store" in s for s in said), said
