"""Values PostgreSQL cannot store, escaped deterministically and reversibly (both backends).

PostgreSQL refuses the NUL character (U+0000) in `text` and in `jsonb` strings, and no UTF-8
encoder takes a lone surrogate (U+D800-U+DFFF, which a JSON decoder can produce from `"\\ud800"`).
One such character in one annotation used to stop the writer for the whole cluster. Every string
of an observation (payload keys and values, and the text fields) is stored escaped with the
private-use character U+E000 (ESC):

    U+0000           -> ESC "0"
    ESC (U+E000)     -> ESC "e"
    lone surrogate X -> ESC "u" + four lowercase hex digits of X

Anything else is unchanged, so nearly every row is stored as it came. The mapping is a bijection
on strings (ESC itself is always escaped), so `restore_text` / `restore_json` give back the
original exactly, and export (recorder/exporter.py, recorder/ndjson.py) reproduces the input.
docs/observation.md documents it for readers of the raw tables.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gapwatch.recorder.observation import Observation

ESC = "\ue000"
_NEEDS = re.compile("[\x00\ue000\ud800-\udfff]")
_ESCAPED = re.compile("\ue000(0|e|u[0-9a-f]{4})")
_TEXT_FIELDS = ("cluster", "source", "kind", "op", "namespace", "name", "node", "resource_version")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    if char == "\x00":
        return ESC + "0"
    if char == ESC:
        return ESC + "e"
    return f"{ESC}u{ord(char):04x}"


def escape_text(text: str) -> str:
    """`text` with NUL, ESC and lone surrogates escaped (unchanged when it has none)."""
    return _NEEDS.sub(_escape_char, text) if _NEEDS.search(text) else text


#: What each escape code stands for: in a Python string, and inside JSON text.
_AS_TEXT = {"0": "\x00", "e": ESC}
_AS_JSON = {"0": "\\u0000", "e": ESC}


def _restorer(table: dict[str, str], json_text: bool) -> Callable[[re.Match[str]], str]:
    def restore(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in table:
            return table[code]
        return "\\" + code if json_text else chr(int(code[1:], 16))  # \udxxx or the char

    return restore


_RESTORE_TEXT = _restorer(_AS_TEXT, json_text=False)
_RESTORE_JSON = _restorer(_AS_JSON, json_text=True)


def restore_text(text: str) -> str:
    """The inverse of escape_text."""
    return _ESCAPED.sub(_RESTORE_TEXT, text) if ESC in text else text


def restore_json(text: str) -> str:
    """JSON text of escaped values -> the JSON text of the originals (escapes as JSON escapes)."""
    return _ESCAPED.sub(_RESTORE_JSON, text) if ESC in text else text


def escape_value(value: Any) -> Any:
    """A JSON-shaped value with every string (and object key) escaped."""
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, Mapping):
        return {escape_text(str(k)): escape_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escape_value(v) for v in value]
    return value


def restore_value(value: Any) -> Any:
    """The inverse of escape_value."""
    if isinstance(value, str):
        return restore_text(value)
    if isinstance(value, Mapping):
        return {restore_text(str(k)): restore_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restore_value(v) for v in value]
    return value


def _text_needs(obs: Observation) -> bool:
    joined = (
        f"{obs.cluster}{obs.source}{obs.kind}{obs.op}{obs.namespace or ''}{obs.name or ''}"
        f"{obs.node or ''}{obs.resource_version or ''}"
    )  # the _TEXT_FIELDS
    # isascii() is O(1) in CPython: the common case costs one NUL scan
    if joined.isascii():
        return "\x00" in joined
    return _NEEDS.search(joined) is not None


def payload_needs(payload_json: str | None) -> bool:
    """Whether a payload serialized as `payload_json` (None: it could not be) needs escaping."""
    if payload_json is None:
        return True
    if "\\u0000" in payload_json:
        return True
    return not payload_json.isascii() and ESC in payload_json


def storable(obs: Observation, payload_json: str | None) -> Observation | None:
    """The escaped observation, or None when it can be stored as it is.

    `payload_json` is the payload as the writer serialized it (None: serializing failed)."""
    if not payload_needs(payload_json) and not _text_needs(obs):
        return None
    changes: dict[str, Any] = {"payload": escape_value(obs.payload)}
    for name in _TEXT_FIELDS:
        value = getattr(obs, name)
        if value is not None:
            changes[name] = escape_text(value)
    return dataclasses.replace(obs, **changes)


def try_dumps(value: Any, *, sort: bool) -> str | None:
    """orjson text of `value`, or None when orjson refuses it (surrogates, depth, huge ints)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort else 0).decode("utf-8")
    except (orjson.JSONEncodeError, UnicodeError):
        return None
