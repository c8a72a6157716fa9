"""GAPWATCH_DEBUG_MEMORY (recorder/memtrace.py): a recorder process traces its memory into a
directory when asked, and does nothing of the kind when not (it is a measuring aid, off by
default). The recorder runs for real against the fake Kubernetes API, into SQLite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import yaml

from gapwatch.recorder import memtrace
from gapwatch.recorder.record import MEMORY_ENV
from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer
from tests.k8s.harness import wait_until
from tests.pgserver import free_port
from tests.test_startup import _ready


def record_traced(tmp_path: Path, db: str, extra_env: dict[str, str]) -> None:
    """Run `gapwatch record` into the migrated store `db` until ready (and, with `extra_env`,
    two memory dumps into tmp_path/mem), then SIGTERM it."""
    config = tmp_path / "record.yaml"
    config.write_text(yaml.safe_dump({"cluster": "test", "sources": {"k8s": {"scope": "all"}}}))
    port = free_port()
    with FakeApiServer(bookmark_interval=0.05) as fake:
        fake.create("Node", objects.node(1))
        env = {k: v for k, v in os.environ.items() if not k.startswith(MEMORY_ENV)}
        command = [sys.executable, "-m", "gapwatch.dashboard.cli", "record"]
        command += ["--config", str(config), "--db", db, "--api-server", fake.url]
        command += ["--listen", f"127.0.0.1:{port}"]
        log = (tmp_path / "record.log").open("wb")
        proc = subprocess.Popen(
            command, cwd=tmp_path, env={**env, **extra_env}, stdout=log, stderr=log
        )
        try:
            wait_until(lambda: _ready(port, proc), "the recorder to be ready")
            traced = tmp_path / "mem"
            if extra_env:
                wait_until(lambda: len(lines_of(traced)) >= 2, "two memory dumps")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
            log.close()
    assert code == 0, (tmp_path / "record.log").read_text()[-2000:]


def lines_of(directory: Path) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for path in directory.glob("*.jsonl"):
        found += [json.loads(line) for line in path.read_text().splitlines() if line]
    return found


def test_the_recorder_dumps_its_memory_when_asked(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    assert memtrace.ENV == MEMORY_ENV
    traced = tmp_path / "mem"
    record_traced(
        tmp_path,
        migrated_sqlite(tmp_path / "store.db"),
        {MEMORY_ENV: str(traced), memtrace.EVERY_ENV: "0.2", memtrace.FRAMES_ENV: "3"},
    )
    lines = lines_of(traced)
    assert [line["seq"] for line in lines][:2] == [0, 1]
    first = lines[0]
    assert isinstance(first["rss_kb"], int) and first["rss_kb"] > 0
    assert isinstance(first["traced"], int) and first["traced"] > 0
    assert isinstance(first["types"], dict) and first["types"]
    snapshots = sorted(traced.glob("*.tracemalloc"))
    assert len(snapshots) >= 2
    assert tracemalloc.Snapshot.load(str(snapshots[0])).traces
    assert memtrace.compare(str(snapshots[0]), str(snapshots[1]), top=3) is not None
    if first["malloc"] is not None:  # glibc
        assert sorted(traced.glob("*.malloc.xml"))


def test_the_recorder_traces_nothing_by_default(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    record_traced(tmp_path, migrated_sqlite(tmp_path / "store.db"), {})
    assert not (tmp_path / "mem").exists()
    assert not list(tmp_path.glob("**/*.tracemalloc"))
