"""Properties of every importer: random bytes and mutated real records never crash it, and every
record is accounted for (imported + rejected + skipped = records; stored + already stored =
observations), through a real SQLite store."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from gapwatch.recorder.importers import FORMATS, load
from gapwatch.recorder.importers.driver import import_format
from gapwatch.recorder.store import make_engine, upgrade
from gapwatch.replay.facts import write_facts
from tests.importers.helpers import FIXTURES, parse_bytes
from tests.importers.test_formats import ALB_502, PROM_ANSWER

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=10,
)
TRAIL = {
    "eventTime": "2026-11-25T09:55:46Z",
    "eventSource": "elasticloadbalancing.amazonaws.com",
    "eventName": "RegisterTargets",
    "requestParameters": {"targetGroupArn": "arn:tg", "targets": [{"id": "i-1", "port": 31805}]},
}


def _json_records(path: Path) -> list[Any]:
    data = path.read_bytes()
    try:
        return [orjson.loads(data)]
    except orjson.JSONDecodeError:
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]


#: real (or documentation-shaped, where no real sample exists) records per format
SEEDS: dict[str, list[Any]] = {
    "k8s-audit": _json_records(FIXTURES / "falco-k8s-audit-minikube-2018.jsonl"),
    "k8s-watch": _json_records(FIXTURES / "aws-kops-node-watch-modified.jsonl")
    + _json_records(FIXTURES / "k9s-endpointslice-v1.json"),
    "cloudtrail": [
        *_json_records(FIXTURES / "awsdocs-alb-cloudtrail-CreateLoadBalancer.json"),
        TRAIL,
    ],
    "prometheus": [PROM_ANSWER],
    "elb-access-log": [*(FIXTURES / "plaso-aws_elb_access.log").read_text().splitlines(), ALB_502],
}


def _mutate(value: Any, path: list[int], new: Any) -> Any:
    """Replace (or, for a negative step, delete) the part of `value` that `path` leads to."""
    if not path or not isinstance(value, dict | list) or not value:
        return new
    step, rest = path[0], path[1:]
    if isinstance(value, dict):
        keys = sorted(value)
        key = keys[abs(step) % len(keys)]
        if step < 0 and not rest:
            return {k: v for k, v in value.items() if k != key}
        return {**value, key: _mutate(value[key], rest, new)}
    index = abs(step) % len(value)
    return [*value[:index], _mutate(value[index], rest, new), *value[index + 1 :]]


def _mutated_bytes(fmt: str, data: st.DataObject) -> bytes:
    seed = data.draw(st.sampled_from(SEEDS[fmt]))
    if isinstance(seed, str):
        words = seed.split(" ")
        at = data.draw(st.integers(0, len(words) - 1))
        words[at] = data.draw(st.text(max_size=30).map(lambda t: t.replace("\n", " ")))
        return " ".join(words).encode("utf-8", "surrogatepass")
    path = data.draw(st.lists(st.integers(-20, 20), max_size=5))
    return orjson.dumps(_mutate(seed, path, data.draw(JSON_VALUES)))


@cache
def _engine() -> Engine:
    """One migrated SQLite store for every example (a re-import counts as already stored),
    deleted when the test process ends."""
    root = Path(tempfile.mkdtemp(prefix="gapwatch-prop-"))
    atexit.register(shutil.rmtree, root, True)
    engine = make_engine(f"sqlite:///{root / 'store.db'}")
    upgrade(engine)
    return engine


def _accounted(fmt: str, payload: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        found, errors, stats = parse_bytes(fmt, payload, Path(tmp))
        assert stats.imported_records + stats.rejected + sum(stats.skipped.values()) == (
            stats.records
        )
        assert stats.rejected == len(errors) and sum(stats.kinds.values()) == len(found)
        path = Path(tmp) / "input"
        path.write_bytes(payload)
        result = import_format(
            _engine(), load(fmt), [str(path)], cluster="prop", derive=write_facts
        )
        written = result.report.written
        assert written.inserted + written.duplicates == result.report.lines_ok == len(found)
        assert result.report.error_count == stats.rejected


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@SETTINGS
@given(payload=st.binary(max_size=400))
def test_random_bytes_never_crash(fmt: str, payload: bytes) -> None:
    _accounted(fmt, payload)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@SETTINGS
@given(data=st.data(), copies=st.integers(1, 3))
def test_mutated_real_records_never_crash(fmt: str, data: st.DataObject, copies: int) -> None:
    lines = [_mutated_bytes(fmt, data) for _ in range(copies)]
    _accounted(fmt, b"\n".join(lines) + b"\n")
