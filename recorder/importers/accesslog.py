"""`elb-access-log`: ALB, NLB (TLS listener) and Classic ELB access-log lines, detected per line.

Each line becomes one `LBAccessLog` observation: `{"line": the raw line, "format": "alb" | "nlb"
| "classic", "fields": {documented name: value, ...}}` (recorder.accessfields). Every line is
kept, successes too: replay decides what a failure is from the fields and ties a line to a node
through its target `ip:port` (Node addresses and the Service's NodePort); namespace, name and
node stay null here. Times: `observed_at` is the line's `time`; `source_time` when the request
was made (ALB `request_creation_time`; Classic and NLB have only `time`). NLB times carry no zone
and are UTC, as all ELB logs are. Query-string values of the request's URL are never stored, in
the line or the fields (recorder/importers/accessredact.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gapwatch.recorder.accessfields import (
    ALB_FIELDS,
    CLASSIC_FIELDS,
    MIN_FIELDS,
    NLB_FIELDS,
    detect,
    is_lb_failure,
    target_of,
    tokens,
    unclosed_quote,
)
from gapwatch.recorder.importers.accessredact import redact_queries
from gapwatch.recorder.importers.base import Context, Format, Parsed, RecordError, Stats
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.timefmt import parse_time

SOURCE = "elb-access-log"
_NAMES = {"alb": ALB_FIELDS, "nlb": NLB_FIELDS, "classic": CLASSIC_FIELDS}
_STATUS = ("elb_status_code", "target_status_code", "backend_status_code")


def _time(value: str | None, what: str) -> datetime:
    if not value or value == "-":
        raise RecordError(f"{what}: missing")
    try:
        return parse_time(value)
    except ValueError:
        try:
            naive = datetime.fromisoformat(value)  # NLB: no zone, UTC by definition
        except ValueError:
            raise RecordError(f"{what}: {value!r} is not a timestamp") from None
        if naive.tzinfo is not None:
            raise RecordError(f"{what}: {value!r} is not a timestamp") from None
        return naive.replace(tzinfo=UTC)


def parse_line(line: str) -> tuple[str, dict[str, Any]]:
    """(format, fields) of one access-log line; RecordError when it is not one."""
    parts = tokens(line)
    fmt = detect(parts[0]) if parts else None
    if fmt is None:
        raise RecordError("not an ALB, NLB or Classic ELB access-log line")
    if unclosed_quote(line):
        # the request or user agent broke off: a download or copy that stopped mid-line was
        # stored as a whole line with the fields it still had
        raise RecordError("a quoted field is not closed: the line is cut short")
    if len(parts) < MIN_FIELDS[fmt]:
        raise RecordError(f"{fmt} line with {len(parts)} fields, expected {MIN_FIELDS[fmt]}+")
    names = _NAMES[fmt]
    fields: dict[str, Any] = dict(zip(names, parts, strict=False))
    if len(parts) > len(names):
        fields["extra"] = parts[len(names) :]
    for key in _STATUS:
        code = fields.get(key)
        if code is not None and code != "-" and not (code.isdigit() and len(code) == 3):
            raise RecordError(f"{key}: {code!r} is not an HTTP status code")
    return fmt, fields


def parse(record: Any, ctx: Context) -> Parsed:
    """One access-log line into an LBAccessLog observation."""
    if not isinstance(record, str):
        raise RecordError("expected a text line")
    fmt, fields = parse_line(record)
    line, fields = redact_queries(record, fields)
    at = _time(fields.get("time"), "time")
    created = fields.get("request_creation_time")
    when = _time(created, "request_creation_time") if created not in (None, "-") else at
    if is_lb_failure(fields):
        ctx.notes["failed"] += 1
        if target_of(fields) is None:
            ctx.notes["failed without target"] += 1
    return [
        Observation(
            observed_at=at,
            cluster=ctx.cluster,
            source=SOURCE,
            kind="LBAccessLog",
            op="OBSERVED",
            payload={"line": line, "format": fmt, "fields": fields},
            source_time=when,
        )
    ]


def notes(stats: Stats) -> list[str]:
    """How many lines are the LB's own failures, and how many of those name no target; nothing
    when no line was imported (a count of 0 would read as "the LB failed no request")."""
    if not stats.imported_records:
        return []
    failed = stats.notes.get("failed", 0)
    lost = stats.notes.get("failed without target", 0)
    text = (
        f"{failed} lines are the LB's own 502/503/504 with no answer from a target; replay ties "
        "them to nodes by target address and NodePort"
    )
    return [text + (f" ({lost} name no target: node unknown)" if lost else "")]


FORMAT = Format(
    name="elb-access-log",
    source=SOURCE,
    parse=parse,
    notes=notes,
    text=True,
    help="ELB access logs (ALB, NLB TLS, Classic), detected per line.",
)
