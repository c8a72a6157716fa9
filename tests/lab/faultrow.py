"""The tests of one row of the CI fault table (`gapwatch lab table --only FAULT`, the short plan's
single run), imported by each tests/lab/test_lab_row_FAULT.py, which names its row in `FAULT`.
One file per row, so that a row can be run alone (tests/schedule.py keeps them on one worker)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.lab.labcli import CLASS_FLAKE, LAB_MARKS, Run

#: a test file star-imports this module: pytest collects the tests it imports and applies
#: the module-level marks; the fixture `lab_run` (tests/lab/conftest.py) runs its LAB_ARGS
pytestmark = LAB_MARKS


def _the_row(lab_run: Run, fault: str) -> dict[str, Any]:
    _code, rows, err = lab_run
    assert rows is not None, err[-3000:]
    (row,) = rows
    assert row["fault"] == fault
    return row  # type: ignore[no-any-return]


def test_the_row_loses_and_duplicates_nothing(lab_run: Run, request: pytest.FixtureRequest) -> None:
    row = _the_row(lab_run, request.module.FAULT)
    assert row["runs"] == 1 and row["seeds"] == [1]
    assert row["transitions_expected"] > 50
    assert (row["lost"], row["duplicated"]) == (0, 0), row["details"]


def test_the_row_finds_and_bounds_every_window_and_no_false_one(
    lab_run: Run, request: pytest.FixtureRequest
) -> None:
    """Found, bounded, none false; a class that differs only is CLASS_FLAKE (the next test).
    For probe-refused this is the claim that a refused health port changes no window."""
    row = _the_row(lab_run, request.module.FAULT)
    assert not any("false positives" in d for d in row["details"]), row["details"]
    matched = int(row["windows_matched"].split("/")[0]) + row["differing_only_in_class"]
    assert matched + row["windows_matched_undecided"] == 1, row["details"]


def test_the_row_gives_every_window_its_true_class(
    lab_run: Run, request: pytest.FixtureRequest
) -> None:
    """Every window takes its true class, or names it as undecided where the stored samples leave
    the order of its causes open (matched-undecided: labcli.CLASS_FLAKE's comment). A class the
    samples decide wrongly is CLASS_FLAKE: it xfails with the row's details in the reason
    (pytest -ra prints it in the CI log: which window took which class)."""
    code, _rows, err = lab_run
    row = _the_row(lab_run, request.module.FAULT)
    if row["windows_matched"] != "1/1" and row["windows_matched_undecided"] != 1:
        pytest.xfail(f"{CLASS_FLAKE}: {row['details']}")
    assert code == 0, err[-3000:]
