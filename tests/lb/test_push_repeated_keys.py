"""A line whose JSON names a key twice is refused by both ways in, in the same words.

orjson keeps the last of a repeated key: an observation with two `kind` keys, or a payload with
two `uid`s, was answered 200 by the push API and imported by `gapwatch import events`, stored as
whichever came last (session 29's review). Now the push API answers 400 naming the line and the
key, stores nothing of the request, and the importer rejects the same lines with the same reason.
Real HTTP against `gapwatch receive`, a real `gapwatch import events` process, one store.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.lb.test_push import Receiver, line, ndjson, receiver, stored_count
from tests.test_cli import gapwatch

__all__ = ["receiver"]  # the fixture, imported for the tests below


def _repeated(i: int) -> tuple[bytes, bytes]:
    """Line `i` with its `kind` named twice (a Pod first, the TargetHealth its payload is last:
    stored as a TargetHealth before), and line `i + 1` with a second `uid` in its payload's
    metadata (stored with the last)."""
    first = orjson.dumps(line(i))
    kind = first.replace(b'"kind":"TargetHealth"', b'"kind":"Pod","kind":"TargetHealth"', 1)
    shown = line(i + 1)
    second = orjson.dumps(dict(shown, payload={**shown["payload"], "metadata": {"uid": "a"}}))
    uid = second.replace(b'"uid":"a"', b'"uid":"a","uid":"b"', 1)
    assert kind != first and uid != second
    return kind, uid


KIND_REASON = "key 'kind' appears twice in the observation: JSON object keys must be unique"
UID_REASON = "key 'uid' appears twice in payload.metadata: JSON object keys must be unique"


def test_a_repeated_key_is_refused_alike_by_push_and_import(
    receiver: Receiver, store_url: str, tmp_path: Path
) -> None:
    kind, uid = _repeated(2)
    body = ndjson([line(1)]) + kind + b"\n" + uid + b"\n" + ndjson([line(4)])
    status, answer = receiver.post(body)
    assert status == 400, answer
    reasons = {item["line"]: item["reason"] for item in answer["lines"]}
    assert sorted(reasons) == [2, 3]
    assert reasons[2].startswith(KIND_REASON) and reasons[3].startswith(UID_REASON)
    assert stored_count(store_url) == 0

    data = tmp_path / "pushed.ndjson"
    data.write_bytes(body)
    done = gapwatch("import", "events", str(data), "--db", store_url, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert f"{data}:2: {reasons[2]}" in done.stderr
    assert f"{data}:3: {reasons[3]}" in done.stderr
    assert stored_count(store_url) == 2  # lines 1 and 4

    # the same observations with each key once are stored by either way
    assert receiver.post(ndjson([line(2), line(3)]))[0] == 200
    assert stored_count(store_url) == 4
