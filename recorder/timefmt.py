"""RFC 3339 timestamps, always UTC with microseconds on output."""

from __future__ import annotations

from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (any offset, 'Z' allowed) into an aware UTC datetime.

    Raises ValueError with a readable message when the text is not a timestamp with a zone.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 timestamp string, got {type(text).__name__}")
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp") from exc
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (add 'Z' for UTC)")
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with microseconds: 2026-11-25T09:55:46.123456Z."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: gapwatch only handles aware UTC times")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch (exact, no float rounding)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The inverse of to_micros."""
    from datetime import timedelta

    return EPOCH + timedelta(microseconds=micros)


def to_micros_or_none(value: datetime | None) -> int | None:
    """to_micros, passing None through (optional timestamps)."""
    return None if value is None else to_micros(value)
