"""High availability: two `gapwatch record` processes record into one Postgres at once.

Both replicas record every change; the store's dedupe key makes the same change one row. Killing
one (SIGKILL, mid-batch) loses nothing, because the other has recorded it too; a replica that
comes back resumes from the shared checkpoint. SIGTERM flushes and exits 0.
"""

from __future__ import annotations

import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from gapwatch.recorder.store import make_engine
from tests.k8s.fakeapi import FakeApiServer
from tests.k8s.harness import (
    caught_up,
    expected_rows,
    fast_config,
    kinds,
    record_process,
    stored_rows,
    wait_until,
)
from tests.k8s.mutator import Mutator
from tests.pgserver import free_port

CONFIG = {
    "cluster": "test",
    "scope": "all",
    "kinds": ["Service", "Node", "Pod", "EndpointSlice", "Event"],
    "watch": {
        "page_size": 50,
        "read_timeout_s": 0.6,
        "server_timeout_s": [3, 6],
        "connect_timeout_s": 2.0,
    },
    "spool": {"max_items": 2000, "batch_size": 500, "flush_interval_s": 0.02},
}


class Replica:
    def __init__(self, config: Path, db: str, api: str) -> None:
        self.port = free_port()
        self.log = config.parent / f"replica-{self.port}.log"
        self.proc = record_process(
            config,
            db=db,
            api=api,
            port=self.port,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-2000:]
        return self.get("/readyz")[0] == 200

    def metric(self, name: str) -> float:
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@pytest.mark.postgres
def test_two_replicas_failover_loses_and_duplicates_nothing(pg_url: str, tmp_path: Path) -> None:
    config_file = tmp_path / "record.yaml"
    config_file.write_text(yaml.safe_dump(CONFIG))
    config = fast_config()
    engine = make_engine(pg_url)
    with FakeApiServer(bookmark_interval=0.05) as fake:
        script = Mutator(fake, seed=66)
        script.seed()
        script.run(200)
        gaps = [(0, fake.rv)]
        a = Replica(config_file, pg_url, fake.url)
        b = Replica(config_file, pg_url, fake.url)
        try:
            wait_until(lambda: a.ready() and b.ready(), "both replicas ready")
            script.run(250)
            dup = "gapwatch_recorder_events_duplicate_total"
            wait_until(
                lambda: a.metric(dup) + b.metric(dup) > 0, "both replicas storing the same changes"
            )
            a.proc.send_signal(signal.SIGKILL)  # mid-stream, maybe mid-batch
            script.run(250)
            fake.drop_watches()
            script.run(300)
            wait_until(lambda: caught_up(engine, fake, config), "replica b to catch up")
            a = Replica(config_file, pg_url, fake.url)  # a comes back: resumes, dedupes
            wait_until(a.ready, "replica a ready again")
            script.run(300)
            b.proc.send_signal(signal.SIGKILL)
            script.run(300)
            wait_until(lambda: caught_up(engine, fake, config), "replica a to catch up")
            assert a.metric("gapwatch_recorder_events_recorded_total") > 0
            a.proc.send_signal(signal.SIGTERM)
            assert a.proc.wait(30) == 0
        finally:
            for replica in (a, b):
                if replica.proc.poll() is None:
                    replica.proc.kill()
                    replica.proc.wait()
        log, noop = list(fake.log), set(script.noop)
    rows = stored_rows(engine)
    engine.dispose()
    assert len(rows) == len(set(rows))
    expected = expected_rows(log, gaps, noop, set(kinds(config)))
    assert set(rows) == expected
