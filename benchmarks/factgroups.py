"""Facts grouped one row per key per batch (ingest round 8, issue 15): measurement only.

Today each fact is a `facts` row with a heap tuple and two btree entries (the primary key and
`ix_facts_cluster_namespace_name_at_us`). Here the facts of a batch of events that share a key
(cluster, namespace, name, fact kind: what replay's reads select by, replay/factsql.py `where`,
replay/scope.py) become one row of a scratch table `facts_grouped`, the batch's values in arrays
in (event_id, seq) order, with the row's least and greatest `at_us` (`lo_us`, `hi_us`) so that a
read of a time range can skip rows by the index and recheck the rest. The row's primary key is
its first fact's (event_id, seq): a read of the facts after an event id (a refresh) is a range of
it. A column whose every value in the row is NULL is stored as NULL, not as an array of NULLs.

Nothing reads this table: `benchmarks/ingest.py --facts-grouped` times writing it beside the
facts as they are, `benchmarks/fact_reads.py`-style reads of it are in benchmarks/README.md.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection

from gapwatch.recorder.observation import Observation
from gapwatch.replay.facts import _FACT_TYPES, FACT_COLUMNS, derive_all, insert_facts

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


def group(
    facts: Iterable[Sequence[Any]], batch: int, singles: list[Sequence[Any]] | None = None
) -> list[tuple[Any, ...]]:
    """The facts of each `batch` events (by event id: 1..batch, batch+1..2*batch, ...) that
    share a key, as `facts_grouped` rows; facts in (event_id, seq) order, as derived. With
    `singles` (the hybrid layout), a key's only fact in a batch is appended there instead, to
    stay a `facts` row: most pods and nodes appear once a batch, and a one-fact row costs
    more than a plain fact to encode and to read."""
    out: list[tuple[Any, ...]] = []
    end = 0  # the current batch's last event id
    keys: dict[tuple[Any, ...], list[Sequence[Any]]] = {}
    key_of = _key_of
    for fact in facts:
        if fact[0] > end:
            out.extend(_rows(keys, singles))
            keys = {}
            end = ((fact[0] - 1) // batch + 1) * batch
        keys.setdefault(key_of(fact), []).append(fact)
    out.extend(_rows(keys, singles))
    if singles is not None:
        singles.sort(key=_id_of)
    return out


_key_of = itemgetter(*_KEY_AT)
_arrays_of = itemgetter(*_ARRAY_AT)
_AT_US = ARRAYS.index("at_us")


_id_of = itemgetter(0, 1)


def _rows(
    keys: dict[tuple[Any, ...], list[Sequence[Any]]], singles: list[Sequence[Any]] | None
) -> Iterable[tuple[Any, ...]]:
    for key, members in keys.items():
        n = len(members)
        if n == 1 and singles is not None:
            singles.append(members[0])
            continue
        columns = _arrays_of(tuple(zip(*members, strict=True)))
        at = columns[_AT_US]
        yield (
            members[0][0],
            members[0][1],
            *key,
            min(at),
            max(at),
            n,
            *(None if col.count(None) == n else list(col) for col in columns),
        )


_INT_ARRAYS = frozenset(i for i, c in enumerate(ARRAYS) if _array_type(c) != "text")
#: Characters COPY's text format escapes (a backslash, tab, newline, carriage return).
_COPY_SPECIAL = re.compile("[\\\\\t\n\r]").search


def text_copy(rows: Iterable[Sequence[Any]]) -> str:
    """`rows` as COPY's text format (for `COPY facts_grouped FROM STDIN`), built by hand: the
    arrays as literals, every text element quoted (slices' pods and nodes' addresses hold
    commas), backslashes and quotes escaped for the array, then for COPY."""
    encode = [_int_array if i in _INT_ARRAYS else _text_array for i in range(len(ARRAYS))]
    lines = []
    for row in rows:
        fields = [str(row[0]), str(row[1])]
        fields.extend(_text(v) for v in row[2:6])
        fields.extend((str(row[6]), str(row[7]), str(row[8])))
        fields.extend(map(_apply, encode, row[9:]))
        lines.append("\t".join(fields))
    lines.append("")
    return "\n".join(lines)


def _apply(encode: Any, col: Any) -> str:
    return "\\N" if col is None else encode(col)


def _copy_escape(value: str) -> str:
    if _COPY_SPECIAL(value):
        for c, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            value = value.replace(c, escaped)
    return value


def _text(value: str | None) -> str:
    return "\\N" if value is None else _copy_escape(value)


def _int_array(col: list[int | None]) -> str:
    if None in col:
        return "{" + ",".join("NULL" if v is None else str(v) for v in col) + "}"
    return "{" + ",".join(map(str, col)) + "}"


def _text_array(col: list[str | None]) -> str:
    if None not in col:
        joined = '","'.join(col)  # type: ignore[arg-type]
        if joined.count('"') == 2 * (len(col) - 1) and not _COPY_SPECIAL(joined):
            return '{"' + joined + '"}'
    items = (
        "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in col
    )
    return _copy_escape("{" + ",".join(items) + "}")


#: What replay's readers would read instead of `facts`: one row per fact again (multi-argument
#: unnest pads a NULL array with NULLs), FACT_COLUMNS order.
UNNESTED = (
    "SELECT u.event_id, u.seq, g.cluster, u.at_us, u.prev_us, u.src_us, g.fact, u.op, "
    "g.namespace, g.name, u.node, u.state, u.num1, u.num2, u.num3, u.num4, u.text1, u.text2, "
    "u.text3 FROM facts_grouped g, unnest("
    + ", ".join(f"g.{c}s" for c in ARRAYS)
    + ") AS u("
    + ", ".join(ARRAYS)
    + ")"
)


def write_grouped(conn: Connection, rows: list[tuple[int, Observation]], *, text: bool) -> None:
    """A derive hook like replay.facts.write_facts (the projector calls it with each step's new
    events, in its own transaction): the same facts, grouped per key per 1,000 events into
    `facts_grouped` (which must exist: DDL), as COPY text built by hand or psycopg's binary
    `write_row` of the list columns."""
    grouped = group(derive_all(rows), 1000)
    if not grouped:
        return
    raw: Any = conn.connection.driver_connection
    statement = f"COPY facts_grouped ({', '.join(COLUMNS)}) FROM STDIN"
    with raw.cursor() as cur:
        if text:
            with cur.copy(statement) as copy:
                copy.write(text_copy(grouped))
            return
        with cur.copy(f"{statement} (FORMAT BINARY)") as copy:
            copy.set_types(COPY_TYPES)
            for row in grouped:
                copy.write_row(row)


def write_hybrid(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    """The hybrid layout: a key's facts of a batch in one `facts_grouped` row (BinaryCopy)
    when it has more than one there, else a plain `facts` row (replay.facts.insert_facts)."""
    singles: list[Sequence[Any]] = []
    grouped = group(derive_all(rows), 1000, singles)
    insert_facts(conn, singles)  # type: ignore[arg-type]
    if grouped:
        raw: Any = conn.connection.driver_connection
        statement = f"COPY facts_grouped ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        with raw.cursor() as cur, cur.copy(statement) as copy:
            copy.write(BinaryCopy().rows(grouped))


def copy_hybrid(cur: Any, facts: Sequence[Sequence[Any]]) -> None:
    """`write_hybrid`'s two COPYs of facts already derived, on a psycopg cursor (ingest session
    33: benchmarks/pairedfacts.py writes them on the facts' own connection)."""
    singles: list[Sequence[Any]] = []
    grouped = group(facts, 1000, singles)
    if singles:
        with cur.copy(f"COPY facts ({', '.join(FACT_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_FACT_TYPES)
            for fact in singles:
                copy.write_row(fact)
    if grouped:
        statement = f"COPY facts_grouped ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        with cur.copy(statement) as copy:
            copy.write(BinaryCopy().rows(grouped))


def write_grouped_text(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    write_grouped(conn, rows, text=True)


def write_grouped_binary(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    write_grouped(conn, rows, text=False)


_OIDS = {"int8": 20, "int4": 23, "text": 25}
_NULL = b"\xff\xff\xff\xff"
_I32 = struct.Struct(">i").pack


class _Elements(dict[Any, bytes]):
    """Each array element's binary COPY form (length, then bytes; NULL is length -1), made once
    per distinct value: kind names, node names, states and small counts repeat in every batch."""

    def __init__(self, kind: str) -> None:
        super().__init__({None: _NULL})
        self.kind = kind

    def __missing__(self, value: Any) -> bytes:
        out: bytes
        if self.kind == "text":
            data = value.encode()
            out = _I32(len(data)) + data
        else:
            out = struct.pack(
                ">iq" if self.kind == "int8" else ">ii", 8 if self.kind == "int8" else 4, value
            )
        self[value] = out
        return out


class BinaryCopy:
    """`facts_grouped` rows as COPY's binary format, built by hand with `struct` (psycopg dumps
    a list element by element in Python): an int array without NULLs is one `struct` call, any
    other array the join of its elements' cached forms."""

    def __init__(self) -> None:
        self.kinds = [_array_type(c) for c in ARRAYS]
        self.elements = [_Elements(k) for k in self.kinds]
        self.structs: dict[tuple[str, int], struct.Struct] = {}

    def rows(self, rows: Iterable[Sequence[Any]]) -> bytes:
        out = [b"PGCOPY\n\xff\r\n\x00", struct.pack(">ii", 0, 0)]
        count = struct.pack(">h", len(COLUMNS))
        scalars = struct.Struct(">iqii")
        for row in rows:
            out.append(count)
            out.append(scalars.pack(8, row[0], 4, row[1]))
            out.extend(_NULL if v is None else _I32(len(b := v.encode())) + b for v in row[2:6])
            out.append(struct.pack(">iqiqii", 8, row[6], 8, row[7], 4, row[8]))
            out.extend(map(self._array, self.kinds, self.elements, row[9:]))
        out.append(b"\xff\xff")
        return b"".join(out)

    def _array(self, kind: str, elements: _Elements, col: list[Any] | None) -> bytes:
        if col is None:
            return _NULL
        n = len(col)
        hasnull = None in col
        head = struct.pack(">iiiii", 1, int(hasnull), _OIDS[kind], n, 1)
        if kind != "text" and not hasnull:
            packer = self.structs.get((kind, n))
            if packer is None:
                packer = struct.Struct(">" + ("iq" if kind == "int8" else "ii") * n)
                self.structs[kind, n] = packer
            values = [8 if kind == "int8" else 4] * (2 * n)
            values[1::2] = col
            body = head + packer.pack(*values)
        else:
            body = head + b"".join(map(elements.__getitem__, col))
        return _I32(len(body)) + body


def derive_only(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    """A derive hook that derives the facts and writes none: what any layout of them costs at
    least while derive is Python."""
    derive_all(rows)
