"""A stored name cannot reorder or hide what an SRE reads: bidirectional controls and zero-width
characters are shown as escapes in the reports, the dashboard's markdown and its figures.

Session 31 left it: a node named `NODE1` + U+202E (RIGHT-TO-LEFT OVERRIDE) + `evil` is drawn
`NODE1live` in a browser and a terminal ("Trojan Source", CVE-2021-42574), an isolate (U+2066)
reorders the rest of its line, a zero-width space makes two names look alike. The store: the
seed simulation, its nodes and cluster renamed to carry them, imported with `gapwatch import
events` and replayed as anyone's file would be. The machine formats keep the stored bytes
(tests/test_cli_bidi.py).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gapwatch.dashboard.inert import JOINER, html_text, md, md_code, plotly_text
from tests.dashboard.test_markdown_names import gapwatch, renamed_store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
NODES = {
    "NODE1": "NODE1\u202eevil",  # RIGHT-TO-LEFT OVERRIDE
    "NODE2": "NODE2\u2066x\u2069y",  # LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE
    "NODE3": "NODE3\u200b",  # ZERO WIDTH SPACE: looks like NODE3
}
CLUSTER = "c1\u202dprod\u202c\U000e0041"  # LRO ... PDF, and an invisible tag character
SHOWN = {
    "NODE1": "NODE1\\u202eevil",
    "NODE2": "NODE2\\u2066x\\u2069y",
    "NODE3": "NODE3\\u200b",
}
CLUSTER_SHOWN = "c1\\u202dprod\\u202c\\udb40\\udc41"
SERVICE = "istio-system/istio-ingressgateway"


def hidden(text: str) -> list[str]:
    """The format characters (Cf) and line separators (Zl, Zp) in `text`, but our word joiner."""
    return [
        f"U+{ord(c):04X}"
        for c in text
        if c != JOINER and unicodedata.category(c) in ("Cf", "Zl", "Zp")
    ]


@pytest.fixture(scope="module")
def bidi(tmp_path_factory: pytest.TempPathFactory) -> str:
    return renamed_store(tmp_path_factory.mktemp("bidi"), NODES, CLUSTER)


def test_the_reports_show_the_controls_as_escapes(bidi: str, tmp_path: Path) -> None:
    """`report --format md` and `--format html` written to a file (no terminal in between)."""
    for fmt in ("md", "html"):
        out = tmp_path / f"r.{fmt}"
        gapwatch("report", "--db", bidi, "--format", fmt, "-o", str(out))
        text = out.read_text()
        assert hidden(text) == [], (fmt, hidden(text))
        # a markdown source escapes the backslash; the HTML report (and its figure) shows it
        shown = text.replace("\\\\", "\\")
        for name in SHOWN.values():
            assert name in shown, (fmt, name)
        assert CLUSTER_SHOWN in shown.replace(JOINER, ""), fmt


def rollout_page(
    store: str, cluster: str, node: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[AppTest, list[str], list[str], list[str]]:
    """The rollout page of `node` run once: the app, and the text of its headers and captions,
    of its grids' cells and of its pickers' options."""
    monkeypatch.setenv("GAPWATCH_DB", store)
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in {"page": "rollout", "cluster": cluster, "node": node}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    said = [el.value for kind in ("header", "subheader", "caption") for el in getattr(at, kind)]
    grid = [str(v) for frame in at.dataframe for v in frame.value.to_numpy().ravel()]
    picked = [str(o) for box in (*at.multiselect, *at.selectbox) for o in box.options]
    return at, said, grid, picked


def test_the_rollout_page_shows_the_controls_as_escapes(
    bidi: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, said, grid, picked = rollout_page(bidi, CLUSTER, NODES["NODE1"], monkeypatch)
    assert any("NODE1\\\\u202eevil" in s for s in said), said
    assert all(hidden(s) == [] for s in said), [hidden(s) for s in said]
    # the grids and the nodes' picker draw their text as it is: shown there too
    assert "NODE1\\u202eevil" in grid and all(hidden(v) == [] for v in grid)
    assert "NODE1\\u202eevil" in picked and all(hidden(o) == [] for o in picked), picked
    drawn = json.dumps(json.loads(at.get("plotly_chart")[0].proto.spec), ensure_ascii=False)
    assert hidden(drawn) == []
    assert "NODE1\\\\u202eevil" in drawn  # the escape, its backslash as JSON writes it


def test_every_escaper_shows_the_format_characters() -> None:
    name = NODES["NODE1"] + NODES["NODE2"] + NODES["NODE3"] + CLUSTER + "\u2028\u00ad\ufeff"
    for escaped in (md(name), md_code(name), plotly_text(name), html_text(name)):
        assert hidden(escaped) == [], escaped


def test_every_format_character_of_this_python_is_shown() -> None:
    """recorder/visible.py lists Unicode 14's Cf, Zl and Zp; a later Python's unicodedata may
    add some: this names them."""
    from gapwatch.recorder.visible import visible

    missed = [
        f"U+{c:04X}"
        for c in range(0x110000)
        if unicodedata.category(chr(c)) in ("Cf", "Zl", "Zp") and visible(chr(c)) == chr(c)
    ]
    assert missed == []
