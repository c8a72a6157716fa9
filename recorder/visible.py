"""What the CLI prints shows control characters, never sends them to the terminal.

A name stored from the log (a pushed or imported `cluster` of `esc\\u001b[2J\\u001b]0;pwned`) was
printed raw: `gapwatch gaps --cluster x` listed it as a close match and the SRE's terminal cleared
its screen and took a new title (session 31 review). Rich strips BEL, BS, VT, FF and CR only.

One sanitizer, `visible`, writes each C0 control (tab and newline kept: layout needs them), DEL
and each C1 control as its JSON and Python escape (`\\u001b`), so an ESC sequence shows as text.
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

#: C0 but tab and newline, DEL, C1.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ALL_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def visible(text: str, *, lines: bool = True) -> str:
    """`text` with every control character written as its escape (`\\u001b`); tab and newline
    kept unless `lines` is False (a name inside a one-line message)."""
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
