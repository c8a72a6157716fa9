"""`gapwatch db maintain`: day partitions ahead, the default partition emptied, retention.

dashboard.cli registers it under `db` (`register(db_app)`). The work is recorder/maintain.py's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from gapwatch.recorder.cliutil import DbOption, open_store, stderr, usage_error
from gapwatch.recorder.defaults import DEFAULT_AHEAD_DAYS, DEFAULT_URL

if TYPE_CHECKING:
    from sqlalchemy import Engine

RetentionOption = Annotated[
    str | None,
    typer.Option(
        "--retention",
        envvar="GAPWATCH_RETENTION",
        help=(
            "Keep this much history, like 90d or 13w. PostgreSQL: drop every day partition "
            "that ended before now minus this (whole days: up to one day more is kept), with "
            "replay's facts of those events. SQLite (no partitions): delete the events older "
            "than that, and their facts. Nothing else is dropped: replay's windows, rollouts and "
            "lags of that span are kept (docs/retention.md). Without it nothing is dropped."
        ),
    ),
]
JsonOnly = Annotated[bool, typer.Option("--json", help="Print what was done as one JSON object.")]
AheadOption = Annotated[
    int,
    typer.Option(
        "--ahead-days", min=0, help="PostgreSQL: create the partitions of this many days ahead."
    ),
]


def register(db_app: typer.Typer) -> None:
    """Add `maintain` to the `gapwatch db` group."""
    db_app.command("maintain")(db_maintain)


def _retention_origin(ctx: typer.Context) -> str:
    """Where the retention came from, for its error: the CronJob gapwatch-maintain passes no
    option, and `--retention: 'none'` pointed at an option nobody had typed."""
    source = ctx.get_parameter_source("retention")
    if source is not None and source.name == "ENVIRONMENT":
        return "GAPWATCH_RETENTION (deploy/: key `retention` of ConfigMap gapwatch-cluster)"
    return "--retention"


def db_maintain(
    ctx: typer.Context,
    db: DbOption = DEFAULT_URL,
    retention: RetentionOption = None,
    ahead_days: AheadOption = DEFAULT_AHEAD_DAYS,
    as_json: JsonOnly = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Say what --retention would drop, against the recorded span; change nothing.",
        ),
    ] = False,
) -> None:
    """Maintain the store: on PostgreSQL create the day partitions of `events` ahead (today and
    --ahead-days more), move rows waiting in the default partition (days that had none) into
    their day's, then apply --retention. Run it daily as the owner of the tables (deploy/base:
    CronJob gapwatch-maintain); `gapwatch record` tries the same hourly, with its config's
    `retention`, and says so when its login is not the owner (unless its config says
    `maintain: false`: deploy/'s node agents)."""
    from datetime import UTC, datetime

    import orjson

    from gapwatch.recorder.maintain import maintain
    from gapwatch.recorder.partitions import parse_retention

    try:
        keep = parse_retention(retention) if retention is not None else None
    except ValueError as exc:
        usage_error(f"{_retention_origin(ctx)}: {exc}")
    engine = open_store(db)
    if dry_run:
        _dry_run(engine, keep, as_json)
        return
    done = maintain(engine, now=datetime.now(UTC), retention=keep, ahead_days=ahead_days)
    summary = {
        "partitioned": done.partitioned,
        "created": done.created,
        "partitions_until": done.last_day.isoformat() if done.last_day else None,
        "moved_from_default": done.moved,
        "cutoff": done.cutoff.isoformat() if done.cutoff else None,
        "dropped_partitions": done.dropped.partitions,
        "dropped_events": done.dropped.events,
        "dropped_facts": done.dropped.derived,
        "dropped_keys": done.dropped.keys,
    }
    if as_json:
        print(orjson.dumps(summary).decode())
        return
    if done.partitioned:
        until = f"{done.last_day:%Y-%m-%d}" if done.last_day else "none"
        stderr.print(
            f"partitions: {len(done.created)} created (days up to {until} have one), "
            f"{done.moved} rows moved out of the default partition"
        )
    else:  # `--ahead-days 30` on SQLite said nothing of the partitions it did not create
        stderr.print(
            "partitions: none on SQLite (events is one table; day partitions and --ahead-days "
            "are PostgreSQL's), none created"
        )
    if done.cutoff is None:
        stderr.print("retention: none given, nothing dropped")
        return
    how = f"{len(done.dropped.partitions)} day partitions" if done.partitioned else "rows"
    stderr.print(
        f"retention: dropped {how} before {done.cutoff:%Y-%m-%d %H:%M} UTC: "
        f"{done.dropped.events} events, {done.dropped.derived} facts"
    )


def _dry_run(engine: Engine, keep: timedelta | None, as_json: bool) -> None:
    """`--dry-run`: what the retention would drop, nothing changed. A store of old data (the
    demo's events are of 2026-01-01) lost every event to `--retention 1d` with no way to look
    first."""
    from datetime import UTC, datetime

    import orjson

    from gapwatch.recorder.maintain import preview

    if keep is None:
        usage_error("--dry-run shows what --retention would drop: give --retention")
    seen = preview(engine, now=datetime.now(UTC), retention=keep)
    span = (
        f"the store holds events from {seen.first:%Y-%m-%d %H:%M} to {seen.last:%Y-%m-%d %H:%M} UTC"
        if seen.first is not None and seen.last is not None
        else "the store holds no events"
    )
    if as_json:
        doc = {
            "dry_run": True,
            "cutoff": seen.cutoff.isoformat(),
            "would_drop_events": seen.events,
            "would_drop_partitions": list(seen.partitions),
            "first": seen.first.isoformat() if seen.first else None,
            "last": seen.last.isoformat() if seen.last else None,
        }
        print(orjson.dumps(doc).decode())
        return
    stderr.print(
        f"dry run: --retention would drop {seen.events} events recorded before "
        f"{seen.cutoff:%Y-%m-%d %H:%M} UTC, with their facts ({span}); nothing was changed",
        markup=False,
    )
