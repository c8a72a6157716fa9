"""A real browser opens the demo's dashboard on the seed rollout (Debian's Chromium, Playwright).

Starts `gapwatch demo --no-open` on a free port as a subprocess, waits for /_stcore/health, opens
the seed cluster's rollout page and checks the lane timeline and the window table rendered with
the replay's numbers. Screenshots go under the test's tmp_path, and to $GAPWATCH_TEST_OUTPUT when
set. Skipped without chromium or playwright, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gapwatch.recorder.store import make_engine
from gapwatch.replay import api

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
DEMO = [sys.executable, "-m", "gapwatch.dashboard.cli", "demo", "--no-open", "--replace"]
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _require_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("chromium (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("browser test needs " + ", ".join(missing))
        pytest.skip("browser test needs " + ", ".join(missing))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, store URL) of `gapwatch demo` serving a fresh demo store."""
    _require_browser()
    port = _free_port()
    db = tmp_path / "demo.db"
    log = (tmp_path / "dashboard.log").open("wb")
    proc = subprocess.Popen(
        [*DEMO, "--path", str(db), "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"demo exited {proc.returncode}: {(tmp_path / 'dashboard.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("dashboard did not become healthy in 120 s")
            time.sleep(0.5)
        yield base, f"sqlite:///{db}"
    finally:
        stop_server(proc)
        log.close()


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session: SIGTERM to the group, SIGKILL after 10 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _save(shot: Path, name: str) -> None:
    out = os.environ.get("GAPWATCH_TEST_OUTPUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(out) / name)


def test_seed_rollout_renders_in_a_real_browser(
    demo_server: tuple[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, store = demo_server
    engine = make_engine(store)
    seed_windows = [w for w in api.windows(engine) if w.service.cluster == "seed"]
    engine.dispose()
    assert seed_windows, "the seed scenario has gap windows"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2400})
        page.goto(f"{base}/?page=rollout&cluster=seed", timeout=60_000)
        plot = page.locator(".js-plotly-plot").first
        expect(plot).to_be_visible(timeout=60_000)
        # the lane timeline: one lane group per node, the windows labelled with their class
        for node in sorted({w.node for w in seed_windows}):
            expect(plot.locator("text", has_text=f"{node} · lb").first).to_be_attached()
        labels = plot.locator("g.annotation-text-g")
        expect(labels.first).to_be_attached(timeout=30_000)
        drawn = " ".join(labels.all_text_contents())
        for w in seed_windows:
            assert w.cls in drawn
        # the window table below it has one row per window
        table = page.get_by_test_id("stDataFrame").first
        expect(table).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Gap windows", exact=True).first).to_be_visible()
        page.wait_for_timeout(1000)
        shot = shots / "seed-rollout.png"
        page.screenshot(path=str(shot), full_page=True)
        _save(shot, "seed-rollout.png")
        # proven and possible windows are told apart, and the legend says how
        legend = " ".join(plot.locator("g.legend text").all_text_contents())
        assert "proven (solid)" in legend and "possible (hatched)" in legend
        for lane_state in ("lb: HEALTHY", "proxy: OPEN", "endpoints: ready"):
            assert lane_state in legend
        page.goto(f"{base}/?page=overview", timeout=60_000)
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / "overview.png"), full_page=True)
        _save(shots / "overview.png", "overview.png")
        # a deep link to the aws rollout and one node: survives a reload, shows the window
        engine = make_engine(store)
        aws = next(r for r in api.rollouts(engine, cluster="aws") if r.kind == "rollout")
        engine.dispose()
        node = sorted(aws.windows, key=lambda w: w.start_us)[-1].node
        link = f"{base}/?page=rollout&cluster=aws&rollout={aws.id}&node={node}"
        page.goto(link, timeout=60_000)
        expect(page.get_by_text(f"Events behind the window on {node}")).to_be_visible(
            timeout=60_000
        )
        page.reload()
        expect(page.get_by_text(f"Events behind the window on {node}")).to_be_visible(
            timeout=60_000
        )
        assert f"node={node}" in page.url and f"rollout={aws.id}" in page.url
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / "aws-rollout.png"), full_page=True)
        _save(shots / "aws-rollout.png", "aws-rollout.png")
        page.goto(f"{base}/?page=whatif&cluster=aws&rollout={aws.id}", timeout=60_000)
        expect(page.get_by_text("ProxyTerminatingEndpoints").first).to_be_visible(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shots / "whatif.png"), full_page=True)
        _save(shots / "whatif.png", "whatif.png")
        browser.close()
    assert shot.stat().st_size > 10_000


def test_html_report_reads_in_a_real_browser(tmp_path: Path) -> None:
    """`gapwatch report --format html` on the seed demo store, opened from disk (file://, no
    server, no network): the lanes figure draws and the window table lists every window."""
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    from gapwatch.dashboard.demo import build_demo_store

    demo = build_demo_store(tmp_path / "demo.db", scenarios=[("seed-3node", "seed")])
    report = tmp_path / "postmortem.html"
    done = subprocess.run(
        [sys.executable, "-m", "gapwatch.dashboard.cli", "report", "--db", demo.url,
         "--format", "html", "-o", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    engine = make_engine(demo.url)
    windows = api.windows(engine)
    engine.dispose()
    shot = tmp_path / "report.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1200})
        page.goto(report.as_uri(), timeout=60_000)
        plot = page.locator(".js-plotly-plot").first
        expect(plot).to_be_visible(timeout=30_000)
        for node in sorted({w.node for w in windows}):
            expect(plot.locator("text", has_text=f"{node} · lb").first).to_be_attached()
        rows = page.locator("table").first.locator("tbody tr")
        expect(rows).to_have_count(len(windows))
        page.wait_for_timeout(500)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    _save(shot, "report.png")
    assert shot.stat().st_size > 10_000
