"""The issue's hostile import files, through a real `gapwatch import events` process on both
backends: every bad line is FILE:LINE: reason, exit code 3, never a traceback; good lines (a NUL,
a year before 1000) are stored and exported back byte for byte; --strict writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from gapwatch.recorder.ndjson import MAX_LINE_BYTES
from gapwatch.recorder.observation import from_dict
from gapwatch.recorder.store import make_engine
from gapwatch.replay.facts import write_facts

ROOT = Path(__file__).resolve().parents[2]


def _line(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "observed_at": "2026-11-25T09:00:00Z",
        "cluster": "c1",
        "source": "kube-proxy-probe",
        "kind": "ProxyHealth",
        "op": "OBSERVED",
        "node": "n1",
        "payload": {"status": 200},
    }
    record.update(changes)
    return record


def _nested(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"d": value}
    return value


def _dump(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


GOOD = [
    _line(),
    _line(node="n2", payload={"status": 503, "note": "nul \x00 inside", "esc": "\ue000"}),
    _line(node="n3", observed_at="0999-05-01T00:00:00.000000Z"),
]
#: (line, the reason's distinctive words)
BAD = [
    (_dump(_line(observed_at="9999-12-31T23:59:59-01:00")), b"outside the years"),
    (_dump(_line(observed_at="0001-01-01T00:00:00+01:00")), b"outside the years"),
    (json.dumps(_line(payload=_nested(300))).encode(), b"levels deep"),
    (b'{"payload": ' * 1100 + b"1" + b"}" * 1100, b"not valid JSON"),
    (b'{"a": 1}'.replace(b"1", b"1" * 30), b"does not fit in 64 bits"),
    (_dump(_line()).replace(b"200", str(2**70).encode()), b"does not fit in 64 bits"),
    (b"\xff\xfe not utf-8", b"not valid JSON"),
    (b"[1, 2, 3]", b"expected a JSON object"),
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gapwatch.dashboard.cli", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())
    engine.dispose()
    return n


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    main = tmp_path / "hostile.ndjson"
    lines = [_dump(r) for r in GOOD[:2]] + [line for line, _ in BAD] + [_dump(GOOD[2])]
    main.write_bytes(b"\n".join(lines) + b"\n")
    magic = tmp_path / "magic.ndjson"  # starts with the gzip magic, is not gzip
    magic.write_bytes(b"\x1f\x8b not gzip at all\n" + _dump(_line(node="n4")) + b"\n")
    huge = tmp_path / "huge.ndjson"
    with huge.open("wb") as out:
        out.write(b'{"x": "' + b"y" * (MAX_LINE_BYTES + 10) + b'"}\n')
        out.write(_dump(_line(node="n5")) + b"\n")
    return main, magic, huge


def test_hostile_files_give_file_line_errors_and_exit_3(store_url: str, tmp_path: Path) -> None:
    main, magic, huge = _files(tmp_path)
    strict = _run("import", "events", str(main), str(magic), str(huge), "--db", store_url,
                  "--strict")  # fmt: skip
    assert strict.returncode == 3 and "Traceback" not in strict.stderr
    assert _count(store_url) == 0  # --strict wrote nothing
    result = _run("import", "events", str(main), str(magic), str(huge), "--db", store_url)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith(str(tmp_path))]
    for number, (_line_bytes, words) in enumerate(BAD, start=3):
        assert any(e.startswith(f"{main}:{number}: ") and words.decode() in e for e in errors), (
            number,
            errors,
        )
    assert any(e.startswith(f"{magic}:1: ") for e in errors)
    assert any(e.startswith(f"{huge}:1: line longer than") for e in errors)
    assert len(errors) == len(BAD) + 2
    assert _count(store_url) == len(GOOD) + 2  # n4 after the magic bytes, n5 after the huge line
    exported = _run("export", "events", "--db", store_url, "--out", "-")
    assert exported.returncode == 0, exported.stderr
    out = set(exported.stdout.splitlines())
    for record in GOOD:  # the NUL, the private-use character and year 999 come back intact
        assert _dump(from_dict(record).to_dict()).decode() in out


def test_errors_file_may_not_be_an_input(tmp_path: Path) -> None:
    source = tmp_path / "in.ndjson"
    source.write_bytes(_dump(_line()) + b"\n")
    before = source.read_bytes()
    result = _run("import", "events", str(source), "--errors", str(source),
                  "--db", f"sqlite:///{tmp_path / 's.db'}")  # fmt: skip
    assert result.returncode == 2 and "also an input" in result.stderr
    assert source.read_bytes() == before


def test_batches_are_bounded_in_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Long lines end a batch early: memory follows bytes, not the line count."""
    from gapwatch.recorder.importer import import_files
    from gapwatch.recorder.store import upgrade
    from gapwatch.recorder.writer import EventWriter

    url = f"sqlite:///{tmp_path / 's.db'}"
    engine = make_engine(url)
    upgrade(engine)
    source = tmp_path / "wide.ndjson"
    wide = [_line(node=f"n{i}", payload={"status": 200, "pad": "p" * 1000}) for i in range(9)]
    source.write_bytes(b"".join(_dump(r) + b"\n" for r in wide))
    sizes: list[int] = []
    real_write = EventWriter.write

    def counting(self: EventWriter, observations: Any, checkpoints: Any = ()) -> Any:
        batch = list(observations)
        sizes.append(len(batch))
        return real_write(self, batch, checkpoints)

    monkeypatch.setattr(EventWriter, "write", counting)
    report = import_files(
        engine, [str(source)], derive=write_facts, batch_size=1000, batch_bytes=2500
    )
    engine.dispose()
    assert report.written.inserted == 9
    assert sizes == [3, 3, 3]  # each line is ~1.1 kB: the third passes 2,500 bytes
