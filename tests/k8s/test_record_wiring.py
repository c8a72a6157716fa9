"""`gapwatch record`, run as a user runs it, derives replay's facts for what it records.

The recorder does not import replay: the `record` command gets the fact hook from the gapwatch
app's Wiring. The real console entry point runs in a subprocess against the wire-level fake
Kubernetes API (tests/k8s/fakeapi.py: a local HTTP server speaking list/watch, since no real
kube-apiserver can run here) and a SQLite store, until the Nodes, a Local Service and its
EndpointSlice are stored; after SIGTERM every stored event has exactly the facts that deriving
it again gives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from gapwatch.recorder.exporter import iter_events
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.recorder.tables import events
from gapwatch.replay.facts import derive_all
from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_record_stores_facts_for_what_it_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with FakeApiServer() as fake:
        for i in range(3):
            fake.create("Node", objects.node(i))
        service = objects.services()[0]  # a real type=LoadBalancer, eTP=Local Service
        fake.create("Service", service)
        name = service["metadata"]["name"]
        fake.create("EndpointSlice", objects.endpoint_slice("kubelb", f"{name}-x", name, "node-1"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
        env["PYTHONPATH"] = str(ROOT)
        args = ["record", "--api-server", fake.url, "--db", url, "--cluster", "c"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "gapwatch.dashboard.cli", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while _count(engine) < 5 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            stderr = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 0, stderr[-2000:]
    assert _count(engine) >= 5, stderr[-2000:]
    expected = [(f.event_id, f.seq, f.fact) for f in derive_all(iter_events(engine))]
    with engine.connect() as conn:
        stored = [
            (int(r[0]), int(r[1]), str(r[2]))
            for r in conn.execute(text("SELECT event_id, seq, fact FROM facts ORDER BY 1, 2"))
        ]
    assert {fact for _, _, fact in expected} >= {"node", "service", "slice"}
    assert stored == expected
    engine.dispose()
