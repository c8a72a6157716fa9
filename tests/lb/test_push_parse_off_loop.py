"""A push's body is parsed off the event loop (session 37's review).

A line that breaks the schema costs jsonschema's whole error walk, 140-260 us of CPU against 13
for a good one: 10,000 such lines (30 KB of `{}`) held the receiver's event loop 13 s at load
21, and a 3.25 MB body of them 30 s, during which nothing else the process serves was answered:
`gapwatch receive`'s /livez, and as the recorder's `push` source its watches and its own
/livez (a kubelet's liveness probe restarts it after 3 failures). Real HTTP against the push
application served by aiohttp in the test's loop.
"""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import Engine

from gapwatch.recorder.sources.lb import push
from gapwatch.recorder.sources.lb.push import make_app
from tests.lb.test_push import TOKEN

#: A hang guard on the /livez asked for during the parse, not a timing: on main it could never
#: be answered, the loop that would answer it being the one parsing.
GUARD_S = 30


def test_the_push_api_answers_other_requests_while_it_parses_a_body(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a body is parsed (the real `parse_body`, wrapped so as to ask for /livez over
    HTTP in the middle of it), the server answers that /livez: on main the parse ran in the
    event loop, which could answer nothing until it ended."""
    real = push.parse_body
    livez: list[str] = []
    url: list[str] = []

    def parse_asking_for_livez(body: bytes, max_lines: int) -> Any:
        try:
            with urllib.request.urlopen(url[0] + "/livez", timeout=GUARD_S) as answer:
                livez.append(answer.read().decode())
        except OSError as exc:  # the guard ran out: the loop never answered
            livez.append(f"not answered: {exc}")
        return real(body, max_lines)

    monkeypatch.setattr(push, "parse_body", parse_asking_for_livez)
    app, _handler = make_app(engine, TOKEN, derive=lambda _conn, _rows: None)

    async def exchange() -> int:
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        url.append(f"http://{host}:{port}")
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    url[0] + push.PATH,
                    data=b"{}\n" * 100,
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ) as answer,
            ):
                await answer.read()
                return answer.status
        finally:
            await runner.cleanup()

    assert asyncio.run(exchange()) == 400  # every line breaks the schema
    assert livez == ["ok\n"], livez
