"""Tables for people at a terminal: the important columns first, as many as fit, no ellipses.

A command lists its columns most important first. `print_table` keeps the columns marked
`always`, then adds the others in order while the table still fits the terminal (80 columns when
output is not a terminal and COLUMNS is unset); what did not fit is named in one caption line
("--wide for ..."). `wide=True` prints every column whatever the width. Cells are never cut: a
column either fits whole or is left out. Machine output (--json/--csv) does not come here.

Helpers shorten what people do not need in full: `short_ids` (the shortest unique prefix, at least
8 characters, like git), `short_nodes` (drop a domain suffix every node shares), `clock` (the time
of day; the date goes in the title once), `seconds` (rounded for people).

Tables whose columns are not ours to choose (`gapwatch sql`, `assumptions`, `db stats`) go
through `fits` first: one wider than the terminal is printed by `print_records`, one block per row
and one line per column, as psql's expanded display (`\\x auto`) does; folded into 80 columns
their headers and values broke mid-word (`proxy_lag_mi` / `n_s`) and a row ran over dozens of
lines.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich import box
from rich.table import Table

from gapwatch.recorder.visible import VisibleConsole, visible

#: Width assumed when stdout is not a terminal and COLUMNS is not set.
DEFAULT_WIDTH = 80
MIN_ID = 8


@dataclass(frozen=True, slots=True)
class Col:
    """A table column: the row key, its header, and whether it is always shown."""

    key: str
    header: str
    always: bool = False
    right: bool = False


def terminal_width() -> int:
    """COLUMNS if set, else the terminal's width, else 80."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def _width(cols: Sequence[Col], rows: Sequence[Mapping[str, str]]) -> int:
    # box.SIMPLE_HEAD, no edges, collapsed padding: two spaces between columns, none outside
    cells = [max([len(c.header), *(len(r.get(c.key, "")) for r in rows)]) for c in cols]
    return sum(cells) + 2 * (len(cells) - 1)


def fit(cols: Sequence[Col], rows: Sequence[Mapping[str, str]], width: int) -> list[Col]:
    """The columns to show: every `always` one, then the others in order until one does not fit
    (a less important column never takes the place of a more important one)."""
    chosen = [c for c in cols if c.always]
    for c in cols:
        if c.always:
            continue
        trial = [x for x in cols if x in chosen or x is c]
        if _width(trial, rows) > width:
            break
        chosen.append(c)
    return [c for c in cols if c in chosen]


def print_table(
    rows: Sequence[Mapping[str, str]],
    cols: Sequence[Col],
    *,
    title: str | None = None,
    wide: bool = False,
    width: int | None = None,
) -> list[Col]:
    """Print `rows` (already formatted as strings) and return the columns shown.

    The title and the "--wide for" line are printed as lines of their own, so they never
    wrap inside a narrow table."""
    limit = width if width is not None else terminal_width()
    # control characters as escapes before the widths are measured (recorder/visible.py)
    rows = [{k: visible(v) for k, v in r.items()} for r in rows]
    shown = list(cols) if wide else fit(cols, rows, limit)
    hidden = [c.header for c in cols if c not in shown]
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for c in shown:
        table.add_column(
            c.header, justify="right" if c.right else "left", no_wrap=True, overflow="ignore"
        )
    for r in rows:
        table.add_row(*(r.get(c.key, "") for c in shown))
    console = VisibleConsole(
        width=max(limit, _width(shown, rows)), soft_wrap=False, highlight=False
    )
    if title:
        console.print(title, soft_wrap=True, markup=False)
    console.print(table)
    if hidden:
        console.print("--wide for: " + ", ".join(hidden), soft_wrap=True, markup=False)
    return shown


def short_ids(ids: Sequence[str | None], minimum: int = MIN_ID) -> dict[str, str]:
    """Each id's shortest prefix (at least `minimum` chars) that no other id shares."""
    known = sorted({i for i in ids if i})
    out: dict[str, str] = {}
    for i in known:
        n = min(minimum, len(i))
        while n < len(i) and any(o != i and o.startswith(i[:n]) for o in known):
            n += 1
        out[i] = i[:n]
    return out


def short_nodes(nodes: Sequence[str]) -> dict[str, str]:
    """Node names without a domain suffix they all share (`ip-10-0-1-10.ec2.internal` ->
    `ip-10-0-1-10`), when that keeps them apart."""
    names = sorted(set(nodes))
    heads = {n: n.split(".", 1)[0] for n in names}
    if len(set(heads.values())) == len(names):
        return heads
    return {n: n for n in names}


def clock(when: datetime, with_date: bool, *, millis: bool = False) -> str:
    """`00:01:03` (or `01-01 00:01:03` when the rows span days; `.123` with `millis`)."""
    text = when.strftime("%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
    return text + f".{when.microsecond // 1000:03d}" if millis else text


def seconds(value: float | None) -> str:
    """A duration rounded for people to two or three figures: `850 ms`, `4.2 s`, `17 s`, `95 s`,
    `-` for none. From 10 s a tenth says nothing a postmortem needs and widens every table's
    duration column by two characters (the 80-column `gaps` table then lost its evidence column)."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if round(value, 1) < 10:
        return f"{value:.1f} s"
    return f"{value:.0f} s"


def fits(rows: Sequence[Mapping[str, str]], columns: Sequence[str], width: int) -> bool:
    """Whether rich's default table (a heavy head, edges, one space of padding each side) of
    these rows shows every cell on one line within `width` columns."""
    cells = [
        max([len(c), *(len(line) for r in rows for line in r.get(c, "").splitlines() or [""])])
        for c in columns
    ]
    return sum(cells) + 3 * len(cells) + 1 <= width


def print_records(
    rows: Sequence[Mapping[str, str]], columns: Sequence[str], *, title: str | None, width: int
) -> None:
    """Each row as a block `-[ N ]----` of `column  value` lines, values wrapped under their
    column (never cut), for a table too wide for the terminal."""
    key = max(len(c) for c in columns)
    room = max(20, width - key - 2)
    out = [visible(title)] if title else []
    rows = [{k: visible(v) for k, v in r.items()} for r in rows]
    for n, row in enumerate(rows, 1):
        head = f"-[ {n} ]"
        out.append(head + "-" * max(0, min(width, key + 2 + room) - len(head)))
        for c in columns:
            wrapped: list[str] = []
            for line in row.get(c, "").splitlines() or [""]:
                wrapped += textwrap.wrap(line, room, break_on_hyphens=False) or [""]
            out.append(f"{c.ljust(key)}  {wrapped[0]}".rstrip())
            out += [" " * (key + 2) + w for w in wrapped[1:]]
    sys.stdout.write("\n".join(out) + "\n")
