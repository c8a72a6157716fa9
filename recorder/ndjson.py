"""Reading and writing the NDJSON interchange, streaming, with per-line errors.

`read_observations` yields either an Observation or a LineError for every non-blank line, so a
caller can keep the good lines, report the bad ones (file, line, reason) and lose nothing: no
line, however hostile, raises. Beyond JSON and the schema, a line is refused when the store
could not keep it as it is: a payload nested deeper than STORABLE_DEPTH levels (orjson's limit),
an integer outside 64 bits (orjson would read it as a float, silently), a time outside 1-9999,
an object that names a key twice (orjson keeps the last, silently: recorder/uniquekeys.py).
Files may be gzip-compressed (by content, whatever their name: a plain file that merely starts
with the gzip magic bytes is read as plain); `-` is standard input. A compressed file cut short
(a copy or an upload that stopped) is read to where it breaks off; the line it breaks off inside
is an InputCut error carrying the text read of it, so `--errors` keeps that too.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import orjson

from gapwatch.recorder.errors import InputCut, LineError, ObservationError
from gapwatch.recorder.inputkind import GZIP_MAGIC, is_pipe, refuse_unreadable, sniff_gzip
from gapwatch.recorder.observation import Observation, canonical_json, from_dict
from gapwatch.recorder.uniquekeys import check_unique_keys

#: The UTF-8 byte order mark some editors and Windows tools (PowerShell 5's Out-File, Notepad's
#: "UTF-8 with BOM") write first; it marks the encoding and is no part of the first line.
UTF8_BOM = b"\xef\xbb\xbf"
MAX_LINE_BYTES = 16 * 1024 * 1024
#: orjson serializes at most 254 levels of nesting; a whole line (the observation object around
#: its payload) must fit for export to write it back, so a payload may nest 253 levels.
STORABLE_DEPTH = 253
#: What orjson reads as an integer: [-2**63, 2**64); beyond, it reads a float.
INT_RANGE = (-(2**63), 2**64 - 1)
#: A run of 19 ASCII digits is where a number past 64 bits can start. Found by mapping every
#: digit to "0" and every other byte to " " (bytes.translate, C speed) and looking for 19 zeros:
#: 1 us per 1.3 KB line where the regex \d{19,} took 25-35 us (measured on the benchmark mix).
_DIGITS = bytes(ord("0") if ord("0") <= i <= ord("9") else ord(" ") for i in range(256))
_LONG_RUN = b"0" * 19


def _has_long_number(text: bytes) -> bool:
    return _LONG_RUN in text.translate(_DIGITS)


@dataclass(frozen=True, slots=True)
class RawLine:
    """A line as read, kept so a rejected line can be written out again unchanged."""

    number: int
    text: bytes


@contextmanager
def open_input(path: str) -> Iterator[tuple[BinaryIO, int | None]]:
    """Open a file (or '-') for binary reading, transparently gunzipping; yields (stream, size).
    A pipe is read once, from its first byte; a device or a socket is refused
    (recorder/inputkind.py)."""
    if path == "-":
        with _unzipped(*sniff_gzip(sys.stdin.buffer)) as stream:
            yield stream, None
        return
    refuse_unreadable(path)
    file = Path(path)
    try:
        handle = file.open("rb")
    except OSError as exc:
        raise ObservationError(f"{path}: {exc.strerror or exc}") from exc
    with handle:
        if stat.S_ISFIFO(os.fstat(handle.fileno()).st_mode):
            with _unzipped(*sniff_gzip(handle)) as stream:
                yield stream, None
            return
        size = file.stat().st_size
        if handle.peek(2)[:2] == GZIP_MAGIC and _is_gzip(handle):
            with _unzipped(handle, True) as stream:
                yield stream, None
        else:
            yield handle, size


@contextmanager
def _unzipped(stream: BinaryIO, gzipped: bool) -> Iterator[BinaryIO]:
    """`stream` itself, or the text inflated from it when `gzipped`."""
    if not gzipped:
        yield stream
        return
    with gzip.GzipFile(fileobj=stream) as unzipped:
        yield io.BufferedReader(_Inflated(unzipped))


def _is_gzip(handle: BinaryIO) -> bool:
    """Whether the stream really is gzip: its header parses and the first bytes inflate, or it
    ends before they could (a gzip file cut short inside its first bytes is still gzip)."""
    try:
        with gzip.GzipFile(fileobj=handle) as probe:
            probe.read(1)
        return True
    except EOFError:
        return True
    except (OSError, zlib.error):
        return False
    finally:
        handle.seek(0)


class _Inflated(io.RawIOBase):
    """A gzip stream that ends where its data breaks off and keeps why in `failure`.

    GzipFile.readline raises on a stream cut short and drops the partial line it had read;
    read1 hands out every byte inflated before the break, and the BufferedReader around this
    class then returns that partial line as the last one."""

    def __init__(self, unzipped: gzip.GzipFile) -> None:
        self._unzipped = unzipped
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.failure is not None:
            return 0
        try:
            data = self._unzipped.read1(len(buffer))
        except (OSError, EOFError, zlib.error) as exc:
            self.failure = exc
            return 0
        buffer[: len(data)] = data
        return len(data)


def _failure(stream: BinaryIO) -> Exception | None:
    """Why a stream from `open_input` ended early, None when it ended whole."""
    raw = getattr(stream, "raw", None)
    return raw.failure if isinstance(raw, _Inflated) else None


def _cut(name: str, number: int, failure: Exception, partial: bytes) -> InputCut:
    """The error for an input that broke off inside line `number` (after it when `partial` is
    empty)."""
    if isinstance(failure, EOFError):
        cause = "the compressed input ends early (the file was cut short)"
    else:
        # a CRC or length check fails at the end of a member, after its lines were handed out
        cause = f"the compressed input is corrupt ({failure}; the lines before may be damaged)"
    return InputCut(name, number, cause, partial)


def cut_raw(error: LineError) -> RawLine | None:
    """The partial line an InputCut carries (for the rejected-lines file), else None."""
    if isinstance(error, InputCut) and error.text:
        return RawLine(error.line, error.text)
    return None


def read_lines(
    stream: BinaryIO,
    name: str,
    on_bytes: Callable[[int], None] | None = None,
    *,
    on_text: Callable[[], None] | None = None,
) -> Iterator[RawLine | LineError]:
    """Yield each non-blank line with its 1-based number; an over-long line becomes a LineError.
    A UTF-8 byte order mark opening the input is dropped (the first line's JSON would fail on it).

    `on_text` is called once, at the first line that is not blank: an importer tells an input
    that held only blank lines (as good as empty) from one whose records all came to nothing."""
    number = 0
    while True:
        try:
            line = stream.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            yield LineError(name, number + 1, f"cannot read further: {exc}")
            return
        if not line.endswith(b"\n") and (failure := _failure(stream)) is not None:
            if on_bytes is not None and line:
                on_bytes(len(line))
            yield _cut(name, number + 1, failure, line)
            return
        if not line:
            return
        if on_bytes is not None:
            on_bytes(len(line))
        if number == 0 and line.startswith(UTF8_BOM):
            line = line[len(UTF8_BOM) :]
        number += 1
        if on_text is not None and line.strip():
            on_text()
            on_text = None
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            # Skip the rest of the long line so the next one starts clean.
            while (chunk := stream.readline(MAX_LINE_BYTES)) and not chunk.endswith(b"\n"):
                pass
            yield LineError(name, number, f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if line.strip():
            yield RawLine(number, line)


def json_reason(raw: RawLine, exc: orjson.JSONDecodeError, what: str = "line") -> str:
    """Why `raw` is not JSON. A value that ends early on the input's last, unterminated line is
    a file cut short (a copy or download that stopped): said so, as for a `.gz` cut short,
    instead of only `unexpected end of data`."""
    if not raw.text.endswith(b"\n") and str(exc).startswith("unexpected end of data"):
        return f"the input ends inside this {what} (was the file cut short?): not valid JSON: {exc}"
    return f"not valid JSON: {exc}"


def parse_line(raw: RawLine, name: str) -> Observation | LineError:
    """Decode and validate one line; never raises (an unexpected failure is a LineError too)."""
    try:
        data = orjson.loads(raw.text)
    except orjson.JSONDecodeError as exc:
        return LineError(name, raw.number, json_reason(raw, exc))
    try:
        check_storable(raw.text)
        check_unique_keys(raw.text, data)
        return from_dict(data)
    except ObservationError as exc:
        return LineError(name, raw.number, str(exc))
    except (RecursionError, MemoryError):
        return LineError(name, raw.number, "too deeply nested or too large to check")
    except Exception as exc:
        return LineError(name, raw.number, f"cannot read: {type(exc).__name__}: {exc}")


def _depth(value: object) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        nxt: list[object] = []
        for item in level:
            if isinstance(item, dict):
                nxt.extend(item.values())
            elif isinstance(item, list):
                nxt.extend(item)
        level = nxt
    return depth - 1


def _out_of_range(value: object) -> int | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif type(item) is int and not INT_RANGE[0] <= item <= INT_RANGE[1]:
            return item
    return None


def check_storable(text: bytes) -> None:
    """ObservationError for what the store cannot keep as written (see the module docstring).

    Cheap for ordinary lines: the exact checks run only when a byte count says they might fail."""
    if text.count(b"{") + text.count(b"[") > STORABLE_DEPTH:
        depth = _depth(orjson.loads(text)) - 1  # the payload's, inside the line's object
        if depth > STORABLE_DEPTH:
            raise ObservationError(
                f"payload nested {depth} levels deep; the store keeps {STORABLE_DEPTH}"
            )
    if _has_long_number(text):
        big = _out_of_range(json.loads(text))
        if big is not None:
            shown = str(big) if len(str(big)) <= 40 else str(big)[:37] + "..."
            raise ObservationError(f"integer {shown} does not fit in 64 bits: write it as a string")


def read_observations(
    path: str,
    on_bytes: Callable[[int], None] | None = None,
    *,
    on_text: Callable[[], None] | None = None,
) -> Iterator[tuple[RawLine | None, Observation | LineError]]:
    """Every line of `path` as (raw line, Observation or LineError); `on_text` as read_lines'."""
    name = "<stdin>" if path == "-" else path
    with open_input(path) as (stream, _size):
        for item in read_lines(stream, name, on_bytes, on_text=on_text):
            if isinstance(item, LineError):
                yield cut_raw(item), item
            else:
                yield item, parse_line(item, name)


def input_size(path: str) -> int | None:
    """Bytes to read from `path` when known (plain files), for progress bars."""
    if path == "-" or is_pipe(path):
        return None  # a pipe's bytes are the import's: not one is read here
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
    """A text stream for `path` ('-' is stdout, left open; a name ending in .gz is compressed).
    Stdout on a terminal shows control characters as escapes (recorder/visible.py); to a pipe
    or a file the bytes are exact."""
    if path == "-":
        from gapwatch.recorder.visible import VisibleStream

        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
        try:
            yield VisibleStream(stream) if stream.isatty() else stream  # type: ignore[misc]
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
