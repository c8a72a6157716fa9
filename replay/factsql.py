"""The SQL of replay's reads of the facts table: its columns, the WHERE clause of a cluster's, a
Service's or a checkpoint's facts, and a statement with its parameters bound (what a `COPY
(SELECT ...)` needs). Shared by replay.load (SQLite, and PostgreSQL's row path) and
replay.copyfold (PostgreSQL's Arrow path)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from gapwatch.recorder.tables import copy_types
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.tables import facts as facts_table

#: the facts' columns in replay.facts.FACT_COLUMNS order, as a SELECT list
COLUMNS = ", ".join(FACT_COLUMNS)
#: their PostgreSQL types, in that order (a binary COPY's `set_types`)
PG_TYPES = copy_types(facts_table, FACT_COLUMNS)


def where(
    cluster: str | None, service: ServiceRef | None, after_id: int, until_id: int | None = None
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (with its parameters) of the facts after `after_id` (and up to
    `until_id`), of one cluster's or of what one Service's replay reads."""
    clauses = ["event_id > :after"]
    params: dict[str, Any] = {"after": after_id}
    if until_id is not None:  # a refresh's checkpoint: up to the newest fact it saw
        clauses.append("event_id <= :until")
        params["until"] = until_id
    if cluster is not None:
        clauses.append("cluster = :cluster")
        params["cluster"] = cluster
    if service is not None:
        # index-friendly (cluster, namespace, ...): the Service's own facts, the pods (and
        # their restarts) and workloads of its namespace, the cluster's nodes, and access-log
        # lines and CloudTrail membership changes that name no Service (tied by target
        # address and NodePort), kube-proxy's syncs per node, API requests without their
        # objects, the stretches a watch relist passed over (of the namespace or of every
        # namespace), the prober's self-check verdicts (of the cluster: replay.shortcircuit)
        params.update(cluster=service.cluster, ns=service.namespace, svc=service.name)
        clauses.append("cluster = :cluster")
        clauses.append(
            "((namespace = :ns AND (name = :svc"
            " OR fact IN ('pod', 'restart', 'workload', 'apireq', 'relist')))"
            " OR (namespace IS NULL AND fact IN ('node', 'access', 'member', 'sync', 'apireq',"
            " 'tgconf', 'relist', 'selfcheck')))"
        )
    return " AND ".join(clauses), params


def bound(conn: Connection, sql: str, params: dict[str, Any]) -> str:
    """`sql` with `params` bound as literals, in `conn`'s dialect (a COPY takes no parameters)."""
    compiled = text(sql).bindparams(**params)
    return str(compiled.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
