"""recorder/uniquekeys.py: a repeated key is found wherever it is, however the line spells it.

The cheap step (colons counted on the line and on orjson's writing back) decides most lines
alone; the property checks it against the truth of generated objects, with colons in keys and
values, spelled plainly or as `\\u003a`, whitespace, nesting and lists.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.recorder.uniquekeys import repeated_key

Pairs = list[tuple[str, Any]]


class Obj:
    """An object as its pairs, repeats kept (what a sender wrote)."""

    def __init__(self, pairs: Pairs) -> None:
        self.pairs = pairs


texts = st.text(alphabet=st.sampled_from('ab:\\"é '), max_size=6)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), texts)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(st.tuples(st.sampled_from(["a", "b", "a:b", ":"]), inner), max_size=4).map(Obj),
    ),
    max_leaves=12,
)


def _string(s: str, escape: bool) -> str:
    text = json.dumps(s)
    return text.replace(":", "\\u003a") if escape else text


def _write(value: Any, escape: bool, space: str) -> str:
    if isinstance(value, Obj):
        items = (
            f"{_string(k, escape)}{space}:{space}{_write(v, escape, space)}" for k, v in value.pairs
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(_write(v, escape, space) for v in value) + "]"
    if isinstance(value, str):
        return _string(value, escape)
    return json.dumps(value)


def _repeats(value: Any) -> bool:
    if isinstance(value, Obj):
        keys = [k for k, _ in value.pairs]
        return len(set(keys)) < len(keys) or any(_repeats(v) for _, v in value.pairs)
    if isinstance(value, list):
        return any(_repeats(v) for v in value)
    return False


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["kind", "uid", "k:"]), values), min_size=1, max_size=4),
    st.booleans(),
    st.sampled_from(["", " "]),
)
def test_found_exactly_when_an_object_repeats_a_key(pairs: Pairs, escape: bool, space: str) -> None:
    top = Obj(pairs)
    text = _write(top, escape, space).encode()
    found = repeated_key(text, orjson.loads(text))
    assert (found is not None) == _repeats(top), text


def test_where_and_which_key() -> None:
    cases = {
        b'{"a":1,"a":2}': ("", "a"),
        b'{"a":"x:y","b":{"c":1,"c":"q"}}': ("b", "c"),
        b'{"a":1,"a":"\\u003a"}': ("", "a"),
        b'{"kind":"Pod","x":[{"t":"12:00"},{"u":1,"u":1}]}': ("x[1]", "u"),
        b'{"payload":{"metadata":{"uid":"1","uid":"2"}}}': ("payload.metadata", "uid"),
        b'{"a:b":1,"c":"d:e:f","g":{"h":"\\u003a"}}': None,
    }
    for text, expected in cases.items():
        assert repeated_key(text, orjson.loads(text)) == expected, text


def test_a_wrapper_item_is_told_from_the_wrapper() -> None:
    """`repeats`: each item's first repeat by its index, its path from the item; a repeat outside
    the items (here `Records` itself) is the document's."""
    from gapwatch.recorder.importers.base import list_under
    from gapwatch.recorder.uniquekeys import Repeats, repeats

    def records(value: Any) -> list[Any] | None:
        return list_under(value, "Records")

    def found(text: bytes) -> Repeats:
        return repeats(text, orjson.loads(text), records)

    assert found(b'{"Records":[{"a":1},{"b":{"c":1}}]}') == Repeats(None, {})
    inside = b'{"Records":[{"a":1,"a":2},{"b":{"c":1,"c":2}},{"d":1}]}'
    assert found(inside) == Repeats(None, {0: ("", "a"), 1: ("b", "c")})
    outside = b'{"Records":[{"a":1}],"Records":[{"a":1,"a":2}]}'
    assert found(outside).whole == ("", "Records")
    assert found(b'{"x":{"y":1,"y":1},"Records":[]}') == Repeats(("x", "y"), {})
