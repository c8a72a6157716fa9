"""Which importer a file is for, when the one it was given to rejected every record.

`gapwatch import cloudtrail audit.log` printed twenty `eventSource: missing or not a string`
lines and "0 imported": true, but the user had to guess that the file was fine and the format
word was wrong. `suggest` tries the file's first records on every importer (the real parsers,
nothing guessed from names) and names the one that reads most of them; a Prometheus text
exposition page (a `/metrics` scrape), which no importer reads, is named as such, and so is
another shape an SRE saves that no importer reads (recorder/importers/unread.py).
"""

from __future__ import annotations

import re
from itertools import islice

from gapwatch.recorder.errors import GapwatchError, LineError

#: Records tried per importer: enough to see past a header line, few enough to stay instant.
SAMPLE = 20
#: A `/metrics` page: `# HELP`/`# TYPE` comments or `name{labels} value` samples.
#: Longest line read when looking for a `/metrics` page (its lines are a name, labels and a
#: number): a longer one means it is not one. Iterating the file read whole lines, so a file of
#: one 400 MB line took the import to 878 MB of memory for this hint alone.
EXPOSITION_LINE_BYTES = 64 * 1024
_EXPOSITION = re.compile(rb"^(# (HELP|TYPE) \w+|[A-Za-z_:][\w:]*(\{[^}]*\})? [-+.\deEInfNa]+)")


def _read(fmt_name: str, path: str) -> tuple[int, int]:
    """(records read, records the importer `fmt_name` took) of the first SAMPLE of `path`."""
    if fmt_name == "events":
        from gapwatch.recorder.ndjson import read_observations

        seen = list(islice(read_observations(path), SAMPLE))
        return len(seen), sum(not isinstance(v, LineError) for _raw, v in seen)
    from gapwatch.recorder.importers import load
    from gapwatch.recorder.importers.base import Context
    from gapwatch.recorder.importers.records import read_records

    fmt = load(fmt_name)
    ctx = Context(cluster="sniff", file=path)
    read = took = 0
    for _raw, value, _where in islice(read_records(fmt, path, None, path), SAMPLE):
        read += 1
        if isinstance(value, LineError):
            continue
        try:
            fmt.parse(value, ctx)  # a Skip is a record this importer knows
        except (GapwatchError, ValueError, TypeError, KeyError, AttributeError, OverflowError):
            continue
        took += 1
    return read, took


def _exposition(path: str) -> bool:
    from gapwatch.recorder.ndjson import open_input

    lines: list[bytes] = []
    with open_input(path) as (stream, _size):
        for _ in range(SAMPLE):
            line = stream.readline(EXPOSITION_LINE_BYTES + 1)
            if len(line) > EXPOSITION_LINE_BYTES:
                return False
            if not line:
                break
            if line.strip():
                lines.append(line.strip())
    return bool(lines) and sum(bool(_EXPOSITION.match(line)) for line in lines) * 2 > len(lines)


def suggest(path: str, given: str) -> str | None:
    """A one-line hint for `path`, whose records importer `given` rejected, or None."""
    from gapwatch.recorder.importers import FORMATS
    from gapwatch.recorder.importers.unread import describe

    best, best_took = None, 0
    try:
        for name in ["events", *FORMATS]:
            if name == given:
                continue
            read, took = _read(name, path)
            if took > best_took and took * 2 >= read:
                best, best_took = name, took
        if best is not None:
            return f"{path}: this looks like input for `gapwatch import {best}`, not {given}"
        if _exposition(path):
            return (
                f"{path}: this is Prometheus's text exposition format (a /metrics page), which no "
                "importer reads: `gapwatch import prometheus` takes the Prometheus HTTP API's "
                "JSON (/api/v1/query_range; docs/importers.md); the recorder's kube-proxy "
                "source scrapes kube-proxy's /metrics live (metrics_interval_s, docs/kubeproxy.md)"
            )
        shape = describe(path)
        if shape is not None:
            return f"{path}: {shape}"
    except (GapwatchError, OSError):
        return None  # a hint, never a second error
    return None
