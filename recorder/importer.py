"""Import NDJSON observation files into the store, keeping good lines and reporting bad ones.

Non-strict (default): valid lines are written in batches as they stream by; each bad line is
reported (file, line, reason) and, with `errors_to`, written out unchanged with its reason so
nothing is lost. Strict: every file is checked first and nothing is written if any line is bad
(standard input is spooled to a temporary file for the two passes).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

import orjson
from sqlalchemy import Engine

from gapwatch.recorder.errors import LineError
from gapwatch.recorder.ndjson import RawLine, read_observations
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import DEFAULT_BATCH, Derive, EventWriter, WriteResult, batched

#: How many LineErrors a report keeps in memory; the count goes on.
KEEP_ERRORS = 1000


@dataclass(slots=True)
class ImportReport:
    """The outcome of an import."""

    lines_ok: int = 0
    written: WriteResult = field(default_factory=WriteResult)
    error_count: int = 0
    errors: list[LineError] = field(default_factory=list)
    strict_aborted: bool = False

    def record_error(self, error: LineError) -> None:
        self.error_count += 1
        if len(self.errors) < KEEP_ERRORS:
            self.errors.append(error)


ErrorSink = Callable[[LineError, RawLine | None], None]
#: Reads one file ('-' is stdin) into (raw line, Observation or LineError) pairs.
Reader = Callable[
    [str, Callable[[int], None] | None], Iterator[tuple[RawLine | None, Observation | LineError]]
]


def error_writer(out: IO[bytes]) -> ErrorSink:
    """A sink that writes each rejected line as NDJSON {file, line, reason, raw}."""

    def sink(error: LineError, raw: RawLine | None) -> None:
        text = raw.text.decode("utf-8", "replace").rstrip("\n") if raw else None
        record = {"file": error.file, "line": error.line, "reason": error.reason, "raw": text}
        out.write(orjson.dumps(record) + b"\n")

    return sink


def _good(
    paths: Sequence[str],
    report: ImportReport,
    on_error: ErrorSink | None,
    on_bytes: Callable[[int], None] | None,
    read: Reader = read_observations,
) -> Iterator[Observation]:
    for path in paths:
        for raw, item in read(path, on_bytes):
            if isinstance(item, LineError):
                report.record_error(item)
                if on_error is not None:
                    on_error(item, raw)
            else:
                report.lines_ok += 1
                yield item


def import_files(
    engine: Engine,
    paths: Sequence[str],
    *,
    derive: Derive,
    strict: bool = False,
    batch_size: int = DEFAULT_BATCH,
    on_error: ErrorSink | None = None,
    on_bytes: Callable[[int], None] | None = None,
    read: Reader = read_observations,
) -> ImportReport:
    """Import every file in `paths` ('-' is stdin); see the module docstring.

    `read` turns one file into observations (default: the NDJSON interchange; the postmortem
    importers in recorder.importers pass their own)."""
    spooled: tempfile._TemporaryFileWrapper[bytes] | None = None
    if strict and "-" in paths:
        spooled = tempfile.NamedTemporaryFile(prefix="gapwatch-stdin-", suffix=".ndjson")  # noqa: SIM115
        shutil.copyfileobj(sys.stdin.buffer, spooled)
        spooled.flush()
        paths = [spooled.name if p == "-" else p for p in paths]
    try:
        if strict:
            check = ImportReport()
            for _ in _good(paths, check, on_error, on_bytes, read):
                pass
            if check.error_count:
                check.strict_aborted = True
                return check
        report = ImportReport()
        writer = EventWriter(engine, derive=derive)
        for batch in batched(
            _good(
                paths,
                report,
                None if strict else on_error,
                on_bytes if not strict else None,
                read,
            ),
            batch_size,
        ):
            report.written.add(writer.write(batch))
        return report
    finally:
        if spooled is not None:
            spooled.close()
