"""The recorder's log lines (recorder/record.py `configure_logging`): one JSON object per line,
times in fields as RFC 3339 UTC, which a log query can compare (structlog's fallback wrote the
Python repr, `datetime.datetime(2026, 12, 4, ...)`: the watcher's `relist passed over` said
when the stretch began and ended only that way)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog

from gapwatch.recorder.record import configure_logging


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """What the recorder's logging writes (its processors; this buffer for stderr)."""
    out = io.StringIO()
    configure_logging()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out))
    try:
        yield out
    finally:
        structlog.reset_defaults()


def test_times_in_log_fields_are_rfc3339(written: io.StringIO) -> None:
    since = datetime(2026, 12, 4, 22, 26, 57, 898134, tzinfo=UTC)
    structlog.get_logger("gapwatch.recorder").warning(
        "relist passed over", stream="Node", since=since, until=None, odd={1, 2}
    )
    line = json.loads(written.getvalue())
    assert line["since"] == "2026-12-04T22:26:57.898134Z"
    assert line["until"] is None
    assert line["odd"] == "{1, 2}"  # anything else JSON cannot hold: its repr, as before
    assert (line["event"], line["level"], line["stream"]) == (
        "relist passed over",
        "warning",
        "Node",
    )
