"""A watch's lines cut from the pieces the connection delivers (recorder/sources/k8s/lines.py).

The wire-level test serves a WATCH from a local aiohttp server that writes one large object's
line in small pieces, flushing each, as a real API server's chunked answer arrives."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
import orjson
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from gapwatch.recorder.sources.k8s import stream as stream_mod
from gapwatch.recorder.sources.k8s.errors import K8sError
from gapwatch.recorder.sources.k8s.lines import Lines, LineTooLong
from tests.k8s.localhttp import serving


@given(
    data=st.binary(max_size=400).map(lambda b: b.replace(b"\r", b"\n")),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=30),
)
def test_any_cutting_gives_the_lines_of_the_whole(data: bytes, cuts: list[int]) -> None:
    points = sorted({c for c in cuts if c <= len(data)} | {0, len(data)})
    lines = Lines(limit=10_000)
    got: list[bytes] = []
    for start, end in itertools.pairwise(points):
        got.extend(lines.feed(data[start:end]))
    *whole, last = data.split(b"\n")
    assert got == whole
    assert lines.rest() == last


def test_a_line_past_the_limit_is_refused_before_its_newline() -> None:
    lines = Lines(limit=10)
    assert lines.feed(b"12345") == []
    assert lines.feed(b"678\nab") == [b"12345678"]
    assert lines.feed(b"cdefghij") == []
    with pytest.raises(LineTooLong, match="longer than 10 bytes"):
        lines.feed(b"k")


def _event(name: str, size: int) -> bytes:
    obj = {"metadata": {"name": name, "resourceVersion": "7"}, "data": "x" * size}
    return orjson.dumps({"type": "ADDED", "object": obj}) + b"\n"


def _watch(body: bytes, piece: int) -> list[dict[str, object]] | K8sError:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for start in range(0, len(body), piece):
            await response.write(body[start : start + piece])
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    async def run() -> list[dict[str, object]] | K8sError:
        async with serving("/api/v1/pods", handler) as api, aiohttp.ClientSession() as session:
            events = []
            try:
                async for e in stream_mod.watch_stream(
                    session, api, "/api/v1/pods", {}, connect_timeout=5, read_timeout=30
                ):
                    events.append(e)
            except K8sError as exc:
                return exc
            return events

    return asyncio.run(run())


def test_a_large_object_in_small_pieces_arrives_whole_and_in_order() -> None:
    body = _event("big", 300_000) + b"\n" + _event("small", 10) + _event("last", 5).rstrip(b"\n")
    events = _watch(body, piece=1_448)
    assert not isinstance(events, K8sError)
    names = [e["object"]["metadata"]["name"] for e in events]  # type: ignore[index]
    assert names == ["big", "small", "last"]
    assert len(events[0]["object"]["data"]) == 300_000  # type: ignore[index]


def test_a_line_past_the_limit_ends_the_watch_with_a_k8s_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream_mod, "MAX_LINE", 50_000)
    result = _watch(_event("small", 10) + _event("big", 80_000), piece=4_096)
    assert isinstance(result, K8sError)
    assert "WATCH /api/v1/pods: a line longer than 50000 bytes" in str(result)
