"""A CLI that starts fast: `--help` and the recorder process load none of the heavy modules.

`python -X importtime` lists every module a process imports; `gapwatch --help` and
`gapwatch record --help` must import no dashboard, data-frame or plotting library, no cloud SDK,
no simulator beyond its CLI module and preset names, and no replay engine beyond its CLI module.
The recorder itself runs against the fake Kubernetes API (tests/k8s/fakeapi.py, an HTTP server)
and, with GAPWATCH_DEBUG_MODULES, writes the modules it loaded when SIGTERM stops it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from tests.k8s import objects
from tests.k8s.fakeapi import FakeApiServer
from tests.k8s.harness import wait_until
from tests.pgserver import free_port

#: What the `gapwatch` console script runs.
CONSOLE_SCRIPT = (
    "import sys; sys.argv[0] = 'gapwatch'; from gapwatch.dashboard.cli import main; main()"
)
HEAVY = ("streamlit", "plotly", "pandas", "pyarrow", "numpy", "boto3", "botocore")
#: Packages whose CLI module (and the simulator's preset names) may load, but nothing else.
ENGINES = {
    "gapwatch.recorder.sim": {"gapwatch.recorder.sim.cli", "gapwatch.recorder.sim.presets"},
    "gapwatch.replay": {
        "gapwatch.replay.cli",
        "gapwatch.replay.assume_cli",
        "gapwatch.replay.whatif_cli",
    },
}


#: What the recorder process may load of replay besides: the writer's derive hook (replay's read
#: model, plain SQLAlchemy) that the composition root hands it, with the pure helpers it derives
#: with (its extractors and payload readers, objects' write times, target-group settings, the pod
#: states the Pod fact names); never the fold or detection.
READ_MODEL = frozenset(
    {
        "gapwatch.replay.facts",
        "gapwatch.replay.facts_k8s",
        "gapwatch.replay.facts_nodehealth",
        "gapwatch.replay.facts_probes",
        "gapwatch.replay.payload",
        "gapwatch.replay.podstate",
        "gapwatch.replay.tables",
        "gapwatch.replay.owntime",
        "gapwatch.replay.tgsettings",
    }
)


def forbidden(modules: set[str], also: frozenset[str] = frozenset()) -> list[str]:
    """The heavy modules (and engine modules) in `modules`, `also` allowed besides."""
    bad = [m for m in modules if m.split(".")[0] in HEAVY]
    for package, allowed in ENGINES.items():
        bad += [
            m for m in modules if m.startswith(package + ".") and m not in allowed and m not in also
        ]
    return sorted(bad)


def imported(*args: str, cwd: Path) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CONSOLE_SCRIPT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    names = {line.rsplit("|", 1)[1].strip() for line in lines[1:]}
    assert "gapwatch.dashboard.cli" in names  # the measurement saw our modules
    return names


def test_the_check_catches_heavy_modules() -> None:
    assert forbidden({"numpy.core", "gapwatch.replay.fold", "gapwatch.recorder.sim.world"}) == [
        "gapwatch.recorder.sim.world",
        "gapwatch.replay.fold",
        "numpy.core",
    ]
    assert forbidden({"gapwatch.replay", "gapwatch.replay.cli", "typer"}) == []


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    for args in (["--help"], ["record", "--help"]):
        names = imported(*args, cwd=tmp_path)
        assert forbidden(names) == [], args
        # Nor the store's or the sources' libraries: each command imports them when it runs.
        assert not {"sqlalchemy", "alembic", "aiohttp", "kubernetes"} & names, args


def test_the_recorder_process_loads_no_heavy_module(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade = subprocess.run(
        [sys.executable, "-m", "gapwatch.dashboard.cli", "db", "upgrade", "--db", db],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    config = tmp_path / "record.yaml"
    config.write_text(yaml.safe_dump({"cluster": "test", "sources": {"k8s": {"scope": "all"}}}))
    dump = tmp_path / "modules.txt"
    port = free_port()
    with FakeApiServer(bookmark_interval=0.05) as fake:
        fake.create("Node", objects.node(1))
        env = {**os.environ, "GAPWATCH_DEBUG_MODULES": str(dump)}
        command = [sys.executable, "-m", "gapwatch.dashboard.cli", "record"]
        command += ["--config", str(config), "--db", db, "--api-server", fake.url]
        command += ["--listen", f"127.0.0.1:{port}"]
        log = (tmp_path / "record.log").open("wb")
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=log)
        try:
            wait_until(lambda: _ready(port, proc), "the recorder to be ready")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
            log.close()
    assert code == 0, (tmp_path / "record.log").read_text()[-2000:]
    names = set(dump.read_text().split())
    assert {"gapwatch.recorder.run", "gapwatch.recorder.sources.k8s.source"} <= names
    assert forbidden(names, READ_MODEL) == []


def _ready(port: int, proc: subprocess.Popen[bytes]) -> bool:
    assert proc.poll() is None, "the recorder exited"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_the_dashboards_modules_load_no_postgresql_driver(tmp_path: Path) -> None:
    """On a SQLite store nothing needs psycopg; `recorder.projector` (and `quarantine`, and
    replay's COPY reader) imported it at their tops for exception tuples: ~0.9 s of the
    dashboard's cold start under load (benchmarks/README.md, session 32). They name psycopg's
    exceptions once something else has loaded it (none of them can exist before)."""
    code = (
        "import sys, gapwatch.dashboard.cache, gapwatch.dashboard.nav, gapwatch.dashboard.filters"
        ", gapwatch.replay.api, gapwatch.recorder.projector\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_replay_on_sqlite_loads_no_arrow(tmp_path: Path) -> None:
    """numpy and pyarrow serve only PostgreSQL's COPY read (replay.copyfold): a replay command
    on a SQLite store folds and detects without them (about 0.18 s of CPU a process to import,
    benchmarks/README.md "Session 37: CI's time"). The store holds a simulated rollout, so the
    fold and detection run and the windows are printed."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    for args in (["db", "upgrade"], ["simulate", "-s", "seed-3node", "--seed", "3"]):
        done = subprocess.run(
            [sys.executable, "-m", "gapwatch.dashboard.cli", *args, "--db", db],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CONSOLE_SCRIPT, "gaps", "--db", db],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "registered-before-fwd" in result.stdout  # the seed's windows, detected
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    names = {line.rsplit("|", 1)[1].strip() for line in lines}
    assert {"gapwatch.replay.load", "gapwatch.replay.detect"} <= names
    assert not {n for n in names if n.split(".")[0] in ("numpy", "pyarrow")}
    assert "gapwatch.replay.copyfold" not in names
