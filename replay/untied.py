"""Failed requests no window can hold: access-log failures that cannot be tied to a node.

An access-log line is the LB's own failure towards a target (recorder.accessfields); replay
ties it to a (Service, node) by the target's address among the Nodes' addresses and its port
among the Services' nodePorts (replay.impact.access_impact). A line whose target matches no
Node (a node the store never saw, an IP target, a line without a target) is never guessed onto
a window: `gapwatch gaps` lists it here instead, per Service (None where the port names no
Service either), with its count and request times. Reads only the `access`, `node` and
`service` facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from gapwatch.recorder.store import translate_errors
from gapwatch.replay.facts import FACT_COLUMNS
from gapwatch.replay.fold import FoldState, fold
from gapwatch.replay.impact import access_impact
from gapwatch.replay.model import ServiceRef

#: The facts that tie an access-log line to a lane (and the lines themselves).
TYING_FACTS = ("access", "node", "service")


@dataclass(frozen=True, slots=True)
class Untied:
    """The failed requests of one cluster (and Service, when the port told it) at no known node."""

    cluster: str
    service: ServiceRef | None
    #: request times (us since the epoch), in order
    times_us: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.times_us)


def untied_from(state: FoldState) -> list[Untied]:
    """The untied failures of a folded state, per (cluster, Service)."""
    found = access_impact(state).unknown_at
    out = [Untied(cluster, svc, tuple(times)) for (cluster, svc), times in found.items()]
    out.sort(key=lambda u: (u.cluster, u.service.key if u.service else ""))
    return out


def untied_failures(
    engine: Engine,
    *,
    cluster: str | None = None,
    service: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
) -> list[Untied]:
    """The store's untied failures, filtered like `gaps` (cluster; `namespace/name`: that
    Service's and those whose Service is unknown; request times in [since, until))."""
    clauses = ["fact IN ('access', 'node', 'service')"]
    params: dict[str, object] = {}
    if cluster is not None:
        clauses.append("cluster = :cluster")
        params["cluster"] = cluster
    sql = (
        f"SELECT {', '.join(FACT_COLUMNS)} FROM facts WHERE {' AND '.join(clauses)} "
        "ORDER BY event_id, seq"
    )
    with translate_errors(engine), engine.connect() as conn:
        state = fold(FoldState(), conn.execute(text(sql), params))
    out = []
    for u in untied_from(state):
        if service is not None and u.service is not None and u.service.key != service:
            continue
        times = tuple(
            t
            for t in u.times_us
            if (since_us is None or t >= since_us) and (until_us is None or t < until_us)
        )
        if times:
            out.append(Untied(u.cluster, u.service, times))
    return out
