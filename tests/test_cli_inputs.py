"""Inputs a new user meets that hold less than they seem: an empty file (said, and exit 1 when
nothing else was given), and a gzip file cut short (the line it breaks off inside is reported
with its file and line and kept in `--errors` as read: nothing lost).

In-process through Typer's runner against a SQLite store (no subprocess: each costs about a
second of imports); the console entry point's one-line errors are tests/test_cli.py's.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.ndjson import dumps
from tests.importers.helpers import FIXTURES
from tests.importers.test_inputs import stored
from tests.store.samples import real_observations
from tests.test_cli_interrupt import store

AUDIT = FIXTURES / "falco-k8s-audit-minikube-2018.jsonl"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return store(tmp_path / "store.db")


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stderr


def _lines() -> bytes:
    return b"".join(dumps(o).encode() + b"\n" for o in real_observations())


@pytest.mark.parametrize(
    ("command", "noun"),
    [(["import", "events"], "observations"), (["import", "k8s-audit"], "records")],
)
@pytest.mark.parametrize("kind", ["plain", "gzip", "stdin"])
def test_an_empty_input_alone_is_named_and_fails(
    db: str, tmp_path: Path, command: list[str], noun: str, kind: str
) -> None:
    """It exited 0 with "0 valid lines: 0 new": a script importing a capture that came out
    empty learned nothing."""
    path = tmp_path / "capture.ndjson"
    path.write_bytes(gzip.compress(b"") if kind == "gzip" else b"")
    name, arg = ("<stdin>", "-") if kind == "stdin" else (str(path), str(path))
    code, err = run(*command, arg, "--db", db, stdin=b"" if kind == "stdin" else None)
    assert code == 1, err
    assert f"{name}: empty, no {noun}" in err
    assert "error: nothing to import: every input is empty" in err
    assert stored(db) == 0


BLANK = b"\n  \n\t\r\n\n"


@pytest.mark.parametrize(
    ("command", "noun"),
    [
        (["import", "events"], "observations"),
        (["import", "k8s-audit"], "records"),
        (["import", "elb-access-log"], "records"),
    ],
)
@pytest.mark.parametrize("kind", ["plain", "gzip", "stdin", "strict-stdin"])
def test_an_input_of_blank_lines_alone_is_named_and_fails(
    db: str, tmp_path: Path, command: list[str], noun: str, kind: str
) -> None:
    """A file of nothing but blank lines (a `kubectl get -w` that printed only newlines, a
    template left unfilled) said "0 valid lines: 0 new" and exited 0, where an empty file is
    named and fails: it holds no more than one."""
    path = tmp_path / "capture.ndjson"
    path.write_bytes(gzip.compress(BLANK) if kind == "gzip" else BLANK)
    stdin = kind.endswith("stdin")
    name, arg = ("<stdin>", "-") if stdin else (str(path), str(path))
    strict = ["--strict"] if kind == "strict-stdin" else []
    code, err = run(*command, arg, *strict, "--db", db, stdin=BLANK if stdin else None)
    assert code == 1, err
    assert f"{name}: empty (only blank lines), no {noun}" in err
    assert "error: nothing to import: every input is empty" in err
    assert stored(db) == 0


def test_blank_and_empty_inputs_among_others_are_named_and_the_rest_imported(
    db: str, tmp_path: Path
) -> None:
    empty, blank, full = tmp_path / "empty.ndjson", tmp_path / "blank.ndjson", tmp_path / "full"
    empty.write_bytes(b"")
    blank.write_bytes(BLANK)
    full.write_bytes(BLANK + _lines() + BLANK)
    code, err = run("import", "events", str(empty), str(blank), str(full), "--db", db)
    assert code == 0, err
    assert f"{empty}: empty, no observations" in err
    assert f"{blank}: empty (only blank lines), no observations" in err
    assert f"{full}:" not in err
    assert stored(db) == len(real_observations())


def test_records_all_skipped_are_not_an_empty_input(db: str, tmp_path: Path) -> None:
    """An audit log of read-only requests holds records, all skipped (and counted as such): it
    is no empty capture, and exits 0 as before."""
    path = tmp_path / "reads.jsonl"
    event = {"kind": "Event", "stage": "ResponseComplete", "verb": "get", "auditID": "a"}
    path.write_bytes(b"\n" + orjson.dumps(event) + b"\n\n")
    code, err = run("import", "k8s-audit", str(path), "--db", db)
    assert code == 0, err
    assert "empty" not in err
    assert "read-only request" in err


def test_strict_names_empty_standard_input_as_stdin(db: str) -> None:
    """--strict spools standard input to a temporary file: the message still says <stdin>."""
    code, err = run("import", "events", "-", "--strict", "--db", db, stdin=b"")
    assert code == 1, err
    assert "<stdin>: empty, no observations" in err


def test_an_empty_input_among_others_is_named_and_the_rest_imported(
    db: str, tmp_path: Path
) -> None:
    empty, full = tmp_path / "empty.ndjson.gz", tmp_path / "full.ndjson"
    empty.write_bytes(gzip.compress(b""))
    full.write_bytes(_lines())
    code, err = run("import", "events", str(empty), str(full), "--db", db)
    assert code == 0, err
    assert f"{empty}: empty, no observations" in err
    assert f"{full}:" not in err
    assert f"{len(real_observations())} new" in err
    assert stored(db) == len(real_observations())


def _cut_points(data: bytes) -> list[int]:
    """Offsets to cut a gzip file at: inside its header, inside its first line, in the middle,
    and just before its 8-byte trailer (every line whole, the end missing)."""
    return [5, 40, len(data) // 2, len(data) - 5]


def _inflated(cut: bytes) -> bytes:
    """Every byte a gzip file cut short still holds."""
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut)


@pytest.mark.parametrize("where", range(4), ids=["header", "first-line", "middle", "trailer"])
def test_a_gzip_cut_short_loses_nothing(db: str, tmp_path: Path, where: int) -> None:
    """The line the stream broke off inside was reported without its text (`raw` null) and the
    reason was the decompressor's own words; now the file, the line, that the file was cut short,
    and the partial line in --errors: stored lines plus that text are every byte the file holds."""
    whole = gzip.compress(_lines())
    offset = _cut_points(whole)[where]
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(whole[:offset])
    errors = tmp_path / "rejected.ndjson"
    code, err = run("import", "events", str(path), "--db", db, "--errors", str(errors))
    assert code == 3, err
    held = _inflated(whole[:offset])
    complete = held.count(b"\n")
    partial = held[held.rfind(b"\n") + 1 :]
    [record] = [orjson.loads(line) for line in errors.read_bytes().splitlines()]
    assert record["file"] == str(path)
    assert record["line"] == complete + 1
    assert "the file was cut short" in record["reason"]
    assert f"{path}:{complete + 1}: the compressed input ends early" in err
    if partial:
        assert record["raw"] == partial.decode()
        assert "inside this line: it is incomplete" in record["reason"]
    else:
        assert record["raw"] is None
        assert ("after line" if complete else "before its first line") in record["reason"]
    assert stored(db) == complete


def test_a_gzip_whose_check_fails_says_the_lines_before_may_be_damaged(
    db: str, tmp_path: Path
) -> None:
    """gzip checks its CRC at the end, after every line was read and stored: say so."""
    whole = bytearray(gzip.compress(_lines()))
    whole[-6] ^= 0xFF  # in the trailer's CRC-32
    path = tmp_path / "crc.ndjson.gz"
    path.write_bytes(whole)
    code, err = run("import", "events", str(path), "--db", db)
    assert code == 3, err
    lines = len(real_observations())
    assert f"{path}:{lines + 1}: the compressed input is corrupt (CRC check failed" in err
    assert f"the lines before may be damaged), after line {lines}" in err


def test_a_postmortem_format_cut_short_keeps_the_partial_record(db: str, tmp_path: Path) -> None:
    """The same for `import FORMAT` (recorder.importers.records reads through the same lines)."""
    whole = gzip.compress(AUDIT.read_bytes())
    path = tmp_path / "audit.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    errors = tmp_path / "rejected.ndjson"
    code, err = run("import", "k8s-audit", str(path), "--db", db, "--errors", str(errors))
    assert code == 3, err
    held = _inflated(whole[: len(whole) // 2])
    records = [orjson.loads(line) for line in errors.read_bytes().splitlines()]
    cut = [r for r in records if "cut short" in r["reason"]]
    assert len(cut) == 1
    assert cut[0]["line"] == held.count(b"\n") + 1
    assert cut[0]["raw"] == held[held.rfind(b"\n") + 1 :].decode()


def test_a_pretty_printed_document_cut_short_is_kept_whole(tmp_path: Path) -> None:
    """A multi-line document the input breaks off inside is one error at the line it starts on,
    with every line read of it (not only the last, partial one)."""
    from tests.importers.helpers import parse

    doc = orjson.dumps(
        {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "a", "resourceVersion": "1"}},
        option=orjson.OPT_INDENT_2,
    )
    whole = gzip.compress(doc + b"\n")
    path = tmp_path / "watch.json.gz"
    path.write_bytes(whole[:-12])  # the last bytes of the document and the trailer
    held = _inflated(whole[:-12])
    assert held.count(b"\n") > 2 and not held.endswith(b"\n")
    from gapwatch.recorder.importers import load
    from gapwatch.recorder.importers.records import read_records

    items = list(read_records(load("k8s-watch"), str(path)))
    assert len(items) == 1
    raw, error, _where = items[0]
    assert raw is not None and raw.text == held
    assert error.line == 1 and "inside this document: it is incomplete" in error.reason
    found, errors, _stats = parse("k8s-watch", path)
    assert found == [] and len(errors) == 1


BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("kind", ["plain", "gzip", "stdin"])
def test_a_utf8_byte_order_mark_is_no_part_of_the_first_line(
    db: str, tmp_path: Path, kind: str
) -> None:
    """A file saved with a BOM (PowerShell 5's Out-File, Notepad's "UTF-8 with BOM") lost its
    first observation: `FILE:1: not valid JSON: UTF-8 byte order mark (BOM) is not supported`,
    exit 3."""
    data = BOM + _lines().replace(b"\n", b"\r\n")
    path = tmp_path / "saved.ndjson"
    path.write_bytes(gzip.compress(data) if kind == "gzip" else data)
    arg = "-" if kind == "stdin" else str(path)
    code, err = run("import", "events", arg, "--db", db, stdin=data if kind == "stdin" else None)
    assert code == 0, err
    assert "0 rejected" in err and "BOM" not in err
    assert stored(db) == len(real_observations())


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("k8s-audit", "falco-k8s-audit-minikube-2018.jsonl"),
        ("cloudtrail", "awsdocs-alb-cloudtrail-CreateLoadBalancer.json"),
    ],
)
def test_a_byte_order_mark_costs_a_postmortem_format_nothing(
    tmp_path: Path, command: str, name: str
) -> None:
    """A pretty-printed CloudTrail document with a BOM was rejected whole (its one document
    starts on line 1), an audit log lost its first event."""
    plain, marked = store(tmp_path / "plain.db"), store(tmp_path / "marked.db")
    path = tmp_path / name
    path.write_bytes(BOM + (FIXTURES / name).read_bytes())
    code, err = run("import", command, "--cluster", "c", str(FIXTURES / name), "--db", plain)
    assert code == 0, err
    code, err = run("import", command, "--cluster", "c", str(path), "--db", marked)
    assert code == 0, err
    assert "0 rejected" in err and "BOM" not in err
    assert stored(marked) == stored(plain)


@pytest.mark.parametrize("command", [["import", "events"], ["import", "k8s-audit"]])
def test_show_counts_what_it_does_not_print_and_takes_no_negative(
    db: str, tmp_path: Path, command: list[str]
) -> None:
    """`--show -5` with one bad line said `... and 6 more bad lines`; `--show 0` said `... and 1
    more` after printing none."""
    path = tmp_path / "one-bad.ndjson"
    good = _lines() if command[1] == "events" else AUDIT.read_bytes()
    path.write_bytes(good + b"{not json\n")
    code, err = run(*command, str(path), "--db", db, "--show", "-5")
    assert code == 2 and "--show" in err, err
    # Typer 0.28 (pyproject's pin) words the bound as Click does; 0.29's pydantic otherwise
    assert "x>=0" in err or "greater than or equal to 0" in err, err
    code, err = run(*command, str(path), "--db", db, "--show", "0")
    assert code == 3, err
    noun = "lines" if command[1] == "events" else "records"
    assert f"1 bad {noun}, not printed (--show 0)" in err and "... and" not in err, err
    assert "{not json" not in err and f"{path}:" not in err.split("\n")[0], err
