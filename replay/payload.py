"""Reading a stored observation's JSON payload defensively: a mutated or foreign object may hold
any JSON where a field is expected, so each reader answers an empty or default value instead of
failing (replay.facts' extractors). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gapwatch.recorder.timefmt import parse_time, to_micros


def time_us(text: Any) -> int | None:
    """An RFC 3339 time in us since the epoch (None: not a string or not a time)."""
    if not isinstance(text, str):
        return None
    try:
        return to_micros(parse_time(text))
    except ValueError:
        return None


def as_dict(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    # `type is dict` first: JSON gives dicts, and the ABC check costs ~0.5 us a call
    return value if type(value) is dict or isinstance(value, Mapping) else EMPTY


def as_list(value: Any) -> Sequence[Any]:
    """`value` when it is a list, else empty."""
    return value if isinstance(value, list) else ()


#: What `as_dict` answers for a non-object (read-only: never mutated, shared).
EMPTY: Mapping[str, Any] = {}
