"""The generic driver: any Format through the `events` importer (recorder.importer).

`import_format` reads each file into records (recorder.importers.records), parses each record with
the format's parser, and hands the observations to `import_files`, which batches, deduplicates,
reports `FILE:LINE: reason` for each bad record, keeps the good ones, and honours `--strict` and
`--errors`. Every record ends up counted exactly once: imported, rejected or skipped (with why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from gapwatch.recorder.errors import LineError, ObservationError
from gapwatch.recorder.importer import ErrorSink, ImportReport, import_files
from gapwatch.recorder.importers.base import Context, Format, RecordError, Skip, Stats
from gapwatch.recorder.importers.records import read_records
from gapwatch.recorder.ndjson import RawLine
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.writer import DEFAULT_BATCH, Derive

Outcome = tuple[RawLine | None, Observation | LineError]


def parse_file(
    fmt: Format,
    path: str,
    cluster: str,
    stats: Stats,
    on_bytes: Callable[[int], None] | None = None,
    *,
    name: str | None = None,
    on_text: Callable[[], None] | None = None,
) -> Iterator[Outcome]:
    """Every observation and every LineError of one file, counting into `stats`; `name` is
    what errors call the file (default: its path, or <stdin> for '-'); `on_text` as
    recorder.ndjson.read_lines'."""
    name = name or ("<stdin>" if path == "-" else path)
    ctx = Context(cluster=cluster, file=name, notes=stats.notes)
    for raw, value, where in read_records(fmt, path, on_bytes, name, on_text=on_text):
        stats.records += 1
        if isinstance(value, LineError):
            stats.rejected += 1
            yield raw, value
            continue
        line = raw.number if raw is not None else 0
        try:
            parsed = fmt.parse(value, ctx)
        except (RecordError, ObservationError) as exc:
            stats.rejected += 1
            yield raw, LineError(name, line, f"{where}{exc}")
            continue
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            # a parser bug must not lose the rest of the file; report it like a bad record
            stats.rejected += 1
            yield raw, LineError(name, line, f"{where}cannot parse: {type(exc).__name__}: {exc}")
            continue
        if isinstance(parsed, Skip):
            stats.skipped[parsed.reason] += 1
            continue
        stats.imported_records += 1
        for obs in parsed:
            stats.kinds[obs.kind] += 1
            yield raw, obs


@dataclass(slots=True)
class FormatReport:
    """The events importer's report plus this format's counts."""

    report: ImportReport
    stats: Stats = field(default_factory=Stats)


def import_format(
    engine: Engine,
    fmt: Format,
    paths: Sequence[str],
    *,
    cluster: str,
    derive: Derive,
    strict: bool = False,
    batch_size: int = DEFAULT_BATCH,
    on_error: ErrorSink | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> FormatReport:
    """Import `paths` in format `fmt` into the store; see the module docstring."""
    result = FormatReport(ImportReport())
    calls = 0

    def read(
        path: str,
        advance: Callable[[int], None] | None = None,
        *,
        on_text: Callable[[], None] | None = None,
    ) -> Iterator[Outcome]:
        nonlocal calls
        if calls % max(len(paths), 1) == 0:  # strict reads everything twice: count the last pass
            result.stats = Stats()
        calls += 1
        # --strict spools standard input to a file: its errors still say <stdin>
        name = "<stdin>" if path not in paths and "-" in paths else None
        return parse_file(fmt, path, cluster, result.stats, advance, name=name, on_text=on_text)

    result.report = import_files(
        engine,
        paths,
        derive=derive,
        strict=strict,
        batch_size=batch_size,
        on_error=on_error,
        on_bytes=on_bytes,
        read=read,
    )
    return result
