"""Files into records, each with the line it starts on, for the importers.

JSON formats accept, in one file and mixed: one JSON value per line (the audit log backend,
CloudTrail digests unpacked by tools, `kubectl get --watch -o json` with `--output-watch-events`
on one line each), and pretty-printed or concatenated documents spanning many lines (`kubectl get
-w -o json` prints one indented object after another; a CloudTrail file is one `{"Records": [...]}`
object). A line that is not a whole JSON value and opens an object or array starts a document,
which ends at the first line that makes it valid JSON. Wrapper documents are expanded by the
format's `unwrap`: their items are reported as `FILE:LINE: items[N]: reason` with LINE the line the
wrapper starts on. A record that names a key twice is refused with the key and its path (orjson
would keep the last: recorder/uniquekeys.py), an item of a wrapper alone, the wrapper whole when
the repeat is outside its items. Text formats get each non-blank line as a string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from gapwatch.recorder.errors import InputCut, LineError
from gapwatch.recorder.importers.base import Format
from gapwatch.recorder.ndjson import RawLine, cut_raw, json_reason, open_input, read_lines
from gapwatch.recorder.uniquekeys import repeated_reason, repeats

#: Largest multi-line JSON document read into memory (a CloudTrail delivery file is at most a
#: few MB; a `kubectl get -o json` list of a large cluster's Pods some tens of MB).
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024

Item = tuple[RawLine | None, Any, str]
"""(raw record, decoded value or LineError, prefix for error reasons such as 'items[3]: ')."""


def _decode(raw: RawLine, name: str, what: str = "line") -> Any:
    try:
        return orjson.loads(raw.text)
    except orjson.JSONDecodeError as exc:
        return LineError(name, raw.number, json_reason(raw, exc, what))


def _opens_document(text: bytes) -> bool:
    return text.lstrip()[:1] in (b"{", b"[")


def json_values(
    lines: Iterator[RawLine | LineError], name: str
) -> Iterator[tuple[RawLine | None, Any]]:
    """Decoded JSON values (or LineErrors) from lines, joining multi-line documents."""
    pending: list[bytes] = []
    start = 0
    size = 0
    for item in lines:
        if isinstance(item, InputCut) and pending:
            # the input broke off inside an open document: report the document, all of it
            raw = RawLine(start, b"".join(pending) + item.text)
            yield (
                raw,
                LineError(name, start, f"{item.cause}, inside this document: it is incomplete"),
            )
            pending = []
            continue
        if isinstance(item, LineError):
            yield cut_raw(item), item
            continue
        if pending and item.text[:1] in (b"{", b"["):
            # a new top-level value at column 0: the open document never closed
            yield _unclosed(pending, start, name)
            pending = []
        if not pending:
            try:  # the common case, inlined: one whole JSON value on the line
                yield item, orjson.loads(item.text)
                continue
            except orjson.JSONDecodeError:
                pass
            if _opens_document(item.text):
                pending, start, size = [item.text], item.number, len(item.text)
                continue
            yield item, _decode(item, name)
            continue
        pending.append(item.text)
        size += len(item.text)
        if size > MAX_DOCUMENT_BYTES:
            yield None, LineError(name, start, f"document longer than {MAX_DOCUMENT_BYTES} bytes")
            pending = []
            continue
        if item.text[:1] in (b"}", b"]"):
            raw = RawLine(start, b"".join(pending))
            value = _decode(raw, name)
            if not isinstance(value, LineError):
                pending = []
                yield raw, value
    if pending:
        yield _unclosed(pending, start, name)


def _unclosed(pending: list[bytes], start: int, name: str) -> tuple[RawLine, LineError]:
    raw = RawLine(start, b"".join(pending))
    error = _decode(raw, name, "document")
    if not isinstance(error, LineError):  # pragma: no cover - joined text parsed after all
        error = LineError(name, start, "document is not followed by a line break")
    return raw, error


def read_records(
    fmt: Format,
    path: str,
    on_bytes: Callable[[int], None] | None = None,
    name: str | None = None,
    *,
    on_text: Callable[[], None] | None = None,
) -> Iterator[Item]:
    """Every record of `path` ('-': stdin; gzip by content) as (raw, value or error, where);
    `on_text` as recorder.ndjson.read_lines'."""
    name = name or ("<stdin>" if path == "-" else path)
    with open_input(path) as (stream, _size):
        lines = read_lines(stream, name, on_bytes, on_text=on_text)
        if fmt.text:
            for item in lines:
                if isinstance(item, LineError):
                    yield cut_raw(item), item, ""
                else:
                    yield item, item.text.decode("utf-8", "replace").strip(), ""
            return
        unwrap = fmt.unwrap or _one_record
        for raw, value in json_values(lines, name):
            yield from _records_of(raw, value, unwrap, name)


def _records_of(
    raw: RawLine | None, value: Any, unwrap: Callable[[Any], list[Any] | None], name: str
) -> Iterator[Item]:
    """The records of one JSON value: itself, or a wrapper's items; one that names a key twice
    (recorder/uniquekeys.py) as a LineError, an item alone, the wrapper whole when the repeat is
    outside its items."""
    if isinstance(value, LineError) or raw is None:
        yield raw, value, ""
        return
    try:
        found = repeats(raw.text, value, unwrap)
    except RecursionError:
        yield raw, LineError(name, raw.number, "too deeply nested to check its keys"), ""
        return
    items = unwrap(value)
    if found.whole is not None:
        whole = "the record" if items is None else "the document"
        yield raw, LineError(name, raw.number, repeated_reason(*found.whole, whole)), ""
    elif items is None:
        yield raw, value, ""
    else:
        for index, element in enumerate(items):
            where = f"items[{index}]: "
            inside = found.items.get(index)
            if inside is None:
                yield raw, element, where
            else:
                reason = where + repeated_reason(*inside, whole="the record")
                yield raw, LineError(name, raw.number, reason), where


def _one_record(_value: Any) -> None:
    """The `unwrap` of a format whose every document is one record."""
    return None
