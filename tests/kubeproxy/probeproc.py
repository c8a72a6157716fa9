"""A real `gapwatch probe` subprocess against FakeKubeProxies; reads its --json lines live."""

from __future__ import annotations

import os
import queue
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from tests.kubeproxy.fakeproxy import FakeKubeProxies

GAPWATCH = str(Path(sys.executable).with_name("gapwatch"))


def random_loopback_base() -> str:
    """127.X.Y. with X, Y random: concurrent test sessions do not share fake nodes."""
    return f"127.{random.randint(10, 250)}.{random.randint(10, 250)}."


def db_upgrade(db: str) -> None:
    subprocess.run([GAPWATCH, "db", "upgrade", "--db", db], check=True, capture_output=True)


class ProbeProcess:
    """`gapwatch probe --json` for every fake node; `lines` collects its stdout."""

    def __init__(self, fakes: FakeKubeProxies, db: str, *extra: str) -> None:
        args = [
            GAPWATCH, "probe", "--service", "default/nginx", "--db", db, "--json",
            "--health-check-node-port", str(fakes.health_port),
            "--healthz-port", str(fakes.healthz_port), *extra,
        ]  # fmt: skip
        for node in fakes.nodes:
            args += ["--node", f"{node.name}={node.address}"]
        env = dict(os.environ, GAPWATCH_CLUSTER="probe-test")
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(orjson.loads(line))

    def wait_for(self, count: int, kind: str = "ProxyHealth", timeout: float = 60) -> None:
        """Until `count` observations of `kind` were printed (the prober is looking)."""
        deadline = time.monotonic() + timeout
        while sum(1 for o in self.seen if o["kind"] == kind) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {kind} lines from gapwatch probe: {self.seen}"
            try:
                self.seen.append(self.lines.get(timeout=remaining))
            except queue.Empty:
                continue

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()
