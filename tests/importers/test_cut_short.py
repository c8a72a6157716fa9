"""A file cut short (a copy or download that stopped) is said to be cut short, and its broken
last record is never stored as if whole. A truncated ALB line, cut inside its user agent, was
imported with the fields it still had (`domain_name: "www.doma`)."""

from __future__ import annotations

from pathlib import Path

from gapwatch.recorder.errors import LineError
from gapwatch.recorder.ndjson import dumps, read_observations
from tests.importers.helpers import FIXTURES, parse
from tests.store.samples import real_observations

CUT = "was the file cut short?"


def test_an_access_log_line_cut_inside_a_quoted_field_is_rejected(tmp_path: Path) -> None:
    lines = (FIXTURES / "plaso-aws_elb_access.log").read_text().splitlines()[:8]
    last = lines[-1]
    cut = last[: last.index("Mozilla") + 20]  # inside the user agent's quotes
    log = tmp_path / "alb.log"
    log.write_text("\n".join([*lines[:-1], cut]))
    found, errors, stats = parse("elb-access-log", log)
    assert len(found) == 7 and stats.rejected == 1
    assert [(e.line, e.reason) for e in errors] == [
        (8, "a quoted field is not closed: the line is cut short")
    ]
    whole = tmp_path / "whole.log"
    whole.write_text("\n".join(lines))  # no final line break: still a whole line
    assert len(parse("elb-access-log", whole)[0]) == 8


def test_ndjson_and_json_documents_cut_short_say_so(tmp_path: Path) -> None:
    text = "".join(dumps(o) + "\n" for o in real_observations()[:3])
    events = tmp_path / "events.ndjson"
    events.write_bytes(text.encode()[:-40])
    read = [v for _raw, v in read_observations(str(events))]
    assert not isinstance(read[1], LineError) and isinstance(read[2], LineError)
    assert f"the input ends inside this line ({CUT})" in read[2].reason
    events.write_bytes(text.encode()[:-1])  # whole, only the last line break missing
    assert not any(isinstance(v, LineError) for _raw, v in read_observations(str(events)))

    nodes = (FIXTURES / "aws-kops-nodelist-2nodes.json").read_bytes()
    listed = tmp_path / "nodes.json"
    listed.write_bytes(nodes[: len(nodes) // 2])
    _found, errors, _stats = parse("k8s-watch", listed)
    assert len(errors) == 1 and f"the input ends inside this document ({CUT})" in errors[0].reason
