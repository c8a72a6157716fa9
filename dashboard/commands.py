"""`gapwatch dashboard` and `gapwatch demo`; dashboard.cli registers them.

`dashboard` checks the store, then runs `streamlit run dashboard/app.py` with the store URL in
GAPWATCH_DB. `demo` builds a fresh SQLite demo store (dashboard.demo) and starts the dashboard
on it; `--build-only` stops after building, `--no-open` starts it without opening a browser.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from dashboard import demo as demo_mod
from recorder.cliutil import DbOption, open_store, stderr
from recorder.store import DEFAULT_URL, redact

APP = Path(__file__).with_name("app.py")

PortOption = Annotated[
    int, typer.Option("--port", envvar="GAPWATCH_PORT", help="Port to serve the dashboard on.")
]
AddressOption = Annotated[
    str, typer.Option("--address", help="Interface to listen on (0.0.0.0 for every one).")
]


def register(app: typer.Typer) -> None:
    """Add `dashboard` and `demo` to the root `gapwatch` app."""
    app.command("dashboard")(dashboard)
    app.command("demo")(demo)


def streamlit_command(*, port: int, address: str, headless: bool) -> list[str]:
    """The command line that serves the dashboard app."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def serve(db: str, *, port: int, address: str, headless: bool) -> int:
    """Run the dashboard in the foreground until interrupted; returns streamlit's exit code."""
    env = {**os.environ, "GAPWATCH_DB": db}
    root = str(APP.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    stderr.print(f"dashboard for {redact(db)} on http://{address}:{port}/ (Ctrl-C stops it)")
    try:
        return subprocess.call(
            streamlit_command(port=port, address=address, headless=headless), env=env
        )
    except KeyboardInterrupt:
        return 0


def dashboard(
    db: DbOption = DEFAULT_URL,
    port: PortOption = 8501,
    address: AddressOption = "127.0.0.1",
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser (servers, CI).")
    ] = False,
) -> None:
    """Serve the dashboard: gaps per rollout, lane timelines, what-if, a SQL console."""
    open_store(db).dispose()  # a missing or old schema is one clear line, not a broken page
    raise typer.Exit(serve(db, port=port, address=address, headless=no_browser))


def demo(
    path: Annotated[
        Path, typer.Option("--path", help="The SQLite file to build (rebuilt each time).")
    ] = Path(demo_mod.DEFAULT_PATH),
    port: PortOption = 8501,
    address: AddressOption = "127.0.0.1",
    no_open: Annotated[
        bool, typer.Option("--no-open", "--no-browser", help="Do not open a browser.")
    ] = False,
    build_only: Annotated[
        bool, typer.Option("--build-only", help="Build the store, print its URL, do not serve.")
    ] = False,
    large: Annotated[
        bool, typer.Option("--large", help="Add a 300-node, 12-hour cluster (~500k events).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Simulation seed: same seed, same store.")] = 1,
    replace: Annotated[
        bool, typer.Option("--replace", help="Rebuild --path even if it is not the default file.")
    ] = False,
) -> None:
    """Simulate the seed cluster and a larger one into a fresh SQLite file, replay, and open the
    dashboard on it. The first command to run: `gapwatch demo`."""
    scenarios = list(demo_mod.DEFAULT_SCENARIOS)
    if large:
        scenarios.append(demo_mod.LARGE_SCENARIO)
    store = demo_mod.build_demo_store(
        path,
        scenarios=scenarios,
        seed=seed,
        replace=replace or path.name == demo_mod.DEFAULT_PATH,
        on_step=lambda text: stderr.print(text),
    )
    for c in store.clusters:
        stderr.print(
            f"cluster {c.cluster}: {c.preset} seed {c.seed}, {c.events} events, "
            f"{len(c.truth.windows)} true windows, {len(c.truth.rollouts)} rollouts"
        )
    stderr.print(f"replay found {store.windows} gap windows; store {store.url}")
    if build_only:
        print(store.url)
        return
    raise typer.Exit(serve(store.url, port=port, address=address, headless=no_open))
