"""recorder/conforms.py agrees one way with jsonschema on observation.schema.json: whatever it
accepts, jsonschema accepts; and it does accept the lines a recorder writes (else the import
would not get faster). Real lines (the published samples of tests/fixtures/store and the
benchmark's realistic mix), then hypothesis mutating one field at a time with arbitrary JSON."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.recorder.conforms import conforms
from gapwatch.recorder.observation import _validator, schema
from tests.store.samples import real_observations

KINDS = ["EndpointSlice", "Service", "Node", "Pod", "Event", "ProxyHealth", "NodePortProbe",
         "TargetHealth", "TargetGroupAttributes", "ProxyMetrics", "node", ""]  # fmt: skip


def lines() -> list[dict[str, Any]]:
    from benchmarks.observations import generate

    out = [o.to_dict() for o in real_observations()]
    out += [o.to_dict() for o in generate(300, seed=3)]
    return [orjson.loads(orjson.dumps(d)) for d in out]


LINES = lines()


def schema_accepts(data: Any) -> bool:
    return not list(_validator().iter_errors(data))


def test_every_real_line_takes_the_fast_path() -> None:
    assert all(schema_accepts(d) for d in LINES)
    assert all(conforms(d) for d in LINES)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=300)
    | st.sampled_from(
        [
            "2026-11-25T09:55:46.123456Z",
            "2026-11-25T09:55:46Z\n",
            "OBSERVED",
            "x",
            "a" * 254,
            0,
            1,
            65535,
            65536,
            1.0,
            True,
            "connected",
            {"name": "x"},
            {"Id": "i-1"},
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
FIELDS = [*schema()["properties"], "extra"]
PAYLOAD_KEYS = ["metadata", "status", "body", "error", "port", "result", "Target",
                "TargetHealth", "TargetGroupArn", "Attributes"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(range(len(LINES))),
    st.sampled_from(FIELDS),
    json_values,
    st.sampled_from(KINDS),
    st.sampled_from(PAYLOAD_KEYS),
    json_values,
    st.booleans(),
)
def test_what_it_accepts_the_schema_accepts(
    index: int, field: str, value: Any, kind: str, key: str, inner: Any, drop: bool
) -> None:
    data = orjson.loads(orjson.dumps(LINES[index]))
    data["kind"] = kind if kind else data["kind"]
    if drop:
        data.pop(field, None)
    else:
        data[field] = value
    if isinstance(data.get("payload"), dict):
        data["payload"][key] = inner
    if conforms(data):
        assert schema_accepts(data), data


EDGES: list[Any] = ["2026-11-25T09:55:46Z\n", "", "x", "a" * 254, 0, 1, 65535, 65536, -1, 1.0,
                    True, None, "connected", "bogus", {}, {"name": "x"}, {"Id": "i-1"},
                    {"State": "healthy"}, {"a": 1}, []]  # fmt: skip


def test_edge_values_in_every_kind_and_payload_key() -> None:
    """Every kind's rules on its boundaries: one real line per kind, each kind swapped in, each
    payload key and top-level field set to each edge value."""
    one_per_kind = list({d["kind"]: d for d in LINES}.values())
    checked = 0
    for line in one_per_kind:
        for kind in KINDS[:-1]:
            for value in EDGES:
                for key in PAYLOAD_KEYS:
                    data = orjson.loads(orjson.dumps(line))
                    data["kind"], data["payload"][key] = kind, value
                    if conforms(data):
                        checked += 1
                        assert schema_accepts(data), data
                for field in FIELDS:
                    data = orjson.loads(orjson.dumps(line))
                    data["kind"], data[field] = kind, value
                    if conforms(data):
                        checked += 1
                        assert schema_accepts(data), data
    assert checked > 1000
