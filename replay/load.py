"""Reading facts out of the store for the fold (the only replay module that reads facts).

PostgreSQL: `COPY (SELECT ...) TO STDOUT` in binary with typed loaders (psycopg decodes in C),
the fastest way out measured on this machine. SQLite: one ordered SELECT. Rows come back as
tuples in recorder.facts.FACT_COLUMNS order, whole events in id order, ready for replay.fold.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, text

from recorder.facts import FACT_COLUMNS, derive_all, insert_facts
from recorder.observation import Observation
from recorder.store import translate_errors
from recorder.tables import events
from replay.fold import FoldState, fold
from replay.model import ServiceRef

_COLS = ", ".join(FACT_COLUMNS)
_PG_TYPES = [
    "int8",
    "int4",
    "text",
    "int8",
    "int8",
    "int8",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "int8",
    "int8",
    "int8",
    "int8",
    "text",
    "text",
    "text",
]
SERVICE_FACTS = ("slice", "health", "nodeport", "target", "access", "event", "service")


def _where(
    cluster: str | None, service: ServiceRef | None, after_id: int
) -> tuple[str, dict[str, Any]]:
    clauses = ["event_id > :after"]
    params: dict[str, Any] = {"after": after_id}
    if cluster is not None:
        clauses.append("cluster = :cluster")
        params["cluster"] = cluster
    if service is not None:
        params.update(cluster=service.cluster, ns=service.namespace, svc=service.name)
        clauses.append("cluster = :cluster")
        clauses.append(
            "((namespace = :ns AND name = :svc AND fact IN "
            "('slice','health','nodeport','target','access','event','service'))"
            " OR (fact IN ('pod', 'workload') AND namespace = :ns) OR fact = 'node')"
        )
    return " AND ".join(clauses), params


def iter_facts(
    conn: Connection,
    *,
    cluster: str | None = None,
    service: ServiceRef | None = None,
    after_id: int = 0,
) -> Iterator[Sequence[Any]]:
    """Fact rows in (event_id, seq) order."""
    where, params = _where(cluster, service, after_id)
    sql = f"SELECT {_COLS} FROM facts WHERE {where} ORDER BY event_id, seq"
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            bound = (
                text(sql)
                .bindparams(**params)
                .compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            )
            with cur.copy(f"COPY ({bound}) TO STDOUT (FORMAT BINARY)") as copy:
                copy.set_types(_PG_TYPES)
                yield from copy.rows()
        return
    yield from conn.execute(text(sql), params)


def load_state(
    engine: Engine,
    *,
    cluster: str | None = None,
    service: ServiceRef | None = None,
    state: FoldState | None = None,
) -> FoldState:
    """Fold the stored facts (all, one cluster's, or one Service's) into a state."""
    state = state if state is not None else FoldState()
    with translate_errors(engine), engine.connect() as conn:
        return fold(state, iter_facts(conn, cluster=cluster, service=service))


def max_event_id(conn: Connection) -> int:
    return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one())


def rederive_facts(engine: Engine, *, batch: int = 5000) -> int:
    """Rebuild the facts table from the events' payloads; returns the facts written."""
    written, last = 0, 0
    with translate_errors(engine), engine.begin() as conn:
        conn.execute(text("DELETE FROM facts"))
        while True:
            query = events.select().where(events.c.id > last).order_by(events.c.id).limit(batch)
            rows = [(row.id, _observation(row)) for row in conn.execute(query)]
            if not rows:
                return written
            facts = derive_all(rows)
            insert_facts(conn, facts)
            written += len(facts)
            last = rows[-1][0]


def _observation(row: Any) -> Observation:
    return Observation(
        observed_at=row.observed_at,
        cluster=row.cluster,
        source=row.source,
        kind=row.kind,
        op=row.op,
        payload=row.payload,
        namespace=row.namespace,
        name=row.name,
        node=row.node,
        source_time=row.source_time,
        resource_version=row.resource_version,
        previous_observed_at=row.previous_observed_at,
    )
