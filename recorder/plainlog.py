"""Log lines in a laptop command's own words: `NAME: event (key=value, ...)` on stderr.

`gapwatch record` writes one JSON object per line (recorder/record.py: a log collector reads
them). `gapwatch poll` runs the same poller from a terminal, and with the recorder's logging its
stderr mixed its own lines (`elbv2: mapping targets to 2 node(s) ...`) with JSON ones (`{"source":
"elbv2", ..., "event": "lb first look", ...}`). Here a log line reads as the command's other
lines: the command's name, the level where it is not info, the event, then its fields.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

import structlog

from gapwatch.recorder.timefmt import format_time

#: fields every line has that the plain line leaves out (the command's name says the source)
_LEFT_OUT = ("event", "level", "timestamp", "source")


def _value(value: Any) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return format_time(value)
    return str(value)


def render_line(name: str, event: MutableMapping[str, Any]) -> str:
    """One log event as `NAME: [LEVEL: ]EVENT (key=value, ...)`."""
    level = str(event.get("level", "info"))
    head = f"{name}: " + ("" if level == "info" else f"{level}: ") + str(event.get("event", ""))
    fields = ", ".join(f"{k}={_value(v)}" for k, v in event.items() if k not in _LEFT_OUT)
    return f"{head} ({fields})" if fields else head


def configure_plain_logging(name: str, level: str = "INFO") -> None:
    """structlog's lines on stderr as `render_line` words them, from `level` up."""

    def render(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> str:
        return render_line(name, event)

    structlog.configure(
        processors=[structlog.processors.add_log_level, render],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
