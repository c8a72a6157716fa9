"""A real `gapwatch record` process against the fake API (tests/k8s/fakeapi.py: the Kubernetes
API faked at the HTTP level, as no API server can run here) meets hostile objects:

- a Service annotation holding NUL (PostgreSQL refuses it): stored escaped, recording goes on;
- a Pod whose container env holds a plaintext password, whose container args and init container
  command hold secrets, and an annotation holding a token under a configured redact path: none
  reaches anything the recorder writes (the preStop hook's command, which replay reads, is kept).
  Everything is grepped: its log (stderr and stdout), its /metrics, every table of the store, and
  the store errors it prints for a database URL whose password it was given in both odd forms.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from urllib.parse import quote

import orjson
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from gapwatch.recorder.sources.k8s.redaction import REDACTED
from gapwatch.recorder.storable import ESC
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import events, metadata
from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer
from tests.k8s.harness import wait_until

ROOT = Path(__file__).resolve().parents[2]
DB_PASSWORD = "PLANTED-db-p@ss/word"
ENV_SECRET = "PLANTED-env-secret-value"
TOKEN = "PLANTED-annotation-token"
ARG_SECRET = "PLANTED-arg-secret"
COMMAND_SECRET = "PLANTED-command-secret"
PLANTED = ("PLANTED", DB_PASSWORD, ENV_SECRET, TOKEN, ARG_SECRET, COMMAND_SECRET)
#: The preStop hook's command, which replay reads: stored as it is.
PRESTOP = ["/bin/sleep", "17"]


def _with_password(store_url: str) -> str:
    """The store URL carrying a password (the test servers trust local logins and ignore it)."""
    if store_url.startswith("sqlite"):
        return f"{store_url}?password={DB_PASSWORD}"
    parsed = make_url(store_url)
    secret = quote(DB_PASSWORD, safe="")
    return f"postgresql://{parsed.username}:{secret}@{parsed.host}:{parsed.port}/{parsed.database}"


def _pod() -> dict[str, object]:
    pod = objects.pod("shop", "web-1", "node-1", {"app": "web"})
    pod["spec"]["containers"][0]["env"] = [
        {"name": "DB_PASSWORD", "value": ENV_SECRET},
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "api", "key": "k"}}},
    ]
    pod["spec"]["containers"][0]["args"] = [f"--password={ARG_SECRET}", "--token", ARG_SECRET]
    pod["spec"]["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": PRESTOP}}}
    pod["spec"]["initContainers"] = [
        {"name": "init", "image": "init:1", "command": ["sh", "-c", f"login {COMMAND_SECRET}"]}
    ]
    pod["metadata"]["annotations"] = {"example.com/token": TOKEN}
    return pod


def _dump_store(engine: Engine) -> str:
    chunks: list[str] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            chunks.extend(repr(tuple(r)) for r in conn.execute(select(table)))
    return "\n".join(chunks)


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def test_hostile_objects_are_recorded_and_no_secret_leaks(store_url: str, tmp_path: Path) -> None:
    engine = make_engine(store_url)
    config = tmp_path / "record.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            cluster: hostile
            scope: all
            kinds: [Service, Pod]
            listen: 127.0.0.1:0
            redact_paths: ["/metadata/annotations/example.com~1token"]
            spool: {batch_size: 50, flush_interval_s: 0.02}
            """
        )
    )
    with FakeApiServer(bookmark_interval=0.05) as fake:
        nul = objects.services()[0]
        nul["metadata"].setdefault("annotations", {})["evil"] = "before\x00after"
        fake.create("Service", nul)
        fake.create("Pod", _pod())
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "GAPWATCH_DB": _with_password(store_url),
            "GAPWATCH_RECORD_API_SERVER": fake.url,
            "GAPWATCH_LOG_LEVEL": "DEBUG",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "gapwatch.dashboard.cli", "record", "--config", str(config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until(lambda: _count(engine) >= 2, "the first two objects")
            later = objects.services()[1]
            fake.create("Service", later)  # recording goes on after the NUL
            wait_until(lambda: _count(engine) >= 3, "the object after the NUL")
            port = _port(engine, proc)
            assert port is not None, "the recorder's HTTP port"
            metrics = _metrics(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    stored = _dump_store(engine)
    with engine.connect() as conn:
        payloads = conn.execute(select(events.c.payload).where(events.c.kind == "Service"))
        annotations = [
            (orjson.loads(p) if isinstance(p, str) else p)["metadata"].get("annotations", {})
            for (p,) in payloads
        ]
        quarantined = conn.execute(text("SELECT count(*) FROM quarantine")).scalar_one()
        [pod] = [
            orjson.loads(p) if isinstance(p, str) else p
            for (p,) in conn.execute(select(events.c.payload).where(events.c.kind == "Pod"))
        ]
    engine.dispose()
    assert {"evil": f"before{ESC}0after"}.items() <= annotations[0].items()
    assert quarantined == 0
    # the env entry kept its name and valueFrom; its value and the token are gone everywhere
    assert '"DB_PASSWORD"' in stored or "DB_PASSWORD" in stored
    assert "secretKeyRef" in stored
    # args and command keep their length, every item redacted; the preStop hook is kept
    [container] = pod["spec"]["containers"]
    assert container["args"] == [REDACTED] * 3
    assert container["lifecycle"]["preStop"]["exec"]["command"] == PRESTOP
    assert pod["spec"]["initContainers"][0]["command"] == [REDACTED] * 3
    everything = "\n".join([stored, metrics, out.decode(), err.decode()])
    assert "gapwatch_recorder_quarantined_total 0.0" in metrics
    for secret in PLANTED:
        assert secret not in everything, f"{secret!r} leaked"


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())


def _port(engine: Engine, proc: subprocess.Popen[bytes]) -> int | None:
    """The recorder listens on an ephemeral port; find it from /proc (Linux) or give up."""
    try:
        inodes = {
            os.readlink(f"/proc/{proc.pid}/fd/{fd}")[8:-1]
            for fd in os.listdir(f"/proc/{proc.pid}/fd")
            if os.readlink(f"/proc/{proc.pid}/fd/{fd}").startswith("socket:")
        }
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes and fields[1].startswith("0100007F"):
                return int(fields[1].split(":")[1], 16)
    except OSError:
        return None
    return None


def test_store_errors_never_print_the_password() -> None:
    """Unreachable stores, with the password in each form people write it."""
    urls = [
        f"postgresql://gw:{DB_PASSWORD}@127.0.0.1:1/x",  # unencoded '@' and '/'
        f"postgresql://gw@127.0.0.1:1/x?password={TOKEN}&sslmode=disable",
        f"postgresql://gw:{quote(DB_PASSWORD, safe='')}@127.0.0.1:1/x",
    ]
    for url in urls:
        result = subprocess.run(
            [sys.executable, "-m", "gapwatch.dashboard.cli", "db", "upgrade", "--db", url],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "PLANTED" not in result.stdout + result.stderr, result.stderr
