"""After an upgrade, a real browser's first page says that it rebuilds the projections while
`gapwatch dashboard`'s health endpoint keeps answering (Debian's Chromium, Playwright).

The store is the simulator's `large` preset cut to one hour (the 300 nodes, tens of thousands of
events), replayed, then marked as built by other replay code (replay.revision), as an upgrade
leaves it. `gapwatch dashboard` serves it as a subprocess; a thread asks /_stcore/health every
0.1 s with the 1 s timeout of a Kubernetes probe (deploy/components/dashboard) while the page
rebuilds. Skipped without chromium or playwright, except under CI=true (test_browser.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.store import make_engine
from gapwatch.replay import projections, revision
from tests.dashboard.test_browser import (
    ARGS,
    CHROMIUM,
    ROOT,
    _free_port,
    _require_browser,
    stop_server,
)


@pytest.fixture
def upgraded_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'large.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--db", url]).exit_code == 0
    done = runner.invoke(app, ["simulate", "-s", "large", "--set", "duration_s=3600", "--db", url])
    assert done.exit_code == 0, done.output
    engine = make_engine(url)
    projections.rebuild(engine)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE replay_state SET value = value + 1 WHERE key = :k"), {"k": revision.KEY}
        )
    engine.dispose()
    return url


@pytest.fixture
def server(upgraded_store: str, tmp_path: Path) -> Iterator[str]:
    _require_browser()
    port = _free_port()
    log = (tmp_path / "dashboard.log").open("wb")
    command = [sys.executable, "-m", "gapwatch.dashboard.cli", "dashboard", "--db",
               upgraded_store, "--no-browser", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(base, 2.0):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dashboard not healthy: {(tmp_path / 'dashboard.log').read_text()}")
            time.sleep(0.3)
        yield base
    finally:
        stop_server(proc)
        log.close()


def _healthy(base: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(base + "/_stcore/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def test_the_first_page_after_an_upgrade_says_it_rebuilds_and_health_answers(
    server: str,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    answers: list[tuple[float, bool, float]] = []  # (asked at, answered 200, seconds)
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            asked = time.monotonic()
            ok = _healthy(server, 1.0)
            answers.append((asked, ok, time.monotonic() - asked))
            time.sleep(0.1)

    prober = threading.Thread(target=probe, daemon=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        prober.start()
        opened = time.monotonic()
        page.goto(f"{server}/?page=overview", timeout=60_000)
        said = page.get_by_text("Rebuilding the projections: they were built by other replay code")
        expect(said.first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("done in").first).to_be_attached(timeout=120_000)
        finished = time.monotonic()
        expect(page.get_by_text("Gap windows", exact=True).first).to_be_visible(timeout=60_000)
        browser.close()
    stop.set()
    prober.join(5)
    during = [(ok, took) for asked, ok, took in answers if opened <= asked <= finished]
    assert during, "no health look while the page rebuilt"
    assert all(ok for ok, _took in during), during
    assert max(took for _ok, took in during) < 1.0, during
