"""`gapwatch record`: the long-running recorder of every configured source (dashboard.cli
registers it).

Imports only typer at the top: the run loop, the sources and the store load when the command
runs, so `gapwatch record --help` stays fast. With GAPWATCH_DEBUG_MODULES=FILE the process writes
the names of every module it loaded to FILE when it stops (the tests use it to prove the recorder
never loads the dashboard, the replay engine or the simulator). With GAPWATCH_DEBUG_MEMORY=DIR it
traces its memory into DIR (recorder/memtrace.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gapwatch.recorder.cliutil import secret_on_command_line

if TYPE_CHECKING:
    from gapwatch.recorder.config import RecorderConfig
    from gapwatch.recorder.writer import Derive

DEBUG_MODULES_ENV = "GAPWATCH_DEBUG_MODULES"
#: recorder/memtrace.py's switch (named here so that the module loads only when it is set)
MEMORY_ENV = "GAPWATCH_DEBUG_MEMORY"


def register(app: typer.Typer) -> None:
    """Add `record` to the root `gapwatch` app."""
    app.command("record")(record)


def _log_value(value: object) -> object:
    """A log field JSON cannot hold as it is: a time as RFC 3339 UTC (structlog's own fallback
    wrote `datetime.datetime(2026, 12, 4, ...)`, which no log query can compare), else repr."""
    from datetime import datetime

    from gapwatch.recorder.timefmt import format_time

    if isinstance(value, datetime) and value.tzinfo is not None:
        return format_time(value)
    return repr(value)


def configure_logging(level: str = "INFO") -> None:
    """One JSON object per line on stderr (timestamp, level, event, fields); no secrets."""
    import logging
    import sys

    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(default=_log_value),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


async def _run(config: RecorderConfig, derive: Derive) -> None:
    import asyncio
    import signal

    import structlog

    from gapwatch.recorder.cliutil import open_store
    from gapwatch.recorder.lab.clock import recorder_clock
    from gapwatch.recorder.run import Recorder
    from gapwatch.recorder.store import redact

    engine = open_store(config.db)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        # monotonic, anchored to the host's clock (the lab's simulated one when it is set)
        clock = recorder_clock(os.environ)
        recorder = Recorder(config=config, engine=engine, derive=derive, clock=clock)
        structlog.get_logger("gapwatch.recorder").info(
            "starting",
            cluster=config.cluster,
            sources=[s.name for s in recorder.sources],
            store=redact(config.db),
            listen=config.listen or None,
        )
        await recorder.run(stop)
    finally:
        engine.dispose()


def _dump_modules(path: str) -> None:
    import sys

    Path(path).write_text("".join(f"{name}\n" for name in sorted(sys.modules)), "utf-8")


def record(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="GAPWATCH_RECORD_CONFIG", help="YAML configuration file."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            envvar="GAPWATCH_DB",
            callback=secret_on_command_line,
            help="Event store URL (default: the config's `db`, else sqlite:///gapwatch.db).",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            envvar="GAPWATCH_CLUSTER",
            help="Name recorded as `cluster` (required: here, in GAPWATCH_CLUSTER or the config).",
        ),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT for /livez, /readyz, /metrics (default: the config's `listen`, env "
            "GAPWATCH_RECORD_LISTEN, else 0.0.0.0:8080: every interface)."
        ),
    ] = None,
    api_server: Annotated[
        str | None,
        typer.Option(
            help="Kubernetes source: use this API URL without credentials (e.g. `kubectl proxy`)."
        ),
    ] = None,
) -> None:
    """Record Kubernetes changes (EndpointSlices, Services, Nodes, Pods, workloads, Events) and
    every other source configured under `sources:`, into the event store.

    Runs until SIGTERM or Ctrl-C; then commits what it has read and exits 0 (1, saying how
    much was not written, when the store does not take it within shutdown_timeout_s).
    See docs/recorder.md.
    """
    import asyncio
    import dataclasses

    from gapwatch.recorder.cliutil import wiring
    from gapwatch.recorder.config import LEGACY_SOURCE, load_config, require_cluster
    from gapwatch.recorder.errors import ConfigError

    cfg = load_config(config, os.environ)
    given: dict[str, Any] = {"db": db, "cluster": cluster, "listen": listen}
    cfg = dataclasses.replace(cfg, **{k: v for k, v in given.items() if v is not None})
    if api_server is not None:
        if LEGACY_SOURCE not in cfg.sources:
            raise ConfigError(f"--api-server: no {LEGACY_SOURCE} source is configured")
        sources = dict(cfg.sources)
        sources[LEGACY_SOURCE] = {**sources[LEGACY_SOURCE], "api_server": api_server}
        cfg = dataclasses.replace(cfg, sources=sources)
    require_cluster(cfg)
    configure_logging()
    from gapwatch.recorder.heap import limit_arenas

    limit_arenas()  # before any thread: recorder/heap.py
    dump = os.environ.get(DEBUG_MODULES_ENV)
    if os.environ.get(MEMORY_ENV):
        from gapwatch.recorder.memtrace import start_from_env

        start_from_env(os.environ)
    try:
        asyncio.run(_run(cfg, wiring(ctx).derive))
    finally:
        if dump:
            _dump_modules(dump)
