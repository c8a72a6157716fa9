"""Fuzzing the NDJSON events importer (hypothesis) on both backends: real records from
tests/fixtures (tests/store/samples.py), mutated, mixed with random bytes and random JSON.

The invariant: the import never raises, and every non-blank line is accounted for: rejected
(FILE:LINE), or stored new, or already stored, or quarantined by the writer (which also reports
it as FILE:LINE); the events table grew by exactly the new ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from gapwatch.recorder.importer import import_files
from gapwatch.recorder.observation import canonical_json
from gapwatch.replay.facts import write_facts
from tests.store.samples import real_observations

REAL = [obs.to_dict() for obs in real_observations()]
FIELDS = sorted(REAL[0])

hostile_strings = st.sampled_from(
    ["\x00", "a\x00b", "\ue000", "\ue0000", "9999-12-31T23:59:59-01:00",
     "0001-01-01T00:00:00+01:00", "0999-01-01T00:00:00Z", "", "x" * 3000]
)  # fmt: skip
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20), hostile_strings,
)  # fmt: skip
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = {"n": value}
    return value


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    record: dict[str, Any] = dict(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        field = draw(st.sampled_from(FIELDS))
        action = draw(st.sampled_from(["drop", "replace", "hostile", "deep", "payload"]))
        if action == "drop":
            record.pop(field, None)
        elif action == "replace":
            record[field] = draw(json_value)
        elif action == "hostile":
            record[field] = draw(hostile_strings)
        elif action == "deep":
            record["payload"] = _nest(
                record.get("payload"), draw(st.sampled_from([200, 253, 254, 400]))
            )
        else:
            payload = record.get("payload")
            record["payload"] = {
                **(payload if isinstance(payload, dict) else {}),
                "k": draw(json_value),
            }
    return _dumps(record)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value).encode()  # past orjson's depth or integer range


lines = st.lists(
    st.one_of(
        mutated(),
        st.builds(lambda r: canonical_json(r).encode(), st.sampled_from(REAL)),
        st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),
        json_value.map(_dumps),
    ),
    min_size=1,
    max_size=12,
)


def _events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=lines)
def test_every_line_is_stored_or_rejected(
    engine: Engine, tmp_path: Path, batch: list[bytes]
) -> None:
    path = tmp_path / "fuzz.ndjson"
    path.write_bytes(b"\n".join(batch) + b"\n")
    non_blank = sum(1 for line in b"\n".join(batch).split(b"\n") if line.strip())
    before = _events(engine)
    report = import_files(engine, [str(path)], derive=write_facts, batch_size=5)
    written = report.written
    assert report.lines_ok + report.error_count - written.quarantined == non_blank
    assert written.inserted + written.duplicates + written.quarantined == report.lines_ok
    assert _events(engine) - before == written.inserted
    for e in report.errors:
        assert e.file == str(path) and 1 <= e.line <= len(batch), (e, len(batch))
