"""Honest answers for the read commands: a filter that names nothing is an error, not "no gaps".

In a postmortem an empty table reads as "nothing happened". So before a command queries, every
filter that names a thing (`--cluster`, `--service`, `--node`, `--rollout`) is checked against
what the store knows, and a time range must run forwards. A miss prints one line on stderr that
says what was not found and lists the closest names (difflib), and exits 2 (usage).

The commands call `open_checked` (or `check_filters` / `check_range`); this module only reads
the store.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NoReturn

from sqlalchemy import Engine, text

from gapwatch.recorder.cliutil import open_store, time_option, usage_error
from gapwatch.recorder.store import translate_errors
from gapwatch.replay import api
from gapwatch.replay.model import ServiceRef


def close_matches(word: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """The known names closest to `word`; names that contain it (or it them) come first."""
    pool = sorted(set(choices))
    low = word.lower()
    inside = [c for c in pool if low and (low in c.lower() or c.lower() in low)]
    fuzzy = difflib.get_close_matches(word, pool, n=n, cutoff=0.5)
    return list(dict.fromkeys(inside + fuzzy))[:n]


def not_found(
    what: str, value: str, option: str, choices: Iterable[str], where: str = ""
) -> NoReturn:
    """`no cluster 'nope' in this store (--cluster); close matches: seed, aws`, exit 2."""
    pool = sorted(set(choices))
    close = close_matches(value, pool)
    if close:
        hint = "; close matches: " + ", ".join(close)
    elif pool:
        shown = ", ".join(pool[:8]) + (", ..." if len(pool) > 8 else "")
        hint = f"; known: {shown}"
    else:
        hint = "; the store knows none"
    usage_error(f"no {what} {value!r} {where or 'in this store'} ({option}){hint}")


def check_range(since: datetime | None, until: datetime | None) -> None:
    """`--since` must lie before `--until`."""
    if since is not None and until is not None and since >= until:
        usage_error(
            f"--since {since.isoformat()} is not before --until {until.isoformat()}: "
            "the range is empty"
        )


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


def _clusters(engine: Engine) -> list[str]:
    with translate_errors(engine), engine.connect() as conn:
        return [c for (c,) in conn.execute(text("SELECT DISTINCT cluster FROM events"))]


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
    """Check every given filter against the store; return the LB-facing Services they allow."""
    services = api.services(engine)
    if cluster is not None:
        known = set(_clusters(engine)) | {s.cluster for s in services}
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
