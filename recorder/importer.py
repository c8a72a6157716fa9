"""Import NDJSON observation files into the store, keeping good lines and reporting bad ones.

Non-strict (default): valid lines are written in batches as they stream by; each bad line is
reported (file, line, reason) and, with `errors_to`, written out unchanged with its reason so
nothing is lost. A line the store itself refuses is quarantined by the writer and reported the
same way. Strict: every file is checked first, including that each observation can be stored
(recorder.writer.prepare), and nothing is written if any line is bad (standard input is spooled
to a temporary file for the two passes). Batches end at `batch_size` lines or `batch_bytes`
bytes of input, whichever comes first, so memory does not grow with line length. The next
batch of a file (not of standard input) is parsed in a thread while this one is written
(recorder/readahead.py), and replay's facts are derived by the writer's projector after each
batch commits, in a thread while the next batch is written: they are there on return.
"""

from __future__ import annotations

import gc
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Protocol

import orjson
from sqlalchemy import Engine

from gapwatch.recorder.errors import LineError, ObservationError
from gapwatch.recorder.ndjson import RawLine, read_observations
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.readahead import read_ahead
from gapwatch.recorder.writer import DEFAULT_BATCH, Derive, EventWriter, WriteResult, prepare

#: How many LineErrors a report keeps in memory; the count goes on.
KEEP_ERRORS = 1000
#: Input bytes per batch at most (a batch of 5,000 lines of 16 MiB each would not fit anywhere).
DEFAULT_BATCH_BYTES = 64 * 1024 * 1024
#: CPython's cyclic GC thresholds during an import. Parsing allocates millions of dicts that
#: never form cycles, and with the default (700, 10, 10) the collector keeps rescanning the live
#: batches: measured on the benchmark mix, parsing a line took 44 us with these and 90 us with
#: the default. Cycles are still collected, only less often; the caller's thresholds come back.
IMPORT_GC_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*IMPORT_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass(slots=True)
class ImportReport:
    """The outcome of an import."""

    lines_ok: int = 0
    written: WriteResult = field(default_factory=WriteResult)
    error_count: int = 0
    errors: list[LineError] = field(default_factory=list)
    strict_aborted: bool = False
    #: Inputs that held nothing (not a byte once decompressed, or only blank lines), as errors
    #: name them; `blank` those of them that held blank lines.
    empty: list[str] = field(default_factory=list)
    blank: list[str] = field(default_factory=list)
    #: Inputs (as given) that held records and every one read was rejected: the format word
    #: may be wrong for them, though the others imported (recorder.importers.sniff).
    unread: list[str] = field(default_factory=list)

    def record_error(self, error: LineError) -> None:
        self.error_count += 1
        if len(self.errors) < KEEP_ERRORS:
            self.errors.append(error)


ErrorSink = Callable[[LineError, RawLine | None], None]


class Reader(Protocol):
    """Reads one file ('-' is stdin) into (raw line, Observation or LineError) pairs, counting
    the bytes it reads into `on_bytes` and calling `on_text` at its first line that is not blank
    (recorder.ndjson.read_lines)."""

    def __call__(
        self,
        path: str,
        on_bytes: Callable[[int], None] | None = None,
        /,
        *,
        on_text: Callable[[], None] | None = None,
    ) -> Iterator[tuple[RawLine | None, Observation | LineError]]: ...


@dataclass(frozen=True, slots=True)
class _Good:
    obs: Observation
    file: str
    raw: RawLine


def error_writer(out: IO[bytes]) -> ErrorSink:
    """A sink that writes each rejected line as NDJSON {file, line, reason, raw}."""

    def sink(error: LineError, raw: RawLine | None) -> None:
        text = raw.text.decode("utf-8", "replace").rstrip("\n") if raw else None
        record = {"file": error.file, "line": error.line, "reason": error.reason, "raw": text}
        out.write(orjson.dumps(record) + b"\n")

    return sink


#: Lines are parsed in a read-ahead thread while batches are written: both report errors.
_REPORTING = threading.Lock()


def _reject(
    report: ImportReport, on_error: ErrorSink | None, error: LineError, raw: RawLine | None
) -> None:
    with _REPORTING:
        report.record_error(error)
        if on_error is not None:
            on_error(error, raw)


def _good(
    paths: Sequence[str],
    report: ImportReport,
    on_error: ErrorSink | None,
    on_bytes: Callable[[int], None] | None,
    check_storable: bool = False,
    read: Reader = read_observations,
) -> Iterator[_Good]:
    for path in paths:
        name = "<stdin>" if path == "-" else path
        read_bytes = 0

        def counted(n: int) -> None:
            nonlocal read_bytes
            read_bytes += n
            if on_bytes is not None:
                on_bytes(n)

        text = False

        def held_text() -> None:
            nonlocal text
            text = True

        anything = took = False
        for raw, item in read(path, counted, on_text=held_text):
            anything = True
            if isinstance(item, LineError):
                _reject(report, on_error, item, raw)
                continue
            took = True
            if check_storable and raw is not None:
                try:
                    prepare(item)
                except ObservationError as exc:
                    _reject(report, on_error, LineError(name, raw.number, str(exc)), raw)
                    continue
            report.lines_ok += 1
            # a reader may not keep a record's raw text: never drop the record for it
            yield _Good(item, name, raw if raw is not None else RawLine(0, b""))
        if anything and not took:
            report.unread.append(path)
        if not anything and not text:
            # nothing, or only blank lines (which readers pass over): a capture that came out
            # empty either way; a file whose records were all skipped held text and is not
            report.empty.append(name)
            if read_bytes:
                report.blank.append(name)


def _batches(items: Iterator[_Good], lines: int, max_bytes: int) -> Iterator[list[_Good]]:
    batch: list[_Good] = []
    size = 0
    for item in items:
        batch.append(item)
        size += len(item.raw.text)
        if len(batch) >= lines or size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _named_stdin(report: ImportReport, spooled: IO[bytes] | None) -> ImportReport:
    """`report` with standard input (spooled to a file for --strict) called <stdin> again."""
    if spooled is not None:
        report.empty = ["<stdin>" if name == spooled.name else name for name in report.empty]
        report.blank = ["<stdin>" if name == spooled.name else name for name in report.blank]
    return report


def import_files(
    engine: Engine,
    paths: Sequence[str],
    *,
    derive: Derive,
    strict: bool = False,
    batch_size: int = DEFAULT_BATCH,
    on_error: ErrorSink | None = None,
    on_bytes: Callable[[int], None] | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    read: Reader = read_observations,
) -> ImportReport:
    """Import every file in `paths` ('-' is stdin); see the module docstring.

    `read` turns one file into observations (default: the NDJSON interchange; the postmortem
    importers in recorder.importers pass their own)."""
    with _fewer_collections():
        return _import(
            engine, paths, derive, strict, batch_size, on_error, on_bytes, batch_bytes, read
        )


def _import(
    engine: Engine,
    paths: Sequence[str],
    derive: Derive,
    strict: bool,
    batch_size: int,
    on_error: ErrorSink | None,
    on_bytes: Callable[[int], None] | None,
    batch_bytes: int,
    read: Reader,
) -> ImportReport:
    spooled: tempfile._TemporaryFileWrapper[bytes] | None = None
    if strict and "-" in paths:
        spooled = tempfile.NamedTemporaryFile(prefix="gapwatch-stdin-", suffix=".ndjson")  # noqa: SIM115
        shutil.copyfileobj(sys.stdin.buffer, spooled)
        spooled.flush()
        paths = [spooled.name if p == "-" else p for p in paths]
    try:
        if strict:
            check = ImportReport()
            for _ in _good(paths, check, on_error, on_bytes, check_storable=True, read=read):
                pass
            if check.error_count:
                check.strict_aborted = True
                return _named_stdin(check, spooled)
        report = ImportReport()
        sink = None if strict else on_error
        current: dict[int, _Good] = {}

        def quarantined(obs: Observation, reason: str) -> None:
            item = current.get(id(obs))
            if item is not None:
                error = LineError(item.file, item.raw.number, f"not stored: {reason}")
                _reject(report, sink, error, item.raw)

        writer = EventWriter(engine, derive=derive, on_quarantine=quarantined, overlap=True)
        goods = _good(paths, report, sink, on_bytes if not strict else None, read=read)
        batches = _batches(goods, batch_size, batch_bytes)
        # Not from standard input: a read-ahead thread blocked on a pipe holds stdin's lock, and
        # the interpreter aborts at exit (Ctrl-C) when a daemon thread holds it.
        for batch in batches if "-" in paths else read_ahead(batches):
            current = {id(item.obs): item for item in batch}
            report.written.add(writer.write([item.obs for item in batch]))
        report.written.add(writer.finish())  # the last batch's facts, before we answer
        return _named_stdin(report, spooled)
    finally:
        if spooled is not None:
            spooled.close()
