"""Honest answers for the read commands: a filter that names nothing is an error, not "no gaps".

In a postmortem an empty table reads as "nothing happened". So before a command queries, every
filter that names a thing (`--cluster`, `--service`, `--node`, `--rollout`) is checked against
what the store knows, and a time range must run forwards; an empty answer for a range that lies
wholly outside the recorded events is an error too (recorder.cliutil.check_data_in_range). A
miss prints one line on stderr that says what was not found and lists the closest names
(difflib), and exits 2 (usage).

The commands call `open_checked` (or `check_filters` / `check_range`); this module only reads
the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, text

from gapwatch.recorder.cliutil import (
    check_range,
    known_clusters,
    not_found,
    open_store,
    stderr,
    step_progress,
    time_option,
    usage_error,
)
from gapwatch.recorder.store import translate_errors
from gapwatch.replay import api
from gapwatch.replay.model import ServiceRef


def open_checked(
    db: str,
    *,
    cluster: str | None,
    service: str | None,
    since: str | None,
    until: str | None,
    nodes: Sequence[str] | None = None,
) -> tuple[Engine, datetime | None, datetime | None]:
    """A read command's store and time range, once the range runs forwards (checked before the
    store is opened) and every filter names something the store knows."""
    lo, hi = time_option(since, "--since"), time_option(until, "--until")
    check_range(lo, hi)
    engine = open_store(db)
    check_filters(engine, cluster=cluster, service=service, nodes=nodes)
    return engine, lo, hi


def _nodes(engine: Engine, clusters: Sequence[str]) -> list[str]:
    query = text("SELECT DISTINCT cluster, node FROM events WHERE node IS NOT NULL")
    with translate_errors(engine), engine.connect() as conn:
        return [n for c, n in conn.execute(query) if c in clusters]


def check_filters(
    engine: Engine,
    *,
    cluster: str | None = None,
    service: str | None = None,
    nodes: Sequence[str] | None = None,
    rollout: str | None = None,
) -> list[ServiceRef]:
    """Check every given filter against the store; return the LB-facing Services they allow.

    The projections are brought up to date first, with each step's progress: the first read
    command on a large store (an import's worth of new events) folds and detects for minutes."""
    say_catching_up(engine)
    api.refresh(engine, track=step_progress)
    say_derived_by_other_code(engine)
    services = api.services(engine)
    if cluster is not None:
        known = set(known_clusters(engine)) | {s.cluster for s in services}
        if cluster not in known:
            not_found("cluster", cluster, "--cluster", known)
    allowed = [s for s in services if cluster is None or s.cluster == cluster]
    where = f"in cluster {cluster!r}" if cluster else "in this store"
    if service is not None:
        keys = {s.key for s in allowed}
        if service.count("/") != 1:
            named = [k for k in keys if k.split("/", 1)[-1] == service]
            hint = f" (did you mean {', '.join(sorted(named))}?)" if named else ""
            usage_error(f"--service wants NAMESPACE/NAME, not {service!r}{hint}")
        if service not in keys:
            not_found("LB-facing Service", service, "--service", keys, where)
        allowed = [s for s in allowed if s.key == service]
    if nodes:
        known_nodes = _nodes(engine, sorted({s.cluster for s in allowed} or {cluster or ""}))
        for node in nodes:
            if node not in known_nodes:
                not_found("node", node, "--node", known_nodes, where)
    if rollout is not None:
        resolve_rollout(engine, rollout, cluster)
    return allowed


def resolve_rollout(engine: Engine, value: str, cluster: str | None = None) -> str:
    """The full id of the rollout `value` names: itself, or the one id it is a prefix of (the
    tables print the shortest unique prefix)."""
    ids = [r.id for r in api.rollouts(engine, cluster=cluster)]
    if value in ids:
        return value
    prefixed = [i for i in ids if i.startswith(value)]
    if len(prefixed) == 1:
        return prefixed[0]
    where = f"in cluster {cluster!r}" if cluster else "in this store"
    if len(prefixed) > 1:
        usage_error(f"rollout {value!r} is ambiguous {where}: {', '.join(sorted(prefixed))}")
    not_found("rollout", value, "--rollout", ids, where)


def _scoped(
    where: list[str], cluster: str | None, service: str | None, name_column: str
) -> tuple[list[str], dict[str, str]]:
    """`where` narrowed to the cluster and the NAMESPACE/NAME Service (its name in
    `name_column`), with the parameters."""
    params: dict[str, str] = {}
    if cluster is not None:
        where.append("cluster = :cluster")
        params["cluster"] = cluster
    if service is not None and "/" in service:
        where.append(f"namespace = :ns AND {name_column} = :name")
        params["ns"], params["name"] = service.split("/", 1)
    return where, params


def lb_lanes(engine: Engine, *, cluster: str | None, service: str | None) -> int:
    """How many (Service, node) pairs replay has an LB lane for, within the filters: none means
    no window could be found, whatever happened (no poller, CloudTrail, push API or
    service-controller Event ever named a node's membership)."""
    where, params = _scoped(["lane = 'lb'"], cluster, service, "service")
    query = text(
        "SELECT count(*) FROM (SELECT DISTINCT cluster, namespace, service, node "
        f"FROM replay_segments WHERE {' AND '.join(where)}) AS lanes"
    )
    with translate_errors(engine), engine.connect() as conn:
        return int(conn.execute(query, params).scalar_one())


def unplaced_targets(engine: Engine, *, cluster: str | None, service: str | None) -> int:
    """How many target-health facts name no node, within the filters: an LB poller that found no
    Node of its cluster in the store to map the targets to (docs/lb.md, "Node mapping") recorded
    the LB, but no lane of it, and `gaps` said no poller had recorded one."""
    where, params = _scoped(["fact = 'target'", "node IS NULL"], cluster, service, "name")
    query = text(f"SELECT count(*) FROM facts WHERE {' AND '.join(where)}")
    with translate_errors(engine), engine.connect() as conn:
        return int(conn.execute(query, params).scalar_one())


def blind_note(engine: Engine, *, cluster: str, service: str, windows: int) -> str | None:
    """What `advise` and `whatif` add when they found no window for a Service with no LB lane
    (None where there is a lane or a window): why nothing could be seen, an LB never recorded
    or recorded with no node to place it on."""
    if windows or lb_lanes(engine, cluster=cluster, service=service):
        return None
    from gapwatch.replay.cli_tables import no_lb_lane_for

    unplaced = unplaced_targets(engine, cluster=cluster, service=service)
    return no_lb_lane_for(service, cluster, unplaced)


#: Events behind the projections from which a read command says, in a log, that it catches up.
CATCH_UP_NOTE_FROM = 100_000


def say_catching_up(engine: Engine) -> None:
    """In a log, one line before a read command brings a far-behind store up to date. Its steps
    print a line at most every 10 s and only as they advance, and the steps of a store of one
    Service long counted only "detecting windows of 1 Services", once at its end: `gapwatch gaps`
    after simulating the large preset (1.1 million events) was silent for 25 s. A terminal shows
    the steps' bars instead."""
    if stderr.is_terminal:
        return
    from gapwatch.replay.projections import STATE_KEY

    query = text(
        "SELECT (SELECT max(id) FROM events), (SELECT value FROM replay_state WHERE key = :key)"
    )
    with translate_errors(engine), engine.connect() as conn:
        newest, last = conn.execute(query, {"key": STATE_KEY}).one()
    behind = (newest or 0) - (last or 0)
    if behind >= CATCH_UP_NOTE_FROM:
        stderr.print(
            f"bringing replay's projections up to date first: about {behind:,} events since they "
            "were last updated (minutes on a large store; `gapwatch replay` after an import does "
            "it ahead)",
            markup=False,
        )


def say_derived_by_other_code(engine: Engine) -> None:
    """One line on stderr when other code than this installation's derived some of the facts
    (recorder.derivedby: an upgrade that changed what is derived): the answer reads them with
    this version's rules, and the line names the command that derives them again."""
    from gapwatch.replay.catchup import derived_by

    said = derived_by(engine).message()
    if said:
        stderr.print(f"note: {said}", markup=False, soft_wrap=True)
