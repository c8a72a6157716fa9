"""`gapwatch dashboard` and `gapwatch demo`; dashboard.cli registers them.

`dashboard` checks the store, then runs `streamlit run dashboard/app.py` with the store URL in
GAPWATCH_DB. `demo` builds a fresh SQLite demo store (dashboard.demo) and starts the dashboard
on it; `--build-only` stops after building, `--no-open` starts it without opening a browser.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from gapwatch.recorder.cliutil import (
    DEFAULT_URL,
    DbOption,
    open_store,
    progress,
    stderr,
    step_progress,
)
from gapwatch.recorder.errors import ConfigError

APP = Path(__file__).with_name("app.py")
#: The SQLite file `gapwatch demo` builds (and rebuilds) by default, in the current directory.
DEMO_PATH = "gapwatch-demo.db"
#: What `gapwatch demo --large` adds (dashboard.demo.LARGE_SCENARIO), as help and docs say it.
LARGE_SUMMARY = "a 300-node, 24-hour cluster (the simulator's `large`, about 1.1M events)"

#: The port served when none is given (Streamlit's own default).
DEFAULT_PORT = 8501
PORT_ENV = "GAPWATCH_PORT"


def dashboard_port(ctx: typer.Context, param: typer.CallbackParam, value: str) -> int:
    """An option callback: `--port`, 1-65535. A value from GAPWATCH_PORT that is no port number
    is ignored with a warning, not an error: Kubernetes gives every pod of a namespace holding a
    Service named `gapwatch` the variable GAPWATCH_PORT=tcp://ADDRESS:PORT (its service links,
    on unless the pod sets enableServiceLinks: false), and the dashboard then refused to start
    (`'tcp://10.96.0.10:8501' is not a valid integer`) in a pod that never set it."""
    text = value.strip()
    if text.isdigit() and 1 <= int(text) <= 65535:
        return int(text)
    source = ctx.get_parameter_source(param.name or "")
    if source is not None and source.name == "ENVIRONMENT":
        shown = text if len(text) <= 60 else text[:57] + "..."
        stderr.print(
            f"warning: {PORT_ENV}={shown!r} is not a port number (a Kubernetes Service named "
            f"`gapwatch` sets it to tcp://ADDRESS:PORT): ignored, serving on {DEFAULT_PORT}",
            markup=False,
        )
        return DEFAULT_PORT
    raise typer.BadParameter(f"{text} is not a TCP port (1-65535)")


# read as text, so that dashboard_port sees a Service link's value before Click refuses it
PortOption = Annotated[
    str,
    typer.Option(
        "--port",
        envvar=PORT_ENV,
        callback=dashboard_port,
        metavar="INTEGER",
        help="Port to serve the dashboard on; a GAPWATCH_PORT that is no number is ignored.",
    ),
]
AddressOption = Annotated[
    str,
    typer.Option(
        "--address",
        help="Interface to listen on; other than loopback only with a login configured.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add `dashboard` and `demo` to the root `gapwatch` app."""
    app.command("dashboard")(dashboard)
    app.command("demo")(demo)


def streamlit_command(*, port: int, address: str) -> list[str]:
    """The command line that serves the dashboard app.

    Always headless: a non-headless first run of Streamlit stops at an e-mail prompt on the
    terminal, which hangs `gapwatch demo` on a fresh machine. The browser is opened by us."""
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
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def serve(db: str, *, port: int, address: str, headless: bool) -> int:
    """Run the dashboard in the foreground until interrupted; returns streamlit's exit code."""
    import importlib.util
    import signal
    import subprocess
    import threading

    from gapwatch.recorder.store import redact

    if importlib.util.find_spec("streamlit") is None:  # the slim recorder image has no UI stack
        raise ConfigError("the dashboard needs its extra: pip install 'gapwatch[dashboard]'")
    env = {**os.environ, "GAPWATCH_DB": db}
    root = str(APP.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    url = f"http://{address}:{port}/"
    stderr.print(f"dashboard for {redact(db)} on {url} (Ctrl-C stops it)")
    if not headless and _has_display():
        threading.Thread(target=_open_when_up, args=(url,), daemon=True).start()
    child = subprocess.Popen(streamlit_command(port=port, address=address), env=env)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)  # stopping gapwatch stops the server too; no orphan

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        child.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_port(address: str, port: int) -> None:
    """ConfigError when `address:port` is taken, before anything is built or started: Streamlit
    itself only logged `Port 8501 is not available` (a second `gapwatch demo` found out after
    building its store) and exited 1 without naming --port."""
    import errno
    import socket

    try:
        socket.create_server((address, port)).close()  # SO_REUSEADDR, as the server sets it
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            return  # the server reports anything else itself
        raise ConfigError(
            f"{address}:{port} is already in use (another dashboard, or `gapwatch demo`?): "
            "choose another port with --port N (env GAPWATCH_PORT)"
        ) from None


def _has_display() -> bool:
    """Whether a graphical browser can open here (a console browser would take the terminal)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open_when_up(url: str, timeout_s: float = 60.0) -> None:
    import time
    import urllib.request
    import webbrowser

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    webbrowser.open(url)
                    return
        except OSError:
            time.sleep(0.5)


def dashboard(
    db: DbOption = DEFAULT_URL,
    port: PortOption = str(DEFAULT_PORT),
    address: AddressOption = "127.0.0.1",
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser (servers, CI).")
    ] = False,
) -> None:
    """Serve the dashboard: gaps per rollout, lane timelines, what-if, a SQL console.

    Only on loopback unless a login is configured (Streamlit OIDC or an authenticating proxy:
    docs/dashboard.md)."""
    from gapwatch.dashboard.exposure import check_address

    check_address(address)
    served = int(port)  # dashboard_port made it one
    check_port(address, served)
    open_store(db).dispose()  # a missing or old schema is one clear line, not a broken page
    raise typer.Exit(serve(db, port=served, address=address, headless=no_browser))


def demo(
    path: Annotated[
        Path, typer.Option("--path", help="The SQLite file to build (rebuilt each time).")
    ] = Path(DEMO_PATH),
    port: PortOption = str(DEFAULT_PORT),
    address: AddressOption = "127.0.0.1",
    no_open: Annotated[
        bool, typer.Option("--no-open", "--no-browser", help="Do not open a browser.")
    ] = False,
    build_only: Annotated[
        bool, typer.Option("--build-only", help="Build the store, print its URL, do not serve.")
    ] = False,
    large: Annotated[
        bool, typer.Option("--large", help=f"Add {LARGE_SUMMARY}; takes minutes.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Simulation seed: same seed, same store.")] = 1,
    replace: Annotated[
        bool, typer.Option("--replace", help="Rebuild --path even if it is not the default file.")
    ] = False,
) -> None:
    """Simulate the seed cluster and a larger one into a fresh SQLite file, replay, and open the
    dashboard on it. The first command to run: `gapwatch demo`."""
    from gapwatch.dashboard import demo as demo_mod
    from gapwatch.dashboard.exposure import check_address

    check_address(address)
    served = int(port)  # dashboard_port made it one
    if not build_only:
        check_port(address, served)
    scenarios = list(demo_mod.DEFAULT_SCENARIOS)
    if large:
        scenarios.append(demo_mod.LARGE_SCENARIO)
    store = demo_mod.build_demo_store(
        path,
        scenarios=scenarios,
        seed=seed,
        replace=replace or path.name == DEMO_PATH,
        on_step=lambda text: stderr.print(text),
        track=progress if large else None,  # minutes of work; the default demo takes seconds
        # as `gapwatch replay`: a bar per step in a terminal, in a log a line at most every 10 s
        replay_track=step_progress,
    )
    found = demo_mod.windows_per_cluster(store.url)
    for c in store.clusters:
        proven, possible = found.get(c.cluster, (0, 0))
        stderr.print(
            f"cluster {c.cluster}: {c.preset} seed {c.seed}, {c.events} events; simulator's "
            f"truth: {len(c.truth.windows)} windows, {len(c.truth.rollouts)} rollouts; replay: "
            f"{proven + possible} windows ({proven} proven, {possible} possible)"
        )
    stderr.print(
        f"replay found {store.windows} gap windows; store {store.url}\n"
        "(the truth knows the exact timeline; replay sees only samples, so it also reports the "
        "windows they allow but cannot prove, as 'possible', and times each within a range)"
    )
    stderr.print(
        f"next: export GAPWATCH_DB={store.url}, then `gapwatch gaps`, `gapwatch rollouts`, "
        "`gapwatch advise --cluster seed` (README.md, After the demo)",
        markup=False,
    )
    if build_only:
        print(store.url)
        return
    raise typer.Exit(serve(store.url, port=served, address=address, headless=no_open))
