"""Session 28's exact rewrites of replay's hot paths give what the plain forms gave: detect's
window order by the Service's fields (not ServiceRef comparisons) and the bulk fold's NULL
columns made by numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gapwatch.replay.detect import _time_order
from gapwatch.replay.foldbulk import _or_none
from gapwatch.replay.model import ServiceRef, Window

_NAMES = st.sampled_from(["a", "b", "gw", "ns-1", "ns-10", "ns-2"])


@given(
    st.lists(
        st.tuples(st.integers(0, 3), _NAMES, _NAMES, _NAMES, st.sampled_from(["n1", "n2", "n10"])),
        max_size=30,
    )
)
def test_windows_sort_as_by_start_service_and_node(
    rows: list[tuple[int, str, str, str, str]],
) -> None:
    windows = [
        Window(ServiceRef(c, ns, name), node, "node-not-ready", at, at + 1, at, at, at + 1,
               at + 1, "measured", opened_by=(i,))
        for i, (at, c, ns, name, node) in enumerate(rows)
    ]  # fmt: skip
    plain = sorted(windows, key=lambda w: (w.start_us, w.service, w.node))
    assert sorted(windows, key=_time_order) == plain
    # ties keep their order (a stable sort on equal keys): the same windows in the same places
    assert [w.opened_by for w in sorted(windows, key=_time_order)] == [w.opened_by for w in plain]


def test_or_none_is_none_where_negative_and_python_ints_elsewhere() -> None:
    column = np.array([5, -1, 0, 2**40, -1], dtype=np.int64)
    values = _or_none(column)
    assert values == [5, None, 0, 2**40, None]
    assert [type(v) for v in values] == [int, type(None), int, int, type(None)]
    assert _or_none(np.array([], dtype=np.int64)) == []
