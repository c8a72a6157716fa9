"""What `gapwatch record` tells an operator at start, and what it never tells anyone.

The real console entry point runs in a subprocess against the wire-level fake Kubernetes API
(tests/k8s/fakeapi.py), authenticated by a kubeconfig whose token file ends in a newline (as
`echo TOKEN > file` leaves it), into PostgreSQL through a URL with a password (trust
authentication: the server ignores it, the recorder still holds it). Its first lines name the
cluster, the store (password hidden), the listen address and the API server it watches; no log
line, stored event or checkpoint holds the password or the token.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gapwatch.recorder.store import make_engine
from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer
from tests.pgserver import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-db-password"
TOKEN = "hunter2-bearer-token"


def _kubeconfig(tmp_path: Path, server: str) -> Path:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"tokenFile": str(token)}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.postgres
def test_the_start_names_store_listen_and_api_server_and_no_secret(
    pg_url: str, tmp_path: Path
) -> None:
    url = make_url(pg_url).set(password=PASSWORD).render_as_string(hide_password=False)
    listen = f"127.0.0.1:{free_port()}"
    log = tmp_path / "stderr"
    with FakeApiServer() as fake:
        for i in range(2):
            fake.create("Node", objects.node(i))
        service = objects.services()[0]
        fake.create("Service", service)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
        env.update(
            PYTHONPATH=str(ROOT),
            GAPWATCH_DB=url,  # as deploy/ passes it: from a Secret, in the environment
            GAPWATCH_RECORD_KUBECONFIG=str(_kubeconfig(tmp_path, fake.url)),
        )
        args = ["record", "--cluster", "c", "--listen", listen]
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gapwatch.dashboard.cli", *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and proc.poll() is None:
                    if any(e["event"] == "ready" for e in _lines(log)):
                        break
                    time.sleep(0.1)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
        # the token reached the API server without its newline (client-go trims it too)
        assert fake.authorizations == {f"Bearer {TOKEN}"}
    text_logged = log.read_text()
    assert proc.returncode == 0, text_logged[-2000:]
    events = _lines(log)
    assert "ready" in [e["event"] for e in events], text_logged[-2000:]
    (starting,) = [e for e in events if e["event"] == "starting"]
    assert starting["cluster"] == "c"
    assert starting["store"] == url.replace(PASSWORD, "***")
    assert starting["listen"] == listen
    (watching,) = [e for e in events if e["event"] == "watching"]
    assert watching["api_server"] == fake.url
    assert watching["scope"] == "local-services" and "EndpointSlice" in watching["kinds"]
    assert not [e for e in events if e["level"] not in ("info", "debug")], text_logged
    for secret in (PASSWORD, TOKEN):
        assert secret not in text_logged
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM events), "
                "(SELECT string_agg(payload::text, '') FROM events), "
                "(SELECT string_agg(value::text, '') FROM source_checkpoints)"
            )
        ).one()
    engine.dispose()
    assert stored[0] >= 3  # the Nodes and the Service
    for secret in (PASSWORD, TOKEN):
        assert secret not in (stored[1] or "") + (stored[2] or "")
