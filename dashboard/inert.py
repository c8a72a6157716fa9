"""Stored text made inert where it is rendered: a cluster, namespace, Service, node or pod name
(anything imported or pushed) shown in Streamlit's markdown or `gapwatch report --format md`,
and in a Plotly title or hover.

Streamlit renders markdown in headers, captions, alerts, labels and help texts, and more than
CommonMark: GFM autolinks, `$...$` math, `:color[...]` directives and emoji and Material
shortcodes (`:smile:`, `:material/home:`, replaced in the text *after* backslash escapes are
read, so an escape does not stop them). A name written as a markdown image made each viewer's
browser fetch its URL; a link looked like ours. `md` keeps every character of the name visible
and none of it live:

- each ASCII character that opens an inline construct is backslash-escaped (CommonMark lets
  any ASCII punctuation be), and so is a line's first marker (`# `, `>`, `- `, `---`, `+ `, `1. `);
- `www.` gets an escaped dot (GFM's autolink literal); a `:` that could open a directive
  (`:red[`), a shortcode or a URL (`https:`) an escape and a word joiner after it (U+2060,
  drawn as nothing), which the shortcodes' matchers do not see through;
- control characters are shown as escapes (`\\u000a`), as the CLI shows them, so a newline
  cannot start a block.

Plotly draws a few HTML tags in its text (`<b>`, `<br>`, `<a href>`) and decodes entities:
`plotly_text` writes `&`, `<` and `>` as entities. `html_text` is HTML's escape, for the HTML
report. `text` is for plain text (a select box's option) and `cells` for a table's cells
(`st.dataframe`'s grid draws them as they are, no markup).

Each of them shows control and format characters as escapes first (recorder/visible.py): a
bidirectional override (U+202E) or isolate in a name reordered what the page showed after it,
a zero-width space made two names look alike (session 32)."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from gapwatch.recorder.visible import visible

if TYPE_CHECKING:
    import pandas as pd

#: ASCII characters that open (or close) an inline markdown construct anywhere in a line (`(`
#: opens a link only after `]`, escaped here; `{` attributes only after a directive).
_INLINE = re.compile(r"([\\`*_\[\]<>!|~$&@])")
#: a line's first characters that would open a block (heading, quote, list, setext rule).
_BLOCK_START = re.compile(r"^(\s*)(>|[#+](?=\s|$)|-(?=[\s-]|$)|\d+[.)](?=\s|$))")
#: `:` before a letter, `/`, `_`, `+`, `-` or opening `:word:` where the word is not a number:
#: a directive (`:red[`), `:material/`, `https://`, a shortcode; and before a run of three or
#: more digits closed by `:`, for the shortcodes that are numbers (`:100:` and `:1234:` in the
#: emoji names Streamlit's remark-emoji looks up, `/:\+1:|:-1:|:[\w-]+:/g`, session 32); a
#: time's two-digit `00:01:03` is left.
_COLON = re.compile(r":(?=[A-Za-z/_+-]|[\w+-]*[A-Za-z_+-][\w+-]*:|\d{3,}:)")
_TICKS = re.compile("`+")
_CODE = re.compile("`([^`]+)`")
_WWW = re.compile(r"(?i)(?<=www)\.")
#: U+2060 WORD JOINER: zero-width, breaks `:name:` for Streamlit's and remark-emoji's matchers.
JOINER = "\u2060"


def md(text: str) -> str:
    """`text` as markdown that renders as exactly this text: no link, image, emphasis, heading,
    HTML, math, Streamlit directive or shortcode of its own."""
    out = visible(text, lines=False)
    out = _INLINE.sub(r"\\\1", out)
    out = _COLON.sub("\\\\:" + JOINER, out)
    out = _WWW.sub(r"\\.", out)
    return _BLOCK_START.sub(_escape_marker, out)


def md_code(text: str) -> str:
    """`text` as one markdown code span, whatever backticks it holds (a fence longer than its
    longest run; a space either side where it starts or ends with one)."""
    text = visible(text, lines=False)
    fence = "`" * (max((len(run) for run in _TICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_sentence(text: str) -> str:
    """A sentence of ours whose `commands` are code spans and whose other text may hold stored
    names (`kept_note`, `advice_intro`): each part made inert as it is (`md`, `md_code`)."""
    parts = _CODE.split(text)
    return "".join(md_code(p) if i % 2 else md(p) for i, p in enumerate(parts))


def _escape_marker(match: re.Match[str]) -> str:
    lead, marker = match.group(1), match.group(2)
    if marker[0].isdigit():
        return f"{lead}{marker[:-1]}\\{marker[-1]}"
    return f"{lead}\\{marker}"


def plotly_text(text: str) -> str:
    """`text` for a Plotly title, annotation, legend or hover: no tag of its own."""
    text = visible(text, lines=False)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_text(text: str) -> str:
    """`text` as HTML text or an attribute's value (quotes escaped too), its control and format
    characters shown; tab and newline kept (whitespace to HTML)."""
    return html.escape(visible(text))


def text(value: str) -> str:
    """`value` as plain text on one line: control and format characters shown as escapes."""
    return visible(value, lines=False)


def _cell(value: Any) -> Any:
    return visible(value, lines=False) if isinstance(value, str) else value


def cells(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each text cell shown as `text` does (numbers, times and None as they are),
    for `st.dataframe`: the grid draws a bidirectional override as one (session 32)."""
    return frame.map(_cell)
