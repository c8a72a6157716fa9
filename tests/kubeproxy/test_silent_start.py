"""A prober whose every look times out from the start says so once (a dropped network path, such
as an egress rule narrowed to the wrong node CIDR, looks exactly like this and nothing else
warned); one node answering is enough to stay quiet. Fake kube-proxies on loopback whose health
ports `hang` (they read the request and never answer), a real store on each backend."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from sqlalchemy import Engine
from structlog.testing import capture_logs

from tests.kubeproxy.fakeproxy import FakeKubeProxies
from tests.kubeproxy.probeproc import random_loopback_base
from tests.kubeproxy.test_source import _prober, _run, _view

SILENT = "kube-proxy prober: every look has timed out since the start, none answered"


def _warnings(hang: list[str], engine: Engine) -> list[MutableMapping[str, Any]]:
    with FakeKubeProxies(2, base=random_loopback_base()) as fakes:
        for name in hang:
            fakes.set_mode(name, "hang")
        prober = _prober(engine, _view(fakes), fakes, proxy_healthz=False, timeout_s=0.8)
        with capture_logs() as logs:
            asyncio.run(_run(prober, engine, lambda: prober.looks >= 8))
    return [e for e in logs if e.get("event") == SILENT]


def test_every_look_timing_out_from_the_start_is_said_once(engine: Engine) -> None:
    said = _warnings(["node-1", "node-2"], engine)
    assert len(said) == 1, said  # once, not once per look (8 or more looked)
    assert said[0]["log_level"] == "warning"
    assert said[0]["targets"] == 2 and said[0]["nodes"] == 2
    assert "Egress" in str(said[0]["hint"])


def test_one_node_answering_keeps_it_quiet(engine: Engine) -> None:
    assert _warnings(["node-2"], engine) == []
