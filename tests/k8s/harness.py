"""Running a Recorder in a background thread against the fake API, and what the tests expect.

`expected_rows` derives, from the fake's own history alone, the rows a perfect recorder stores:
every change, except inside "gap" windows where the history was compacted while the recorder could
not watch; there only the difference between the state before and after the window (ADDED or
MODIFIED with the final resourceVersion, DELETED with the last recorded one), as client-go's
relist would see it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from gapwatch.recorder.backoff import BackoffSettings
from gapwatch.recorder.config import RecorderConfig
from gapwatch.recorder.run import Recorder
from gapwatch.recorder.sources.k8s.source import K8sSource
from gapwatch.recorder.sources.k8s.storeio import load_resume_points
from gapwatch.recorder.sources.k8s.watcher import WatchSettings
from gapwatch.recorder.spool import SpoolSettings
from gapwatch.recorder.store import make_engine
from gapwatch.replay.facts import write_facts
from tests.k8s.fakeapi import KINDS, Change, FakeApiServer

Row = tuple[str, str | None, str, str, bool]
RECORDER_KEYS = {f.name for f in dataclasses.fields(RecorderConfig)}


ROOT = Path(__file__).resolve().parents[2]


def record_process(
    config: Path, *, db: str, api: str, port: int, **popen: Any
) -> subprocess.Popen[bytes]:
    """`gapwatch record --config CONFIG --api-server API --listen 127.0.0.1:PORT` as a process of
    its own, run from this checkout with GAPWATCH_DB=db; `popen` sets its stdout and stderr."""
    env = {**os.environ, "GAPWATCH_DB": db, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "gapwatch.dashboard.cli", "record", "--config", str(config)]
    command += ["--api-server", api, "--listen", f"127.0.0.1:{port}"]
    return subprocess.Popen(command, cwd=ROOT, env=env, **popen)


def fast_config(**overrides: Any) -> RecorderConfig:
    """Short timeouts and backoffs so faults resolve in tens of milliseconds. Overrides of the
    recorder's own fields (cluster, spool, ...) go to the top, the others to `sources.k8s`."""
    k8s: dict[str, Any] = {
        "scope": "all",
        "kinds": ("Service", "Node", "Pod", "EndpointSlice", "Event"),
        "watch": WatchSettings(
            page_size=50,
            read_timeout_s=0.6,
            server_timeout_s=(3, 6),
            connect_timeout_s=2.0,
            list_timeout_s=10.0,
            backoff=BackoffSettings(initial_s=0.02, max_s=0.2),
        ),
    }
    top: dict[str, Any] = {
        "cluster": "test",
        "listen": "127.0.0.1:0",
        "spool": SpoolSettings(batch_size=500, flush_interval_s=0.02),
    }
    for key, value in overrides.items():
        (top if key in RECORDER_KEYS else k8s)[key] = value
    return RecorderConfig(**top, sources={"k8s": k8s})


def kinds(config: RecorderConfig) -> tuple[str, ...]:
    return tuple(config.sources["k8s"]["kinds"])


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `predicate` until true; fail the test (not a timed assertion: a hang guard)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class RecorderThread:
    """A Recorder on its own event loop in a thread; `stop()` is SIGTERM's clean shutdown."""

    def __init__(self, config: RecorderConfig, db_url: str, api_url: str) -> None:
        self.engine = make_engine(db_url)
        config = dataclasses.replace(
            config,
            sources={**config.sources, "k8s": {**config.sources["k8s"], "api_server": api_url}},
        )
        self.recorder = Recorder(config=config, engine=self.engine, derive=write_facts)
        source = self.recorder.source("k8s")
        assert isinstance(source, K8sSource)
        self.k8s = source
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self.recorder.run(self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def start(self) -> RecorderThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self.thread_alive(), "the recorder did not stop"
        self.engine.dispose()
        if self.error is not None:
            raise self.error
        spool = self.recorder.spool
        assert spool.depth == 0 and spool._committed == spool._enqueued, "stopped before flushing"

    def thread_alive(self) -> bool:
        return self._thread.is_alive()

    def metric(self, name: str, **labels: str) -> float:
        value = self.recorder.metrics.registry.get_sample_value(name, labels)
        return float(value or 0.0)


def streams(config: RecorderConfig) -> list[str]:
    return list(kinds(config))


def caught_up(engine: Engine, fake: FakeApiServer, config: RecorderConfig) -> bool:
    """Every stream's committed checkpoint has reached the fake's current resourceVersion."""
    points = load_resume_points(engine, cluster=config.cluster)
    return all(points.get(s) == str(fake.rv) for s in streams(config))


def stored_rows(engine: Engine) -> list[Row]:
    with engine.connect() as conn:
        result = conn.execute(
            # object changes only: a RelistGap names a stretch (test_relist_gap.py)
            text(
                "SELECT kind, namespace, name, resource_version, op FROM events "
                "WHERE kind <> 'RelistGap' ORDER BY id"
            )
        )
        return [(r[0], r[1], r[2], r[3], r[4] == "DELETED") for r in result]


def expected_rows(
    log: Iterable[Change], gaps: list[tuple[int, int]], noop: set[int], kinds: set[str]
) -> set[Row]:
    """See the module docstring. `noop` holds the resourceVersions of heartbeat-only updates.
    The rule is the lab's (gapwatch.recorder.lab.ledger), in this module's row shape."""
    from gapwatch.recorder.lab.ledger import expected_k8s

    changes = [c for c in log if KINDS[c.plural][0] in kinds]
    keys = expected_k8s(changes, {kind: gaps for kind in kinds}, noop)
    return {(kind, ns or None, name, rv, op == "DELETED") for kind, ns, name, rv, op in keys}
