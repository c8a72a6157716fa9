"""`gapwatch record`: the long-running Kubernetes recorder (dashboard.cli registers it)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import structlog
import typer

from gapwatch.recorder.cliutil import open_store, wiring
from gapwatch.recorder.k8s.client import ApiEndpoint, load_endpoint
from gapwatch.recorder.k8s.config import RecorderConfig, load_config

if TYPE_CHECKING:
    from gapwatch.recorder.writer import Derive


def register(app: typer.Typer) -> None:
    """Add `record` to the root `gapwatch` app."""
    app.command("record")(record)


def configure_logging(level: str = "INFO") -> None:
    """One JSON object per line on stderr (timestamp, level, event, fields); no secrets."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


async def _run(config: RecorderConfig, api: ApiEndpoint, derive: Derive) -> None:
    from gapwatch.recorder.service import Recorder

    engine = open_store(config.db)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    recorder = Recorder(config=config, engine=engine, api=api, derive=derive)
    structlog.get_logger("gapwatch.recorder").info(
        "starting", cluster=config.cluster, kinds=list(config.kinds), api=api.host
    )
    try:
        await recorder.run(stop)
    finally:
        engine.dispose()


def record(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="GAPWATCH_RECORD_CONFIG", help="YAML configuration file."),
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", envvar="GAPWATCH_DB", help="Event store URL.")
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", envvar="GAPWATCH_CLUSTER", help="Name recorded as `cluster`."),
    ] = None,
    listen: Annotated[
        str | None, typer.Option(help="HOST:PORT for /livez, /readyz, /metrics.")
    ] = None,
    api_server: Annotated[
        str | None,
        typer.Option(help="Use this API URL without credentials (e.g. `kubectl proxy`)."),
    ] = None,
) -> None:
    """Record Kubernetes changes (EndpointSlices, Services, Nodes, Pods, workloads, Events).

    Runs until SIGTERM; then commits what it has read and exits 0. See docs/recorder.md.
    """
    cfg = load_config(config, os.environ)
    given: dict[str, Any] = {
        "db": db,
        "cluster": cluster,
        "listen": listen,
        "api_server": api_server,
    }
    cfg = dataclasses.replace(cfg, **{k: v for k, v in given.items() if v is not None})
    configure_logging()
    if cfg.api_server:
        api = ApiEndpoint(host=cfg.api_server.rstrip("/"))
    else:
        api = load_endpoint(kubeconfig=cfg.kubeconfig, context=cfg.context)
    asyncio.run(_run(cfg, api, wiring(ctx).derive))
