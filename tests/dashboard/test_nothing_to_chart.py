"""Where there is nothing to chart, the Overview and the What-if page say so in a caption
instead of drawing empty frames. On a store of Kubernetes objects only, the Overview warned that
no window could be seen and then drew two frames annotated 'clean: no gap windows' and an empty
rollouts chart; the What-if page drew an empty frame with nothing on the page saying why. Real
SQLite store of the kubelb fixtures, the pages under AppTest; the demo's still draw them."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gapwatch.dashboard.demo import build_demo_store
from tests.test_cli_nothing_found import objects_only

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def _page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = page
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_pages_with_nothing_to_chart_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPWATCH_DB", objects_only(tmp_path))
    overview = _page("overview")
    assert not overview.get("plotly_chart")
    assert (
        "No gap window in this range: no gap-seconds over time or windows by class."
        in _captions(overview)
    )
    assert "No rollout or node disruption in this range: nothing to rank." in _captions(overview)
    whatif = _page("whatif")
    assert not whatif.get("plotly_chart")
    assert "No window recorded and none under these settings: nothing to chart." in _captions(
        whatif
    )


def test_pages_with_windows_still_chart_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPWATCH_DB", build_demo_store(tmp_path / "demo.db").url)
    assert len(_page("overview").get("plotly_chart")) == 3
    assert len(_page("whatif").get("plotly_chart")) == 1
