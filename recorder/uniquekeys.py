"""A JSON object that names a key twice is refused, never read as its last value.

orjson, like Python's json, keeps the last of a repeated key: a line with two `kind` keys, or two
`uid`s, was stored as whichever came last, and what its sender meant was lost (RFC 8259 leaves
the meaning of such an object to the reader; I-JSON, RFC 7493, forbids them). Every way in, the
push API, `gapwatch import events` and the JSON importers (`k8s-audit`, `k8s-watch`, `cloudtrail`,
`prometheus`), refuses such a line naming the key and where it is. In a wrapper document (an
audit `EventList`, CloudTrail's `{"Records": [...]}`, a `kubectl get -o json` list) an item that
repeats a key is refused alone, its path counted from the item; a repeat outside every item
(`Records` named twice) refuses the whole document.

orjson cannot report them, so the check is in two steps. The cheap one, on every line: the
colons of the line against the colons of the parsed value written back by orjson. A line's
colons are its keys' separators plus the colons inside its strings; orjson writes back one
separator per key it kept and the colons of the strings it kept, and never escapes a colon. So
when the line spells no colon as `\\u003a`, the counts are equal exactly when no key was dropped
(a dropped key takes its separator with it, and its value's colons may only lower the count
further). Any other line (a count that differs, an escaped colon, a value orjson cannot write
back) takes the exact step: the stdlib parser with a hook that sees every object's pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import orjson

from gapwatch.recorder.errors import ObservationError

_ESCAPED_COLONS = (b"\\u003a", b"\\u003A")
#: what both start with: one scan of an ordinary line instead of two
_ESCAPE = b"\\u003"


def _maybe_repeated(text: bytes, data: object) -> bool:
    """False when no object of `text` (`data` is its orjson value) can repeat a key."""
    if _ESCAPE in text and any(escaped in text for escaped in _ESCAPED_COLONS):
        return True
    try:
        again = orjson.dumps(data)
    except (orjson.JSONEncodeError, TypeError):
        return True
    return again.count(b":") != text.count(b":")


class _Object(dict[str, Any]):
    """A parsed object that remembers the first key its text named twice."""

    __slots__ = ("repeated",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.repeated: str | None = None
        if len(self) < len(pairs):
            seen: set[str] = set()
            for key, _value in pairs:
                if key in seen:
                    self.repeated = key
                    break
                seen.add(key)


def _walk(value: Any, path: str, skip: frozenset[int] = frozenset()) -> Iterator[tuple[str, str]]:
    """(where, key) of every object that repeated a key, in document order; the values whose id
    is in `skip` are not entered."""
    if id(value) in skip:
        return
    if isinstance(value, _Object):
        if value.repeated is not None:
            yield path, value.repeated
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key, skip)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]", skip)


def repeated_key(text: bytes, data: object) -> tuple[str, str] | None:
    """(where, key) of the first object of `text` that names a key twice, None when none does;
    `data` is `orjson.loads(text)`. `where` is the object's path (`payload.metadata`; "" for the
    line's own object). The line must be valid JSON no deeper than STORABLE_DEPTH."""
    if not _maybe_repeated(text, data):
        return None
    import json

    parsed = json.loads(text, object_pairs_hook=_Object)
    return next(_walk(parsed, ""), None)


class Repeats(NamedTuple):
    """Where a document names a key twice: `whole`, the first (where, key) outside the items of a
    wrapper (anywhere in a document that is no wrapper); `items`, the first of each item that has
    one, by the item's index, `where` counted from the item."""

    whole: tuple[str, str] | None
    items: dict[int, tuple[str, str]]


NONE = Repeats(None, {})


def repeats(text: bytes, data: object, unwrap: Callable[[Any], list[Any] | None]) -> Repeats:
    """The repeated keys of a document `text` (`data` is its orjson value) whose items `unwrap`
    lists when it is a wrapper (None when it is one record). `unwrap` must give the document's
    own item objects, not copies. RecursionError for a document nested past the interpreter's
    limit."""
    if not _maybe_repeated(text, data):
        return NONE
    import json

    parsed = json.loads(text, object_pairs_hook=_Object)
    items = unwrap(parsed)
    if items is None:
        return Repeats(next(_walk(parsed, ""), None), {})
    outside = next(_walk(parsed, "", frozenset(map(id, items))), None)
    inside = {i: found for i, item in enumerate(items) if (found := next(_walk(item, ""), None))}
    return Repeats(outside, inside)


def repeated_reason(where: str, key: str, whole: str = "the observation") -> str:
    """Why a value that repeats `key` in `where` ("": in `whole` itself) is refused."""
    place = f"in {where}" if where else f"in {whole}"
    return (
        f"key {key!r} appears twice {place}: JSON object keys must be unique (which value "
        "was meant is unknown; the store would have kept the last)"
    )


def check_unique_keys(text: bytes, data: object) -> None:
    """ObservationError naming the first repeated key of `text` (see `repeated_key`)."""
    found = repeated_key(text, data)
    if found is not None:
        raise ObservationError(repeated_reason(*found))
