"""What the CLI prints shows control characters, never sends them to the terminal.

A name stored from the log (a pushed or imported `cluster` of `esc\\u001b[2J\\u001b]0;pwned`) was
printed raw: `gapwatch gaps --cluster x` listed it as a close match and the SRE's terminal cleared
its screen and took a new title (session 31 review). Rich strips BEL, BS, VT, FF and CR only.

One sanitizer, `visible`, writes each C0 control (tab and newline kept: layout needs them), DEL
and each C1 control as its JSON and Python escape (`\\u001b`), so an ESC sequence shows as text.
So it writes each format character and line or paragraph separator (Unicode's categories Cf, Zl,
Zp, session 32): the bidirectional overrides and isolates (U+202A-202E, U+2066-2069) and marks
(U+200E, U+200F, U+061C) that reorder what follows them on the screen ("Trojan Source",
CVE-2021-42574: a node `ip-10-0-1-12\\u202e21-1-0-01-pi` reads as another node), the zero-width
ones (U+200B-200D, U+2060, U+FEFF) that make two names look alike, the invisible tag characters
(U+E0000 block); beyond the BMP as a surrogate pair (`\\udb40\\udc41`), which JSON reads back.
And the characters outside Cf drawn as nothing or as a blank (`INVISIBLE`, session 33): the
Hangul fillers, variation selectors and the rest of Unicode's default-ignorable code points,
the blank Braille pattern, every space but U+0020.
It is applied where the CLI prints, not per command (`shown`, around the whole of `run_app`):

- plain writes (`print`, `typer.echo`, `sys.stdout.write`, structlog's lines): sys.stdout and
  sys.stderr become a `VisibleStream`. JSON passing through it stays valid and means the same
  (a raw DEL or C1, which orjson leaves as is, becomes `\\u007f`; C0 is escaped already);
- rich: a `VisibleStream` names its raw stream as `rich_proxied_file`, which rich writes to (its
  own styles and progress bars are its escapes, not the data's), so rich's text is made visible
  before layout instead: `VisibleConsole.render_str` (every string printed or put in a table
  cell; markup off by default, so a `[link=...]` in a name is text too). Typer's own console
  prints help (constant text) and usage errors (the command line, values quoted with repr);
- machine formats: `machine_stdout()` is the raw stream when stdout is a pipe or a file, so CSV
  stays exact there (CSV has no escapes: `\\u001b` would be another value), and the wrapper on a
  terminal, where a person reads it (GNU ls shows control characters as `?` on a terminal only).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from rich.console import Console
from rich.text import Text

#: Unicode's format characters (Cf) and its line and paragraph separators (Zl, Zp), as of
#: Unicode 14 (Python 3.11's unicodedata; tests/test_cli_bidi.py checks this one's): the
#: bidirectional controls, zero-width characters, invisible operators and tags.
FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
#: Characters drawn as nothing or as a blank that are not format characters (session 33): the
#: rest of Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt: the combining
#: grapheme joiner U+034F, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, the Khmer
#: inherent vowels, the Mongolian and the 256 variation selectors, and the code points kept
#: ignorable for later assignments), the blank Braille pattern U+2800, and every space but
#: U+0020 (Zs: no-break, en, em, thin, ideographic...): `NODE3` + U+3164 or + U+00A0 read
#: as `NODE3`.
INVISIBLE = (
    "\u00a0\u034f\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f\u2000-\u200a\u202f\u205f"
    "\u2065\u2800\u3000\u3164\ufe00-\ufe0f\uffa0\ufff0-\ufff8\U000e0000-\U000e0fff"
)
#: C0 but tab and newline, DEL, C1, and the format and invisible characters above.
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{FORMAT}{INVISIBLE}]")
_ALL_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{FORMAT}{INVISIBLE}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # JSON's escape: a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def visible(text: str, *, lines: bool = True) -> str:
    """`text` with every control and format character written as its escape (`\\u001b`,
    `\\u202e`); tab and newline kept unless `lines` is False (a name inside a one-line
    message)."""
    pattern = _CONTROL if lines else _ALL_CONTROL
    return pattern.sub(_escape, text) if pattern.search(text) else text


class VisibleStream:
    """A text stream that writes `visible(text)` to `raw`; everything else is `raw`'s."""

    def __init__(self, raw: IO[str]) -> None:
        self.raw = raw

    @property
    def rich_proxied_file(self) -> IO[str]:
        """Where rich's consoles write (rich.console.Console.file): their text is made visible
        by VisibleConsole before layout, their styles are rich's own escapes."""
        return self.raw

    def write(self, text: str) -> int:
        self.raw.write(visible(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


@contextmanager
def shown() -> Iterator[None]:
    """sys.stdout and sys.stderr as VisibleStreams inside (the streams found are put back)."""
    before = sys.stdout, sys.stderr
    if sys.stdout is not None and not isinstance(sys.stdout, VisibleStream):
        sys.stdout = VisibleStream(sys.stdout)
    if sys.stderr is not None and not isinstance(sys.stderr, VisibleStream):
        sys.stderr = VisibleStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = before


def machine_stdout() -> IO[str]:
    """Where a machine format goes: stdout as is when it is a pipe or a file (exact), the
    visible stream on a terminal (a person reads it)."""
    out = sys.stdout
    if isinstance(out, VisibleStream) and not out.raw.isatty():
        return out.raw
    return out


class VisibleConsole(Console):
    """A rich Console whose strings are made visible before rich measures and lays them out
    (a table's column fits the escape), with markup off unless a call asks for it."""

    def __init__(self, *args: Any, markup: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, markup=markup, **kwargs)

    def render_str(self, text: str, **options: Any) -> Text:
        """rich's `render_str` (its keyword options as given) of the text made visible."""
        return super().render_str(visible(text), **options)
