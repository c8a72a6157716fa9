"""Every `gapwatch import` kind that reads JSON refuses a record that names a key twice, as the push
API and `import events` do (recorder/uniquekeys.py): the file, the line, the key and its path, the
other records imported. Before, orjson kept the last value and the record was imported as if its
sender had meant it (an audit event's `verb`, a CloudTrail target's `port`, a Node's `uid`, a
Prometheus series' `node` label). In a wrapper document one item is refused alone; a repeat
outside the items (`Records` twice) refuses the document. Real `gapwatch import` processes."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from gapwatch.recorder.sim import load_scenario
from gapwatch.recorder.sim.formats import write_format
from gapwatch.recorder.sim.result import Simulation
from tests.importers.helpers import FIXTURES
from tests.test_cli import gapwatch

UNIQUE = "JSON object keys must be unique (which value was meant is unknown"


def _simulated(fmt: str) -> list[bytes]:
    out = io.StringIO()
    write_format(Simulation(load_scenario("seed-3node"), 3), fmt, out)
    return [line.encode() for line in out.getvalue().splitlines()]


def _twice(text: bytes, pair: bytes, first: bytes) -> bytes:
    """`text` with `pair` ("key":value) preceded by the same key with the value `first`."""
    key = pair.split(b":", 1)[0]
    assert pair in text, pair
    return text.replace(pair, key + b":" + first + b"," + pair, 1)


def _audit_lines() -> tuple[bytes, list[str], str]:
    events = _simulated("k8s-audit")[:3]
    events[1] = _twice(events[1], b'"verb":"create"', b'"delete"')
    version = orjson.loads(events[2])["responseObject"]["metadata"]["resourceVersion"]
    pair = b'"resourceVersion":"' + version.encode() + b'"'
    assert events[2].count(pair) == 1
    events[2] = _twice(events[2], pair, b'"7"')
    return (
        b"\n".join(events) + b"\n",
        [
            f":2: key 'verb' appears twice in the record: {UNIQUE}",
            f":3: key 'resourceVersion' appears twice in responseObject.metadata: {UNIQUE}",
        ],
        "3 records: 1 imported",
    )


def _audit_eventlist() -> tuple[bytes, list[str], str]:
    events = _simulated("k8s-audit")[:3]
    events[1] = _twice(events[1], b'"verb":"create"', b'"delete"')
    head = b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":['
    return (
        head + b"\n  " + b",\n  ".join(events) + b"\n]}\n",
        [f":1: items[1]: key 'verb' appears twice in the record: {UNIQUE}"],
        "3 records: 2 imported",
    )


def _cloudtrail() -> tuple[bytes, list[str], str]:
    (document,) = _simulated("cloudtrail")
    records = orjson.loads(document)["Records"]
    assert len(records) == 4 and records[1]["requestParameters"]["targets"][0]["port"] == 32999
    one = [orjson.dumps(r) for r in records]
    one[1] = _twice(one[1], b'"port":32999', b"80")
    first = b'{"Records":[' + b",".join(one) + b"]}"
    # a repeat outside the records: which list was meant is unknown, so none is read
    second = b'{"Records":[' + one[0] + b'],"Records":[' + one[2] + b"]}"
    return (
        first + b"\n" + second + b"\n",
        [
            f":1: items[1]: key 'port' appears twice in requestParameters.targets[0]: {UNIQUE}",
            f":2: key 'Records' appears twice in the document: {UNIQUE}",
        ],
        "5 records: 3 imported",
    )


def _watch_list() -> tuple[bytes, list[str], str]:
    text = (FIXTURES / "aws-kops-nodelist-2nodes.json").read_bytes()
    uid = b'"uid": "09332afe-8743-11e7-a6b8-0a30022dfb8c"'
    assert text.count(uid) == 1
    return (
        text.replace(uid, b'"uid": "0",\n        ' + uid),
        [f":1: items[0]: key 'uid' appears twice in metadata: {UNIQUE}"],
        "2 records: 1 imported",
    )


def _prometheus() -> tuple[bytes, list[str], str]:
    (answer,) = _simulated("prometheus")
    nodes = [s["metric"]["node"] for s in orjson.loads(answer)["data"]["result"]]
    other = next(i for i, node in enumerate(nodes) if node != nodes[0])  # the first such series
    pair = b'"node":"' + nodes[other].encode() + b'"'
    first = answer.replace(pair, b'"node":"' + nodes[0].encode() + b'",' + pair, 1)
    assert orjson.loads(first) == orjson.loads(answer)  # last wins: the same answer to orjson
    return (
        first + b"\n" + answer + b"\n",
        [f":1: key 'node' appears twice in data.result[{other}].metric: {UNIQUE}"],
        "2 records: 1 imported",
    )


CASES = {
    "k8s-audit": _audit_lines,
    "k8s-audit-eventlist": _audit_eventlist,
    "cloudtrail": _cloudtrail,
    "k8s-watch": _watch_list,
    "prometheus": _prometheus,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_record_naming_a_key_twice_is_refused_and_the_rest_imported(
    tmp_path: Path, case: str, migrated_sqlite: Callable[[Path], str]
) -> None:
    text, errors, summary = CASES[case]()
    data = tmp_path / "input.json"
    data.write_bytes(text)
    migrated_sqlite(tmp_path / "gapwatch.db")  # the default store, as `db upgrade` leaves it
    fmt = case.removesuffix("-eventlist")
    done = gapwatch("import", fmt, str(data), "--errors", "bad.ndjson", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    for error in errors:
        assert f"{data}{error}" in done.stderr, done.stderr
    assert summary in done.stderr, done.stderr
    kept = (tmp_path / "bad.ndjson").read_text().splitlines()
    assert len(kept) == len(errors)
