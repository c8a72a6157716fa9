"""Facts grouped one row per key per batch (ingest round 8, issue 15): measurement only.

Today each fact is a `facts` row with a heap tuple and two btree entries (the primary key and
`ix_facts_cluster_namespace_name_at_us`). Here the facts of a batch of events that share a key
(cluster, namespace, name, fact kind: what replay's reads select by, replay/load.py `_where`,
replay/scope.py) become one row of a scratch table `facts_grouped`, the batch's values in arrays
in (event_id, seq) order, with the row's least and greatest `at_us` (`lo_us`, `hi_us`) so that a
read of a time range can skip rows by the index and recheck the rest. The row's primary key is
its first fact's (event_id, seq): a read of the facts after an event id (a refresh) is a range of
it. A column whose every value in the row is NULL is stored as NULL, not as an array of NULLs.

Nothing reads this table: `benchmarks/ingest.py --facts-grouped` times writing it beside the
facts as they are, `benchmarks/fact_reads.py`-style reads of it are in benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gapwatch.replay.facts import FACT_COLUMNS

_AT = {name: i for i, name in enumerate(FACT_COLUMNS)}
KEY = ("cluster", "namespace", "name", "fact")
_KEY_AT = tuple(_AT[c] for c in KEY)
#: Per-fact values kept in arrays (everything but the key), FACT_COLUMNS order.
ARRAYS = tuple(c for c in FACT_COLUMNS if c not in KEY)
_ARRAY_AT = tuple(_AT[c] for c in ARRAYS)
_TYPES = {"event_id": "int8", "seq": "int4", "at_us": "int8", "prev_us": "int8", "src_us": "int8"}
_NOT_NULL = {"event_id", "seq", "at_us", "op"}


def _array_type(column: str) -> str:
    if column in _TYPES:
        return _TYPES[column]
    return "int8" if column.startswith("num") else "text"


#: The scratch table's columns: the first fact's (event_id, seq), the key, the time range, the
#: count, then one array per per-fact column (named `<column>s`).
COLUMNS = ("event_id", "seq", *KEY, "lo_us", "hi_us", "n", *(f"{c}s" for c in ARRAYS))
COPY_TYPES = (
    "int8", "int4", "text", "text", "text", "text", "int8", "int8", "int4",
    *(f"{_array_type(c)}[]" for c in ARRAYS),
)  # fmt: skip
DDL = (
    "CREATE TABLE facts_grouped (event_id bigint NOT NULL, seq integer NOT NULL, "
    "cluster text NOT NULL, namespace text, name text, fact text NOT NULL, "
    "lo_us bigint NOT NULL, hi_us bigint NOT NULL, n integer NOT NULL, "
    + ", ".join(
        f"{c}s {_array_type(c).replace('int8', 'bigint').replace('int4', 'integer')}[]"
        + (" NOT NULL" if c in _NOT_NULL else "")
        for c in ARRAYS
    )
    + ", CONSTRAINT pk_facts_grouped PRIMARY KEY (event_id, seq))",
    "CREATE INDEX ix_facts_grouped_key ON facts_grouped (cluster, namespace, name, fact, lo_us)",
)
#: The arrays compressed with lz4 instead of the server's default pglz (PostgreSQL 14+, a
#: server built with lz4): a large row's arrays are compressed before they are stored.
LZ4 = (*DDL, *(f"ALTER TABLE facts_grouped ALTER {c}s SET COMPRESSION lz4" for c in ARRAYS))


def group(facts: Iterable[Sequence[Any]], batch: int) -> list[tuple[Any, ...]]:
    """The facts of each `batch` events (by event id: 1..batch, batch+1..2*batch, ...) that
    share a key, as `facts_grouped` rows; facts in (event_id, seq) order, as derived."""
    out: list[tuple[Any, ...]] = []
    current = -1
    keys: dict[tuple[Any, ...], list[Sequence[Any]]] = {}
    for fact in facts:
        b = (fact[0] - 1) // batch
        if b != current:
            out.extend(_rows(keys))
            keys, current = {}, b
        key = tuple(fact[i] for i in _KEY_AT)
        members = keys.get(key)
        if members is None:
            keys[key] = [fact]
        else:
            members.append(fact)
    out.extend(_rows(keys))
    return out


def _rows(keys: dict[tuple[Any, ...], list[Sequence[Any]]]) -> Iterable[tuple[Any, ...]]:
    for key, members in keys.items():
        columns = [[f[i] for f in members] for i in _ARRAY_AT]
        at = columns[ARRAYS.index("at_us")]
        yield (
            members[0][0],
            members[0][1],
            *key,
            min(at),
            max(at),
            len(members),
            *(None if all(v is None for v in col) else col for col in columns),
        )
