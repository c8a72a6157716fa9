"""replay.load turns Arrow columns of the facts' COPY into Python values for the row fold:
the same values as Arrow's own conversion, text through its dictionary (one object per
distinct string). Literal columns, chunked as the COPY's pieces are."""

from __future__ import annotations

import pyarrow as pa

from gapwatch.replay.copyfold import _pylist


def test_text_with_nulls_across_chunks_keeps_every_value_and_shares_repeats() -> None:
    column = pa.chunked_array(
        [["node-1", None, "node-2"], ["node-1", "node-1", None], [None, "node-2"]],
        type=pa.string(),
    )
    values = _pylist(column)
    assert values == column.to_pylist()
    assert values[0] is values[3] is values[4]  # one object per distinct value
    assert values[2] is values[7]


def test_all_null_and_empty_text_columns() -> None:
    assert _pylist(pa.chunked_array([[None, None], [None]], type=pa.string())) == [None] * 3
    assert _pylist(pa.chunked_array([], type=pa.string())) == []


def test_integers_with_and_without_nulls() -> None:
    plain = pa.chunked_array([[1, 2], [3]], type=pa.int64())
    assert _pylist(plain) == [1, 2, 3]
    holed = pa.chunked_array([[1, None], [3]], type=pa.int32())
    assert _pylist(holed) == [1, None, 3]
