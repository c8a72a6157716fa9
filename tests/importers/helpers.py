"""Shared helpers of the importer tests: parse a file or bytes without a store."""

from __future__ import annotations

from pathlib import Path

from gapwatch.recorder.errors import LineError
from gapwatch.recorder.importers import load
from gapwatch.recorder.importers.base import Stats
from gapwatch.recorder.importers.driver import parse_file
from gapwatch.recorder.observation import Observation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"


def parse(fmt: str, path: Path | str) -> tuple[list[Observation], list[LineError], Stats]:
    """Every observation and error of one file in `fmt`, and the counts."""
    stats = Stats()
    found: list[Observation] = []
    errors: list[LineError] = []
    for _raw, item in parse_file(load(fmt), str(path), "test", stats):
        if isinstance(item, LineError):
            errors.append(item)
        else:
            found.append(item)
    return found, errors, stats


def parse_bytes(
    fmt: str, data: bytes, tmp: Path
) -> tuple[list[Observation], list[LineError], Stats]:
    """`parse` of `data` written to a file under `tmp`."""
    path = tmp / f"input.{fmt}"
    path.write_bytes(data)
    return parse(fmt, path)
