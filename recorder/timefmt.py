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
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is in year 10000 in UTC
        raise ValueError(f"{text!r} is outside the years 1-9999 in UTC") from None


def format_time(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with microseconds: 2026-11-25T09:55:46.123456Z."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: gapwatch only handles aware UTC times")
    v = value.astimezone(UTC)
    # not strftime: its %Y does not pad years before 1000 to four digits on glibc
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond:06d}Z"
    )


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
