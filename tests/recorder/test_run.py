"""The run loop knows no source: a source that exists only in the tests runs with one REGISTRY
line, next to the Kubernetes source or alone, with the shared spool, checkpoints and /readyz."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from structlog.testing import capture_logs

from gapwatch.recorder import sources
from gapwatch.recorder.config import RecorderConfig
from gapwatch.recorder.errors import ConfigError, StoreError
from gapwatch.recorder.run import Recorder
from gapwatch.recorder.sources.view import NodeInfo
from gapwatch.recorder.writer import load_checkpoints
from gapwatch.replay.facts import write_facts

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sources.REGISTRY, "toy", "tests.recorder.toysource:build")


def rows(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        result = conn.execute(text("SELECT payload FROM events WHERE source = 'toy-counter'"))
        return [str(r[0]) for r in result]


def run_once(engine: Engine, config: RecorderConfig) -> int:
    """Run the recorder until the toy source is ready; return what /readyz answered then."""
    statuses: list[int] = []

    async def main() -> None:
        recorder = Recorder(config=config, engine=engine, derive=write_facts, clock=lambda: NOW)
        recorder.view.put_node(NodeInfo(name="node-1", addresses=(("InternalIP", "10.0.0.1"),)))
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(stop))
        while recorder.port is None or recorder.ready() is not None:
            await asyncio.sleep(0.01)
        statuses.append(await asyncio.to_thread(_status, recorder.port))
        stop.set()
        await task

    asyncio.run(main())
    return statuses[0]


def _status(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_registered_source_runs_without_changing_the_run_loop(engine: Engine) -> None:
    config = RecorderConfig(cluster="c", listen="127.0.0.1:0", sources={"toy": {"rounds": 2}})
    assert run_once(engine, config) == 200
    assert load_checkpoints(engine, "c", "toy-counter") == {"round": {"n": 2}}
    # Restarted, it resumes after its checkpoint: rounds 3 and 4, nothing repeated.
    run_once(engine, config)
    assert load_checkpoints(engine, "c", "toy-counter") == {"round": {"n": 4}}
    stored = rows(engine)
    assert len(stored) == 4 and all("node-1" in payload for payload in stored)


def test_a_bad_source_section_names_the_file_and_source(engine: Engine) -> None:
    config = RecorderConfig(sources={"toy": {"rounds": 0}}, origin="record.yaml")
    with pytest.raises(ConfigError, match=r"record.yaml: sources.toy: rounds: expected"):
        Recorder(config=config, engine=engine, derive=write_facts)


def test_api_server_option_needs_the_k8s_source(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app

    config = tmp_path / "record.yaml"
    config.write_text("sources: {toy: {rounds: 1}}\n")
    result = CliRunner().invoke(app, ["record", "--config", str(config), "--api-server", "x"])
    assert isinstance(result.exception, ConfigError)
    assert "--api-server: no k8s source is configured" in str(result.exception)


def test_a_stop_while_the_store_is_down_says_what_was_not_written(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while the store refuses every write: the shutdown ends at its one deadline and
    says how many items were not written, in the log and as the command's error; it was a bare
    TimeoutError, printed by the CLI as `error: ` and nothing else, after 25 s per step."""
    config = RecorderConfig(
        cluster="c", listen="127.0.0.1:0", sources={"toy": {"rounds": 1}}, shutdown_timeout_s=0.5
    )

    async def main() -> None:
        recorder = Recorder(config=config, engine=engine, derive=write_facts, clock=lambda: NOW)

        def refuse(*args: object) -> None:
            raise StoreError("the store is down")

        monkeypatch.setattr(recorder.spool.writer, "write", refuse)
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(stop))
        while recorder.spool.healthy:  # the toy's one observation failed to write once
            await asyncio.sleep(0.01)
        stop.set()
        with pytest.raises(StoreError) as caught:
            await asyncio.wait_for(task, 30)
        message = str(caught.value)
        assert message.startswith("stopped with 1 observations and checkpoints not written")
        assert "shutdown_timeout_s (0.5 s)" in message

    with capture_logs() as logs:
        asyncio.run(main())
    (said,) = [e for e in logs if e["event"] == "stopped with items not written"]
    assert (said["log_level"], said["not_written"], said["last_commit"]) == ("error", 1, None)
    assert rows(engine) == []
