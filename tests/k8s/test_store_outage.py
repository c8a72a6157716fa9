"""The store goes down while changes flow: the spool holds them (backpressure), the writer retries,
nothing is lost or doubled. A Postgres of the test's own is stopped and started (never the shared
dev server). With a tiny spool the watcher stops reading; the fake closes it as a slow consumer
once kernel buffers fill (how soon depends on them), and the recorder resumes either way."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from gapwatch.recorder.spool import SpoolSettings
from gapwatch.recorder.store import make_engine, upgrade
from tests import pgserver
from tests.k8s.fakeapi import FakeApiServer
from tests.k8s.harness import (
    RecorderThread,
    caught_up,
    expected_rows,
    fast_config,
    kinds,
    stored_rows,
    wait_until,
)
from tests.k8s.mutator import Mutator


@pytest.mark.postgres
def test_postgres_outage_loses_nothing() -> None:
    if pgserver.pg_bin() is None:
        pytest.skip("no PostgreSQL server binaries")
    root = Path(tempfile.mkdtemp(prefix="gapwatch-outage-", dir="/tmp"))
    port = pgserver.free_port()
    url = pgserver.start(root, port)
    try:
        engine = make_engine(url)
        upgrade(engine)
        # ~5 small objects' worth of memory: sources wait while the store is down
        config = fast_config(
            spool=SpoolSettings(max_bytes=20 * 1024, batch_size=10, flush_interval_s=0.01)
        )
        with FakeApiServer(bookmark_interval=0.05, max_watch_lag=60) as fake:
            script = Mutator(fake, seed=7)
            script.seed()
            gaps = [(0, fake.rv)]
            rec = RecorderThread(config, url, fake.url).start()
            wait_until(lambda: caught_up(engine, fake, config), "the first sync")
            script.run(200)
            pgserver.stop(root)
            script.run(800)
            wait_until(
                lambda: rec.metric("gapwatch_recorder_write_errors_total") > 0, "a failed write"
            )
            assert rec.recorder.ready() == "the store is not writable"
            pgserver.start(root, port)
            wait_until(lambda: caught_up(engine, fake, config), "the recorder to catch up")
            assert rec.recorder.ready() is None
            rec.stop()
            log, noop = list(fake.log), set(script.noop)
        rows = stored_rows(engine)
        engine.dispose()
        assert len(rows) == len(set(rows))
        assert set(rows) == expected_rows(log, gaps, noop, set(kinds(config)))
    finally:
        pgserver.stop(root)
        shutil.rmtree(root, ignore_errors=True)
