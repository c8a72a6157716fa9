"""Reading records: JSON lines, pretty-printed and concatenated documents, wrappers, gzip, stdin,
and FILE:LINE for whatever is broken, with the rest kept."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from tests.importers.helpers import FIXTURES, parse, parse_bytes


def _node(name: str, rv: str, when: str) -> dict[str, object]:
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": name, "resourceVersion": rv, "creationTimestamp": when},
    }


def test_pretty_printed_and_single_line_documents_mix(tmp_path: Path) -> None:
    one = orjson.dumps(_node("a", "1", "2026-01-01T00:00:01Z"), option=orjson.OPT_INDENT_2)
    two = orjson.dumps({"type": "MODIFIED", "object": _node("a", "2", "2026-01-01T00:00:05Z")})
    three = orjson.dumps(_node("b", "3", "2026-01-01T00:00:09Z"), option=orjson.OPT_INDENT_2)
    found, errors, stats = parse_bytes("k8s-watch", one + b"\n" + two + b"\n" + three, tmp_path)
    assert errors == []
    assert [(o.name, o.op, o.resource_version) for o in found] == [
        ("a", "ADDED", "1"),
        ("a", "MODIFIED", "2"),
        ("b", "ADDED", "3"),
    ]
    assert stats.records == 3


def test_broken_lines_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    good = [orjson.dumps(_node(n, str(i), "2026-01-01T00:00:01Z")) for i, n in enumerate("abc")]
    data = b"\n".join([good[0], b'{"kind": "Node", "metadata": ', good[1], b"garbage", good[2]])
    found, errors, stats = parse_bytes("k8s-watch", data, tmp_path)
    assert [o.name for o in found] == ["a", "b", "c"]
    assert [(e.line, e.reason.split(":")[0]) for e in errors] == [
        (2, "not valid JSON"),
        (4, "not valid JSON"),
    ]
    assert str(errors[0]).startswith(f"{tmp_path / 'input.k8s-watch'}:2: ")
    assert stats.records == 5 and stats.rejected == 2


def test_unclosed_document_at_the_end_is_one_error(tmp_path: Path) -> None:
    data = orjson.dumps(_node("a", "1", "2026-01-01T00:00:01Z")) + b'\n{\n  "kind": "Node",\n'
    found, errors, _stats = parse_bytes("k8s-watch", data, tmp_path)
    assert [o.name for o in found] == ["a"]
    assert [e.line for e in errors] == [2]


def test_wrapper_items_name_their_index(tmp_path: Path) -> None:
    good = {
        "eventSource": "elasticloadbalancing.amazonaws.com",
        "eventName": "RegisterTargets",
        "eventTime": "2026-01-01T00:00:00Z",
        "requestParameters": {"targetGroupArn": "arn:tg", "targets": [{"id": "i-1"}]},
    }
    bad = dict(good, eventTime="yesterday")
    data = orjson.dumps({"Records": [good, bad]}, option=orjson.OPT_INDENT_2)
    found, errors, _stats = parse_bytes("cloudtrail", data, tmp_path)
    assert len(found) == 1
    assert [(e.line, e.reason[:18]) for e in errors] == [(1, "items[1]: eventTim")]


def test_gzip_is_detected_by_content(tmp_path: Path) -> None:
    raw = (FIXTURES / "falco-k8s-audit-minikube-2018.jsonl").read_bytes()
    plain, _e, _s = parse_bytes("k8s-audit", raw, tmp_path)
    zipped = tmp_path / "audit.log"  # no .gz suffix: detected by content
    zipped.write_bytes(gzip.compress(raw))
    again, errors, _stats = parse("k8s-audit", zipped)
    assert errors == [] and again == plain
