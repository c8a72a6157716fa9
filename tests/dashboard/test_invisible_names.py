"""A stored name cannot hide behind characters drawn as nothing or as a blank that are not
format characters (Unicode's Cf, which session 32 escaped): the Hangul filler U+3164, a
variation selector, the combining grapheme joiner, the blank Braille pattern, a no-break or
ideographic space. `NODE3` + U+3164 and `NODE3` read alike in the dashboard, the reports and the
CLI (session 33 found all three drawn as they are).

The store: the seed simulation, its nodes and cluster renamed to carry them, imported with
`gapwatch import events` and replayed as anyone's file would be (tests/dashboard/
test_markdown_names.py `renamed_store`); the dashboard through Streamlit's AppTest, the CLI
and the reports as real processes.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from gapwatch.dashboard.inert import JOINER
from gapwatch.recorder.visible import visible
from tests.dashboard.test_bidi_names import rollout_page
from tests.dashboard.test_markdown_names import gapwatch, renamed_store

NODES = {
    "NODE1": "NODE1\u3164",  # HANGUL FILLER (Lo)
    "NODE2": "NODE2\u034f\ufe0f",  # COMBINING GRAPHEME JOINER, VARIATION SELECTOR-16 (Mn)
    "NODE3": "NODE3\u00a0\u2800",  # NO-BREAK SPACE (Zs), BRAILLE PATTERN BLANK (So)
}
CLUSTER = "c1\u3000prod\U000e0100"  # IDEOGRAPHIC SPACE, VARIATION SELECTOR-17
SHOWN = {
    "NODE1": "NODE1\\u3164",
    "NODE2": "NODE2\\u034f\\ufe0f",
    "NODE3": "NODE3\\u00a0\\u2800",
}
CLUSTER_SHOWN = "c1\\u3000prod\\udb40\\udd00"
#: Unicode 15's Default_Ignorable_Code_Point outside Cf (DerivedCoreProperties.txt), and the
#: blanks: what `visible` must show.
IGNORABLE = [
    0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2065, 0x3164,
    *range(0xFE00, 0xFE10), 0xFFA0, *range(0xFFF0, 0xFFF9), 0xE0000, *range(0xE0002, 0xE0020),
    *range(0xE0080, 0xE1000),
]  # fmt: skip
BLANKS = [0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x2800, 0x3000]


def hidden(text: str) -> list[str]:
    """The invisible characters of this test in `text` (our word joiner is a Cf, not here)."""
    return [f"U+{ord(c):04X}" for c in text if ord(c) in IGNORABLE or ord(c) in BLANKS]


@pytest.fixture(scope="module")
def invisible(tmp_path_factory: pytest.TempPathFactory) -> str:
    return renamed_store(tmp_path_factory.mktemp("invisible"), NODES, CLUSTER)


def test_every_invisible_character_is_shown() -> None:
    missed = [f"U+{c:04X}" for c in (*IGNORABLE, *BLANKS) if visible(chr(c)) == chr(c)]
    assert missed == []
    spaces = [c for c in range(0x110000) if unicodedata.category(chr(c)) == "Zs"]
    assert [f"U+{c:04X}" for c in spaces if visible(chr(c)) == chr(c)] == ["U+0020"]


def test_the_report_shows_them_as_escapes(invisible: str, tmp_path: Path) -> None:
    """The markdown report (the HTML one escapes through the same `visible`; its figure takes
    minutes on a loaded machine)."""
    out = tmp_path / "r.md"
    gapwatch("report", "--db", invisible, "--format", "md", "-o", str(out))
    text = out.read_text()
    assert hidden(text) == [], hidden(text)
    shown = text.replace("\\\\", "\\")
    for name in SHOWN.values():
        assert name in shown, name
    assert CLUSTER_SHOWN in shown.replace(JOINER, "")


def test_the_cli_shows_them_as_escapes(invisible: str) -> None:
    out = gapwatch("db", "stats", "--db", invisible).stdout
    assert hidden(out) == [] and CLUSTER_SHOWN in out, out


def test_the_rollout_page_shows_them_as_escapes(
    invisible: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, said, grid, picked = rollout_page(invisible, CLUSTER, NODES["NODE1"], monkeypatch)
    drawn = {"markdown": said, "grids": grid, "pickers": picked}
    assert {where: [hidden(t) for t in texts if hidden(t)] for where, texts in drawn.items()} == {
        "markdown": [],
        "grids": [],
        "pickers": [],
    }
    # markdown escapes the escape's backslash; grids and pickers draw text as it is
    wanted = {"markdown": "NODE1\\\\u3164", "grids": "NODE1\\u3164", "pickers": "NODE1\\u3164"}
    assert [w for w, name in wanted.items() if not any(name in t for t in drawn[w])] == []
