"""A LIST page's answer is bounded after decompression (session 34's gzip bomb).

Real HTTP: a local aiohttp server stands in for the API server at the wire level, answering
one LIST with `Content-Encoding: gzip` whose decoded body is about 1,000x its size on the wire
(a long run of one byte inside a valid `...List`, as a hostile proxy or API server could send).
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gapwatch.recorder.sources.k8s import stream as stream_mod
from gapwatch.recorder.sources.k8s.errors import K8sError
from tests.k8s.localhttp import serving


def _list(body: bytes, status: int = 200) -> dict[str, Any] | K8sError:
    wire = gzip.compress(body, 9)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=wire,
            status=status,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    async def run() -> dict[str, Any] | K8sError:
        async with serving("/api/v1/pods", handler) as api, aiohttp.ClientSession() as session:
            try:
                return await stream_mod.list_page(
                    session, api, "/api/v1/pods", {"limit": "500"}, timeout=60
                )
            except K8sError as exc:
                return exc

    return asyncio.run(run())


def _bomb(size: int) -> bytes:
    return (
        b'{"kind":"PodList","metadata":{"resourceVersion":"9"},"items":[],"x":"'
        + (b"a" * size)
        + b'"}'
    )


def test_a_list_answer_past_the_limit_is_refused_naming_the_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # raising=False: on a recorder without the limit the name is set and unused, and the
    # bomb's 16 MiB (16 KB on the wire) is read whole and answered as a page.
    monkeypatch.setattr(stream_mod, "MAX_LIST_BODY", 4 * 1024 * 1024, raising=False)
    result = _list(_bomb(16 * 1024 * 1024))
    assert isinstance(result, K8sError), "a 16 MiB answer was read whole past a 4 MiB limit"
    assert "LIST /api/v1/pods: an answer longer than 4194304 bytes" in str(result)


def test_a_list_answer_under_the_limit_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_mod, "MAX_LIST_BODY", 4 * 1024 * 1024, raising=False)
    result = _list(_bomb(3 * 1024 * 1024))
    assert not isinstance(result, K8sError)
    assert result["metadata"]["resourceVersion"] == "9"
    assert len(result["x"]) == 3 * 1024 * 1024


def test_an_error_answer_is_read_only_as_far_as_its_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = b'{"kind":"Status","code":403,"message":"forbidden","x":"' + b"a" * 8_000_000 + b'"}'
    result = _list(body, status=403)
    assert isinstance(result, K8sError)
    assert result.status == 403
    assert "HTTP 403" in str(result)
