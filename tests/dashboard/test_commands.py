"""`gapwatch dashboard` and `gapwatch demo` from the command line, as a user runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.dashboard.commands import streamlit_command
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.tables import events
from gapwatch.replay import api

ROOT = Path(__file__).resolve().parents[2]


def _gapwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gapwatch.dashboard.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dashboard_on_an_empty_store_is_one_clear_line(tmp_path: Path) -> None:
    done = _gapwatch("dashboard", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--no-browser")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "gapwatch db upgrade" in lines[0]


def test_demo_build_only_builds_a_replayed_store(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    done = _gapwatch("demo", "--build-only", "--path", str(path), "--replace")
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url == f"sqlite:///{path.resolve()}"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            clusters = set(conn.execute(select(events.c.cluster).distinct()).scalars())
            total = conn.execute(select(func.count()).select_from(events)).scalar_one()
        assert clusters == {"seed", "aws"}
        assert f"replay found {len(api.windows(engine))} gap windows" in done.stderr
        # per cluster, the truth's count beside the replay's, and why they may differ
        for cluster in ("seed", "aws"):
            wins = api.windows(engine, cluster=cluster)
            proven = sum(1 for w in wins if w.certain)
            assert (
                f"replay: {len(wins)} windows ({proven} proven, {len(wins) - proven} possible)"
                in done.stderr
            )
        assert "'possible'" in done.stderr
        # the next step, with this store: `gapwatch gaps` alone reads gapwatch.db
        assert f"next: export GAPWATCH_DB={url}, then `gapwatch gaps`" in done.stderr
        assert total > 0
    finally:
        engine.dispose()
    # a second run rebuilds only with --replace (or at the default path)
    again = _gapwatch("demo", "--build-only", "--path", str(path))
    assert again.returncode == 1 and "--replace" in again.stderr


def test_dashboard_command_line_serves_the_app_headless() -> None:
    cmd = streamlit_command(port=8765, address="127.0.0.1")
    assert cmd[1:4] == ["-m", "streamlit", "run"]
    assert Path(cmd[4]) == ROOT / "dashboard" / "app.py"
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert flags["--server.port"] == "8765"
    assert flags["--server.headless"] == "true"
    assert flags["--browser.gatherUsageStats"] == "false"


def test_demo_with_a_browser_requested_serves_on_a_fresh_machine(tmp_path: Path) -> None:
    """`gapwatch demo` as the README runs it (no --no-open), with no terminal to answer on and a
    fresh HOME (no Streamlit credentials): the dashboard must come up, not wait at a prompt."""
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gapwatch.dashboard.cli", "demo", "--port", str(port)],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        healthy = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    healthy = True
                    break
            except OSError:
                time.sleep(0.5)
        assert healthy, "the demo's dashboard never answered its health check"
    finally:
        proc.terminate()  # gapwatch forwards it to the server it started
        try:
            output = proc.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired as exc:
            os.killpg(proc.pid, signal.SIGKILL)
            output = proc.communicate()[0].decode()
            raise AssertionError("gapwatch demo did not stop on SIGTERM") from exc
    assert "Email:" not in output


def test_a_port_in_use_is_one_line_before_anything_is_built(tmp_path: Path) -> None:
    """Streamlit only logged `Port 8501 is not available`: a second `gapwatch demo` built its
    store first, and neither command named --port."""
    store = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{store}")
    upgrade(engine)
    engine.dispose()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        served = _gapwatch(
            "dashboard", "--db", f"sqlite:///{store}", "--port", port, "--no-browser"
        )
        demo = _gapwatch("demo", "--path", str(tmp_path / "demo.db"), "--port", port, "--no-open")
    for done in (served, demo):
        assert done.returncode == 1
        assert done.stderr.startswith(f"error: 127.0.0.1:{port} is already in use"), done.stderr
        assert "--port N" in done.stderr
    assert not (tmp_path / "demo.db").exists()


@pytest.mark.parametrize("port", ["-1", "0", "70000"])
def test_a_port_out_of_range_is_a_usage_error(
    tmp_path: Path, port: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gapwatch dashboard --port 70000` (or -1) printed an OverflowError traceback from the
    port check (bind(): port must be 0-65535); port 0 served on a port nobody was told."""
    monkeypatch.chdir(tmp_path)  # demo builds its store in the working directory
    url = f"sqlite:///{tmp_path / 'gapwatch.db'}"
    for command in (["dashboard", "--db", url, "--no-browser"], ["demo", "--build-only"]):
        done = CliRunner().invoke(app, [*command, "--port", port], env={"COLUMNS": "200"})
        assert done.exit_code == 2, (command, done.output, done.exception)
        assert f"{port} is not a TCP port (1-65535)" in done.stderr, (command, done.stderr)
    assert list(tmp_path.iterdir()) == []


def test_a_service_link_in_gapwatch_port_is_ignored_with_a_warning(tmp_path: Path) -> None:
    """A Service named `gapwatch` in the namespace gives every pod GAPWATCH_PORT=tcp://IP:PORT
    (Kubernetes' service links); `gapwatch dashboard` read it for --port and refused to start
    (`'tcp://10.96.0.10:8501' is not a valid integer`, exit 2). Now the value is ignored with
    one warning and the command goes on (here to the empty store's one line); a number in it
    still chooses the port, and the same text typed as --port is still a usage error."""
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    command = ["dashboard", "--db", empty, "--no-browser"]
    link = "tcp://10.96.0.10:8501"
    done = CliRunner().invoke(app, command, env={"GAPWATCH_PORT": link, "COLUMNS": "200"})
    assert done.exit_code == 1, (done.output, done.exception)
    (warning,) = done.stderr.strip().splitlines()
    assert warning.startswith(f"warning: GAPWATCH_PORT='{link}' is not a port number")
    assert "ignored, serving on 8501" in warning
    assert "gapwatch db upgrade" in str(done.exception)  # the entry point prints it as one line
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        done = CliRunner().invoke(app, command, env={"GAPWATCH_PORT": port})
    assert done.exit_code == 1
    assert str(done.exception).startswith(f"127.0.0.1:{port} is already in use")
    done = CliRunner().invoke(app, [*command, "--port", link], env={"COLUMNS": "200"})
    assert done.exit_code == 2
    assert f"{link} is not a TCP port (1-65535)" in done.stderr
