"""The Overview of a store where nothing recorded the LB (Kubernetes objects only: a
postmortem's first import) said "Clean: ... The load balancer never sent traffic to a node that
could not serve it", a claim about an LB nothing recorded; `gaps` says none could be seen
(tests/test_cli_nothing_found.py). Real SQLite store of the kubelb fixtures, the page under
AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_cli_nothing_found import objects_only

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def overview(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The Overview of the store at `url`, run once, without an exception."""
    monkeypatch.setenv("GAPWATCH_DB", url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = "overview"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_overview_with_no_lb_lane_says_nothing_could_be_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = overview(objects_only(tmp_path), monkeypatch)
    assert {m.label: m.value for m in at.metric}["Gap windows"] == "0"
    assert not any("Clean" in s.value for s in at.success)
    assert any("could be seen" in w.value for w in at.warning), [w.value for w in at.warning]
