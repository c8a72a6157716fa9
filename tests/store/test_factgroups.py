"""benchmarks/factgroups.py (ingest round 8): the grouped layout holds exactly the facts.

Measurement code, but its figures are only worth something if every encoding stores what was
derived: each one (COPY text and binary built by hand, psycopg's binary `write_row` of the
lists) is COPYed into `facts_grouped` on PostgreSQL and unnested back, every column compared,
on the realistic mix and on facts whose text needs every escape (array quoting and COPY's).
"""

from __future__ import annotations

import io
from typing import Any

import psycopg
import pytest
from psycopg.copy import FileWriter
from sqlalchemy.engine import make_url

from benchmarks import factgroups
from benchmarks.observations import generate
from gapwatch.replay.facts import Fact, derive_all

AWKWARD = ["a,b", 'say "hi"', "back\\slash", "tab\there", "new\nline", "cr\rhere", "{braces}",
           "NULL", "null", "", " lead", "ünï", "\\N", "end\\"]  # fmt: skip


def awkward_facts() -> list[Fact]:
    """Facts of two keys over three batches of 3 events, text columns full of escapes, NULLs
    in some facts of a key and not others, and a key with one fact in a batch."""
    out = []
    for event_id in range(1, 10):
        for seq in range(2):
            text = AWKWARD[(event_id + seq) % len(AWKWARD)]
            odd = event_id % 2 == 1
            out.append(Fact(
                event_id=event_id, seq=seq, cluster="c,1", at_us=1_000_000 * event_id + seq,
                prev_us=None if odd else 5, src_us=None, fact="slice" if seq == 0 else "pod",
                op="MODIFIED", namespace=None if event_id == 4 else 'ns "x"', name='gw\\1,"2"',
                node=None if seq == 0 else text, state=text, num1=event_id if odd else None,
                num2=-(2**63), num3=2**63 - 1, num4=None, text1=text, text2=None if odd else "",
                text3="x,y",
            ))  # fmt: skip
    return out


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def stored(url: str, data: bytes, fmt: str) -> list[tuple[Any, ...]]:
    """COPY `data` into a new facts_grouped, then its facts unnested, in (event_id, seq) order."""
    cols = ", ".join(factgroups.COLUMNS)
    with psycopg.connect(_dsn(url)) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS facts_grouped")
        for statement in factgroups.DDL:
            cur.execute(statement)
        with cur.copy(f"COPY facts_grouped ({cols}) FROM STDIN (FORMAT {fmt})") as copy:
            copy.write(data)
        rows = cur.execute(f"{factgroups.UNNESTED} ORDER BY 1, 2").fetchall()
        conn.rollback()
    return rows


def psycopg_binary(url: str, rows: list[tuple[Any, ...]]) -> bytes:
    """psycopg's binary `write_row` of the list columns, into memory (nothing sent)."""
    out = io.BytesIO()
    with (
        psycopg.connect(_dsn(url)) as conn,
        conn.cursor() as cur,
        psycopg.Copy(cur, binary=True, writer=FileWriter(out)) as copy,
    ):
        copy.set_types(factgroups.COPY_TYPES)
        for row in rows:
            copy.write_row(row)
    return out.getvalue()


@pytest.mark.postgres
@pytest.mark.parametrize("source", ["mix", "awkward"])
@pytest.mark.parametrize("encoding", ["text by hand", "binary by hand", "psycopg binary"])
def test_every_encoding_unnests_to_the_facts(pg_empty_url: str, source: str, encoding: str) -> None:
    facts = (
        derive_all(enumerate(generate(600, seed=3), start=1))
        if source == "mix"
        else awkward_facts()
    )
    batch = 100 if source == "mix" else 3
    rows = factgroups.group(facts, batch)
    assert len(rows) < len(facts)
    if encoding == "text by hand":
        data, fmt = factgroups.text_copy(rows).encode(), "TEXT"
    elif encoding == "binary by hand":
        data, fmt = factgroups.BinaryCopy().rows(rows), "BINARY"
    else:
        data, fmt = psycopg_binary(pg_empty_url, rows), "BINARY"
    assert stored(pg_empty_url, data, fmt) == [tuple(f) for f in facts]


@pytest.mark.postgres
def test_hybrid_keeps_a_keys_only_fact_apart(pg_empty_url: str) -> None:
    facts = awkward_facts()
    singles: list[Any] = []
    rows = factgroups.group(facts, 3, singles)
    # event 4 names no namespace: its two facts are the only ones of their keys in batch 2
    assert [(f.event_id, f.seq) for f in singles] == [(4, 0), (4, 1)]
    assert all(row[8] > 1 for row in rows)
    back = stored(pg_empty_url, factgroups.BinaryCopy().rows(rows), "BINARY")
    assert sorted([*back, *(tuple(f) for f in singles)]) == [tuple(f) for f in facts]


def test_a_row_per_key_per_batch_with_its_time_range() -> None:
    facts = awkward_facts()
    rows = factgroups.group(facts, 3)
    # per batch of events 1-3, 4-6, 7-9: the slice facts (seq 0) and the pod facts (seq 1) of
    # each name; event 4's facts have their own key (no namespace)
    keys = [(row[0], row[1], row[5], row[8]) for row in rows]
    assert (4, 0, "slice", 1) in keys and (4, 1, "pod", 1) in keys
    assert sum(row[8] for row in rows) == len(facts)
    for row in rows:
        at = row[factgroups.COLUMNS.index("at_uss")]
        assert (row[6], row[7]) == (min(at), max(at))
        ids = row[factgroups.COLUMNS.index("event_ids")]
        assert len({(i - 1) // 3 for i in ids}) == 1  # never across a batch
    # a column NULL in every fact of a row is NULL, not a list of NULLs
    assert all(row[factgroups.COLUMNS.index("src_uss")] is None for row in rows)
