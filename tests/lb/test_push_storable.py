"""The push API refuses what the store cannot keep, as `gapwatch import events` does.

Session 29's security review: the importer refused a payload nested past STORABLE_DEPTH and an
integer past 64 bits, the push API did not. A line nested 300 deep was answered 200 (`stored: 0`,
the observation quarantined, the client told nothing was wrong) and one nested 500 deep got
`500 Internal Server Error` with a traceback of about 2,000 lines in the receiver's log, both on
SQLite and PostgreSQL. Now each is a 400 that names the line, and the next request is stored.
"""

from __future__ import annotations

import orjson
import pytest

from gapwatch.recorder.ndjson import STORABLE_DEPTH
from tests.lb.test_push import Receiver, line, ndjson, receiver, stored_count

__all__ = ["receiver"]  # the fixture, imported for the tests below


def _nested(i: int, depth: int) -> bytes:
    """Line `i` with a payload nested `depth` levels deep (orjson writes at most 254)."""
    shallow = line(i)
    text = orjson.dumps(dict(shallow, payload={**shallow["payload"], "deep": "X"}))
    return text.replace(b'"X"', b"[" * depth + b"]" * depth) + b"\n"


@pytest.mark.parametrize("depth", [STORABLE_DEPTH + 1, 300, 500, 900])
def test_a_payload_nested_past_what_the_store_keeps_is_a_bad_line(
    receiver: Receiver, store_url: str, depth: int
) -> None:
    status, answer = receiver.post(ndjson([line(1)]) + _nested(2, depth))
    assert status == 400
    assert [item["line"] for item in answer["lines"]] == [2]
    assert "nested" in answer["lines"][0]["reason"]
    assert stored_count(store_url) == 0
    assert receiver.post(ndjson([line(1)]))[0] == 200  # the receiver is fine afterwards


def test_a_payload_nested_as_deep_as_the_store_keeps_is_stored(
    receiver: Receiver, store_url: str
) -> None:
    answer = receiver.post(_nested(1, STORABLE_DEPTH))
    assert answer == (200, {"received": 1, "stored": 1, "duplicates": 0})
    assert stored_count(store_url) == 1


def test_an_integer_past_64_bits_is_a_bad_line(receiver: Receiver, store_url: str) -> None:
    body = orjson.dumps(line(1)).replace(b'"Port":32999', b'"Port":184467440737095516150')
    status, answer = receiver.post(body + b"\n")
    assert status == 400
    assert "64 bits" in answer["lines"][0]["reason"]
    assert stored_count(store_url) == 0
