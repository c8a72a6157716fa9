"""Tables printed by `emit_rows` (`db stats`, `sql`, ...) never cut a cell: at a pipe's 80
columns a value too wide for its column wraps onto the next line instead of ending in `…`."""

from __future__ import annotations

import pytest

from gapwatch.recorder.cliutil import OutputFormat, emit_rows


def test_a_cell_too_wide_wraps_and_is_never_cut(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    first, last = "2026-12-04T22:08:08.444261Z", "2026-12-04T23:59:59.999999Z"
    row = {
        "cluster": "eu-prod-1", "source": "k8s-watch", "kind": "EndpointSlice",
        "events": 123456, "first": first, "last": last,
    }  # fmt: skip
    emit_rows([row], list(row), OutputFormat.table, title="events")
    out = capsys.readouterr().out
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    body = [line.split("│")[1:-1] for line in out.splitlines() if line.startswith("│")]
    cells = ["".join(line[i].strip() for line in body) for i in range(len(row))]
    assert cells == [str(v) for v in row.values()]  # the one row, each cell whole
