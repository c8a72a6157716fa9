"""The LB sources as the recorder builds them: REGISTRY keys, settings checks, the push source
running inside an event loop, and `gapwatch poll`/`receive` staying light to import."""

from __future__ import annotations

import asyncio
import importlib
import json
import random
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sources import REGISTRY
from gapwatch.recorder.sources.base import Source, SourceContext
from gapwatch.recorder.sources.lb.poller import PollerSource
from gapwatch.recorder.sources.view import ClusterView
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.replay.facts import write_facts
from tests.lb.harness import gapwatch, now
from tests.lb.test_push import TOKEN, line

VALID: dict[str, dict[str, Any]] = {
    "elbv2": {"region": "eu-west-1", "target_groups": [{"arn": "arn:aws:x", "service": "a/b"}]},
    "alibaba-slb": {"region": "cn-hangzhou", "load_balancer_id": "lb-1", "vserver_group_id": "r"},
    "tencent-clb": {"region": "ap-guangzhou", "load_balancer_id": "lb-1", "interval_s": 10},
    "huawei-elb": {"region": "cn-north-4", "pool_id": "p-1", "service": "istio-system/igw"},
}


def build(
    key: str,
    settings: Mapping[str, Any],
    engine: Engine | None = None,
    registry: CollectorRegistry | None = None,
) -> Source:
    module, _, function = REGISTRY[key].partition(":")
    builder = getattr(importlib.import_module(module), function)
    ctx = SourceContext(
        cluster="c1",
        engine=engine or make_engine("sqlite://"),
        clock=now,
        rng=random.Random(7),
        registry=registry if registry is not None else CollectorRegistry(),
        view=ClusterView(),
        derive=write_facts,
    )
    source: Source = builder(ctx, settings)
    return source


@pytest.mark.parametrize("key", sorted(VALID))
def test_every_poller_key_builds_a_source_with_its_settings(key: str) -> None:
    source = build(key, VALID[key])
    assert isinstance(source, PollerSource) and source.name == key
    assert source.ready() == "no look yet"
    expected = VALID[key].get("interval_s", 5.0)
    assert source.settings.interval_s == expected and source.next_delay() == expected


@pytest.mark.parametrize(
    ("key", "settings", "message"),
    [
        ("alibaba-slb", {"region": "cn-hangzhou", "load_balancer_id": "lb-1"}, "vserver_group_id"),
        (
            "tencent-clb",
            {"load_balancer_id": "lb-1", "region": "r", "secret_key": "x"},
            "unknown key",
        ),
        ("huawei-elb", {"pool_id": "p"}, "region or endpoint"),
        ("huawei-elb", {"pool_id": "p", "region": "r", "interval_s": 0}, "interval_s"),
        ("huawei-elb", {"pool_id": "p", "region": "r", "service": "no-slash"}, "NAMESPACE/NAME"),
        ("push", {"listen": "localhost"}, "HOST:PORT"),
        ("push", {"listen": "127.0.0.1:0", "max_lines": -1}, "max_lines"),
        ("push", {"listen": "127.0.0.1:0", "read_timeout_s": 0}, "read_timeout_s"),
        ("push", {"listen": "127.0.0.1:0", "read_timeout_s": "30"}, "read_timeout_s"),
        ("push", {"listen": "127.0.0.1:0", "max_connections": 0}, "max_connections"),
    ],
)
def test_bad_settings_name_the_source_and_key(
    key: str, settings: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPWATCH_PUSH_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match=message):
        build(key, settings)


def test_a_short_or_missing_push_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GAPWATCH_PUSH_TOKEN", raising=False)
    # none at all is not "too short" (it once said `GAPWATCH_PUSH_TOKEN: ... at least 16`)
    with pytest.raises(ConfigError, match="no push token: set GAPWATCH_PUSH_TOKEN, or name"):
        build("push", {"listen": "127.0.0.1:0"})
    monkeypatch.setenv("GAPWATCH_PUSH_TOKEN", "short")
    with pytest.raises(ConfigError, match="at least 16"):
        build("push", {"listen": "127.0.0.1:0"})


def test_the_push_source_serves_inside_the_recorders_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'push.db'}")
    upgrade(engine)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = CollectorRegistry()  # the recorder's: its /metrics shows the push counters too
    settings = {"listen": f"127.0.0.1:{port}", "token_file": str(token_file)}
    source = build("push", settings, engine, registry)
    body = b"".join(orjson.dumps(line(i)) + b"\n" for i in range(3))

    async def scenario() -> tuple[int, Any]:
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(None, stop))  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{port}/v1/observations"
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/livez") as live:
                        if live.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with http.post(url, data=body, headers=headers) as answer:
                result = answer.status, await answer.json()
        stop.set()
        await task
        return result

    status, answer = asyncio.run(scenario())
    engine.dispose()
    assert (status, answer) == (200, {"received": 3, "stored": 3, "duplicates": 0})
    assert source.ready() is None
    assert registry.get_sample_value("gapwatch_push_observations_stored_total") == 3
    assert registry.get_sample_value("gapwatch_push_requests_total", {"code": "200"}) == 1


def test_poll_and_receive_load_no_sdk_until_run() -> None:
    code = (
        "import sys, json\n"
        "from gapwatch.recorder.sources.lb import cli\n"
        "heavy = ('boto3', 'botocore', 'aiohttp', 'alibabacloud_slb20140515', 'tencentcloud',\n"
        "         'huaweicloudsdkelb', 'moto', 'pandas', 'numpy')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize(
    "path",
    [
        ["poll"],
        ["poll", "elbv2"],
        ["poll", "slb"],
        ["poll", "clb"],
        ["poll", "huawei-elb"],
        ["receive"],
    ],
)
def test_poll_and_receive_explain_themselves(path: list[str]) -> None:
    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app

    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    if path == ["poll"]:
        assert "Credentials" in result.output and "huawei-elb" in result.output
    else:
        assert "--db" in result.output


def test_poll_without_a_target_group_is_a_usage_error() -> None:
    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app

    result = CliRunner().invoke(app, ["poll", "elbv2", "--db", "sqlite://"])
    assert result.exit_code == 2 and "--from-bindings" in result.output


def test_poll_that_never_reaches_the_api_fails_with_one_line(tmp_path: Path) -> None:
    """boto3 against a closed local port: every look fails, the command exits 1 and says why."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(make_engine(url))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    done = gapwatch(
        "poll",
        "elbv2",
        "--target-group",
        "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/x/1",
        "--region",
        "eu-west-1",
        "--endpoint-url",
        f"http://127.0.0.1:{closed}",
        "--duration",
        "1",
        "--db",
        url,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: elbv2: no successful look:") and "Could not connect" in last
    assert "testing-secret" not in done.stderr  # the credentials never reach a log


def test_a_recorder_without_kubernetes_source_maps_targets_with_the_stores_nodes(
    tmp_path: Path,
) -> None:
    """Built from REGISTRY with an empty ClusterView, the poller reads the Nodes in the store."""
    import dataclasses

    from gapwatch.recorder.exporter import iter_events
    from gapwatch.recorder.writer import EventWriter
    from tests.lb.fakecloud import FakeCloud, fixture
    from tests.lb.harness import look
    from tests.replay import builders as b

    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(engine)
    node = b.node(0, "cce-1")
    status = dict(
        node.payload["status"], addresses=[{"type": "InternalIP", "address": "120.10.10.2"}]
    )
    payload = dict(node.payload, status=status)
    EventWriter(engine, derive=write_facts).write(
        [dataclasses.replace(node, cluster="c1", payload=payload)]
    )
    with FakeCloud() as fake:
        fake.answer("ListMembers", fixture("otc-huawei-elb-v3-list-members-response.json"))
        source = build("huawei-elb", {"pool_id": "p", "endpoint": fake.url}, engine)
        assert isinstance(source, PollerSource)
        look(source, engine)
    nodes = [o.node for _id, o in iter_events(engine, cluster="c1") if o.kind == "TargetHealth"]
    engine.dispose()
    assert nodes == ["cce-1", "cce-1", None]


def test_the_push_source_cuts_off_a_stalled_client_at_its_read_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside the recorder's process: a client that never ends its headers is closed after
    `read_timeout_s`, not held with one of the recorder's file descriptors for as long as it
    likes."""
    monkeypatch.setenv("GAPWATCH_PUSH_TOKEN", TOKEN)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = {"listen": f"127.0.0.1:{port}", "read_timeout_s": 1}
    source = build("push", settings, make_engine(f"sqlite:///{tmp_path / 'push.db'}"))

    async def scenario() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(None, stop))  # type: ignore[arg-type]
        while source.ready() is not None:
            await asyncio.sleep(0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /v1/observations HTTP/1.1\r\nHost: x\r\n")
        started = asyncio.get_running_loop().time()
        said = await asyncio.wait_for(reader.read(), 10)
        waited = asyncio.get_running_loop().time() - started
        writer.close()
        stop.set()
        await task
        assert said == b""
        return waited

    assert asyncio.run(scenario()) < 4
