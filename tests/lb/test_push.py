"""The push API through a real HTTP client against a real `gapwatch receive` process and store."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.lb.push import load_token, make_app, parse_body
from gapwatch.recorder.sources.lb.pushhealth import PushMetrics, StoreCheck, add_health
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.tables import events

TOKEN = "s3cr3t-push-token-0123456789abcdef"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@dataclass
class Receiver:
    url: str
    proc: subprocess.Popen[str]

    def post(self, body: bytes, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/x-ndjson"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def get(self, path: str) -> tuple[int, str]:
        url = self.url.replace("/v1/observations", path)
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def _wait_listening(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"gapwatch receive exited: {proc.wait()}")
        if "push API listening" in line:
            return str(json.loads(line)["addresses"][0])
    raise AssertionError("gapwatch receive did not start listening")


@pytest.fixture
def receiver(store_url: str, tmp_path: Path) -> Iterator[Receiver]:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    env = {k: v for k, v in os.environ.items() if k != "GAPWATCH_PUSH_TOKEN"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gapwatch.dashboard.cli",
            "receive",
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            str(token_file),
            "--db",
            store_url,
            "--max-body-bytes",
            "20000",
            "--max-lines",
            "20",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        address = _wait_listening(proc)
        yield Receiver(f"http://{address}/v1/observations", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def line(i: int, state: str = "healthy") -> dict[str, Any]:
    """One TargetHealth as a GCP or MetalLB script would push it."""
    return Observation(
        observed_at=T0 + timedelta(seconds=i),
        previous_observed_at=T0 + timedelta(seconds=i - 1),
        cluster="gke-prod",
        source="lb-push",
        kind="TargetHealth",
        op="MODIFIED",
        namespace="istio-system",
        name="istio-ingressgateway",
        node=f"gke-node-{i % 3}",
        payload={
            "Target": {"Id": f"gke-node-{i % 3}", "Port": 32999},
            "HealthCheckPort": "31805",
            "TargetHealth": {"State": state},
            "TargetGroupArn": "projects/p/regions/r/backendServices/igw",
        },
    ).to_dict()


def ndjson(items: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(i) + b"\n" for i in items)


def stored_count(store_url: str) -> int:
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())
    finally:
        engine.dispose()


def test_rejected_requests_store_nothing_and_a_valid_body_is_stored_once(
    receiver: Receiver, store_url: str
) -> None:
    good = ndjson([line(i) for i in range(1, 6)])
    assert receiver.post(good, token=None)[0] == 401
    assert receiver.post(good, token="wrong-token-of-the-same-size-xxxxx")[0] == 401
    status, answer = receiver.post(good + b" " * 20_000)
    assert status == 413 and "20000" in answer["error"]
    assert receiver.post(ndjson([line(i) for i in range(1, 22)]))[0] == 413  # 21 lines > 20

    bad = [line(1), line(2), dict(line(3), op="UPSERTED"), line(4)]
    del bad[1]["cluster"]
    body = ndjson(bad) + b"{not json\n"
    status, answer = receiver.post(body)
    assert status == 400
    assert [item["line"] for item in answer["lines"]] == [2, 3, 5]
    reasons = {item["line"]: item["reason"] for item in answer["lines"]}
    assert "cluster" in reasons[2] and "op" in reasons[3] and "not JSON" in reasons[5]
    assert stored_count(store_url) == 0  # nothing from any rejected request

    assert receiver.post(good) == (200, {"received": 5, "stored": 5, "duplicates": 0})
    assert receiver.post(good) == (200, {"received": 5, "stored": 0, "duplicates": 5})
    overlap = ndjson([line(i) for i in range(4, 9)])
    assert receiver.post(overlap) == (200, {"received": 5, "stored": 3, "duplicates": 2})
    assert stored_count(store_url) == 8


def test_a_body_saved_with_a_byte_order_mark_is_stored_whole(
    receiver: Receiver, store_url: str
) -> None:
    """A BOM (a file a Windows tool saved, sent as it is) failed the whole request: 400, `line
    1: not JSON: UTF-8 byte order mark (BOM) is not supported`, nothing stored."""
    body = b"\xef\xbb\xbf" + ndjson([line(1), line(2)]).replace(b"\n", b"\r\n")
    assert receiver.post(body) == (200, {"received": 2, "stored": 2, "duplicates": 0})
    assert stored_count(store_url) == 2


def test_parse_body_names_lines_as_numbered_in_the_body() -> None:
    body = b"\n" + ndjson([line(1)]) + b"\n\n" + b'{"kind": "TargetHealth"}\n'
    good, bad = parse_body(body, max_lines=10)
    assert len(good) == 1 and [b.line for b in bad] == [5]
    assert "missing required field" in bad[0].reason
    with pytest.raises(ValueError, match="more than 1 lines"):
        parse_body(ndjson([line(1), line(2)]), max_lines=1)


def test_refused_requests_are_logged_without_the_token(receiver: Receiver) -> None:
    """Each request that stored nothing is a warning on the receiver's side (status, why, the
    first bad line, the peer); the token sent, right or wrong, is in no line."""
    good = ndjson([line(i) for i in range(1, 3)])
    wrong = "wrong-token-of-the-same-size-xxxxx"
    assert receiver.post(good, token=wrong)[0] == 401
    assert receiver.post(good + b" " * 20_000)[0] == 413
    assert receiver.post(ndjson([dict(line(1), op="UPSERTED")]))[0] == 400
    assert receiver.post(good)[0] == 200
    receiver.proc.send_signal(signal.SIGTERM)
    assert receiver.proc.stderr is not None
    said = receiver.proc.stderr.read()
    refused = [e for e in map(json.loads, said.splitlines()) if e["event"] == "push refused"]
    assert [(e["status"], e["level"]) for e in refused] == [
        (401, "warning"),
        (413, "warning"),
        (400, "warning"),
    ]
    assert refused[2]["first_line"] == 1 and "op" in refused[2]["first_reason"]
    assert refused[0]["peer"] == "127.0.0.1"
    assert wrong not in said and TOKEN not in said


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_receive_serves_readyz_and_metrics_and_says_stopped(receiver: Receiver) -> None:
    """`gapwatch receive` alone has the recorder's /readyz and /metrics (prometheus-client) and
    ends with a `stopped` line that says what it did."""
    assert receiver.get("/readyz") == (200, "ok")
    good = ndjson([line(i) for i in range(1, 6)])
    assert receiver.post(good)[0] == 200
    assert receiver.post(good)[0] == 200  # a retry: all duplicates
    assert receiver.post(good, token="wrong-token-of-the-same-size-xxxxx")[0] == 401
    status, text = receiver.get("/metrics")
    assert status == 200
    samples = _samples(text)
    assert samples[("gapwatch_push_requests_total", (("code", "200"),))] == 2
    assert samples[("gapwatch_push_requests_total", (("code", "401"),))] == 1
    assert samples[("gapwatch_push_observations_stored_total", ())] == 5
    assert samples[("gapwatch_push_observations_duplicate_total", ())] == 5
    assert samples[("gapwatch_push_write_errors_total", ())] == 0
    receiver.proc.send_signal(signal.SIGTERM)
    assert receiver.proc.stderr is not None
    said = [json.loads(x) for x in receiver.proc.stderr.read().splitlines()]
    (stopped,) = [e for e in said if e["event"] == "stopped"]
    assert stopped["requests"] == 3 and stopped["answered"] == {"200": 2, "401": 1}
    assert stopped["stored"] == 5 and stopped["duplicates"] == 5


def test_readyz_is_503_while_the_store_does_not_answer_and_ready_again_after(
    tmp_path: Path,
) -> None:
    """Not ready while the store fails (a probe takes the receiver out of its Service), and ready
    again once it answers, with no push needed (none reaches a pod out of its Service)."""
    folder = tmp_path / "not-yet"
    engine = make_engine(f"sqlite:///{folder / 'store.db'}")  # its folder missing: cannot open
    metrics = PushMetrics()
    app, _handler = make_app(engine, TOKEN, derive=lambda _conn, _rows: None, metrics=metrics)
    add_health(app, metrics, StoreCheck(engine))

    async def probe() -> list[tuple[int, str]]:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        answers = []
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(2):
                    async with session.get(f"http://{host}:{port}/readyz") as answer:
                        answers.append((answer.status, await answer.text()))
                    folder.mkdir(exist_ok=True)
        finally:
            await runner.cleanup()
        return answers

    try:
        (down, back) = asyncio.run(probe())
    finally:
        engine.dispose()
    assert down[0] == 503 and "the event store does not answer" in down[1]
    assert back == (200, "ok")


def test_a_token_file_of_two_lines_is_refused_at_start(tmp_path: Path) -> None:
    """The token file was documented as read by its first line but read whole: a second line
    made a token no Authorization header can carry, and every push got 401. Now refused at
    start, naming the file and never printing the token."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\nsecond-line\n")
    with pytest.raises(ConfigError) as caught:
        load_token(token_file, env={})
    assert str(token_file) in str(caught.value) and "more than one line" in str(caught.value)
    assert TOKEN not in str(caught.value)
    token_file.write_text(TOKEN + "\n")  # one line and its newline: fine
    assert load_token(token_file, env={}) == TOKEN
