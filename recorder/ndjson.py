"""Reading and writing the NDJSON interchange, streaming, with per-line errors.

`read_observations` yields either an Observation or a LineError for every non-blank line, so a
caller can keep the good lines, report the bad ones (file, line, reason) and lose nothing.
Files may be gzip-compressed (by content, whatever their name); `-` is standard input.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import orjson

from gapwatch.recorder.errors import LineError, ObservationError
from gapwatch.recorder.observation import Observation, canonical_json, from_dict

GZIP_MAGIC = b"\x1f\x8b"
MAX_LINE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RawLine:
    """A line as read, kept so a rejected line can be written out again unchanged."""

    number: int
    text: bytes


@contextmanager
def open_input(path: str) -> Iterator[tuple[BinaryIO, int | None]]:
    """Open a file (or '-') for binary reading, transparently gunzipping; yields (stream, size)."""
    if path == "-":
        yield sys.stdin.buffer, None
        return
    file = Path(path)
    try:
        handle = file.open("rb")
    except OSError as exc:
        raise ObservationError(f"{path}: {exc.strerror or exc}") from exc
    with handle:
        size = file.stat().st_size
        if handle.peek(2)[:2] == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=handle) as unzipped:
                yield unzipped, None  # type: ignore[misc]
        else:
            yield handle, size


def read_lines(
    stream: BinaryIO, name: str, on_bytes: Callable[[int], None] | None = None
) -> Iterator[RawLine | LineError]:
    """Yield each non-blank line with its 1-based number; an over-long line becomes a LineError."""
    number = 0
    while True:
        try:
            line = stream.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            yield LineError(name, number + 1, f"cannot read further: {exc}")
            return
        if not line:
            return
        if on_bytes is not None:
            on_bytes(len(line))
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            # Skip the rest of the long line so the next one starts clean.
            while (chunk := stream.readline(MAX_LINE_BYTES)) and not chunk.endswith(b"\n"):
                pass
            yield LineError(name, number, f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if line.strip():
            yield RawLine(number, line)


def parse_line(raw: RawLine, name: str) -> Observation | LineError:
    """Decode and validate one line."""
    try:
        data = orjson.loads(raw.text)
    except orjson.JSONDecodeError as exc:
        return LineError(name, raw.number, f"not valid JSON: {exc}")
    try:
        return from_dict(data)
    except ObservationError as exc:
        return LineError(name, raw.number, str(exc))


def read_observations(
    path: str, on_bytes: Callable[[int], None] | None = None
) -> Iterator[tuple[RawLine | None, Observation | LineError]]:
    """Every line of `path` as (raw line, Observation or LineError)."""
    name = "<stdin>" if path == "-" else path
    with open_input(path) as (stream, _size):
        for item in read_lines(stream, name, on_bytes):
            if isinstance(item, LineError):
                yield None, item
            else:
                yield item, parse_line(item, name)


def input_size(path: str) -> int | None:
    """Bytes to read from `path` when known (plain files), for progress bars."""
    if path == "-":
        return None
    try:
        with Path(path).open("rb") as handle:
            if handle.read(2) == GZIP_MAGIC:
                return None
        return Path(path).stat().st_size
    except OSError:
        return None


def dumps(observation: Observation) -> str:
    """One NDJSON line (without the newline), keys sorted at every level: same data, same bytes."""
    return canonical_json(observation.to_dict())


@contextmanager
def open_output(path: str) -> Iterator[IO[str]]:
    """A text stream for `path` ('-' is stdout, left open; a name ending in .gz is compressed)."""
    if path == "-":
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()
        return
    handle: IO[str]
    try:
        if path.endswith(".gz"):
            handle = gzip.open(path, "wt", encoding="utf-8", newline="\n")  # noqa: SIM115
        else:
            handle = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        raise ObservationError(f"{path}: {exc.strerror or exc}") from exc
    with handle:
        yield handle
