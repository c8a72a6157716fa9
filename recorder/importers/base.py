"""What every importer format provides, and the outcomes of parsing one record.

A format's `parse(record, ctx)` is pure apart from `ctx.memo` (per-file state, e.g. the previous
line's time in a watch capture): it returns the record's observations, a `Skip` (a valid record
that says nothing replay uses: a read-only request, an unrelated API call), or raises
`RecordError` with the reason a record is bad. The driver turns a RecordError into
`FILE:LINE: reason`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from gapwatch.recorder.errors import ObservationError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import parse_time


class RecordError(ObservationError):
    """One record is bad; the message is the reason (the driver adds FILE:LINE)."""


class Skip(NamedTuple):
    """A valid record that carries nothing to import; `reason` is counted in the summary."""

    reason: str


@dataclass(slots=True)
class Context:
    """What a parser knows besides the record: the cluster and per-file state."""

    cluster: str
    file: str
    memo: dict[str, Any] = field(default_factory=dict)
    #: counts for the summary's notes (Stats.notes of the import)
    notes: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Stats:
    """Counts for the import summary: records, observations per kind, skips and notes."""

    records: int = 0
    imported_records: int = 0
    rejected: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)


Parsed = list[Observation] | Skip
Parser = Callable[[Any, Context], Parsed]


@dataclass(frozen=True, slots=True)
class Format:
    """One importable format.

    `text`: records are text lines (access logs), else JSON values. `unwrap` returns the items of
    a wrapper document (an `EventList`'s `items`, CloudTrail's `Records`) or None when the value
    is one record itself. `notes` says what the summary must add (e.g. objects missing).
    """

    name: str
    source: str
    parse: Parser
    text: bool = False
    unwrap: Callable[[Any], list[Any] | None] | None = None
    notes: Callable[[Stats], list[str]] | None = None
    help: str = ""


def need_dict(value: Any, what: str) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else a RecordError naming `what`."""
    # decoded JSON objects are dicts; `dict` is checked first, as the ABC check is slow
    if type(value) is dict or isinstance(value, Mapping):
        return value
    raise RecordError(f"{what}: expected a JSON object, got {type(value).__name__}")


def opt_dict(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one (for optional parts)."""
    return value if type(value) is dict or isinstance(value, Mapping) else {}


def need_str(data: Mapping[str, Any], key: str) -> str:
    """A required non-empty string field."""
    value = data.get(key)
    if type(value) is not str or not value:
        raise RecordError(f"{key}: missing or not a string")
    return value


def need_time(data: Mapping[str, Any], key: str) -> datetime:
    """A required RFC 3339 time field."""
    try:
        return parse_time(need_str(data, key))
    except ValueError as exc:
        raise RecordError(f"{key}: {exc}") from None


def list_under(value: Any, *keys: str) -> list[Any] | None:
    """The list under the first of `keys` when `value` is an object holding one there."""
    if isinstance(value, Mapping):
        for key in keys:
            items = value.get(key)
            if isinstance(items, list):
                return items
    return None
