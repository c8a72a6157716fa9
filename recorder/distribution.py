"""Where each table goes when one store holds a fleet on Citus (docs/citus.md).

Every table is one of three kinds, and tests/store/test_distribution.py holds the schema to it:

- **distributed by `cluster`**, all colocated with `events`: a cluster's rows, and everything
  derived from them, live on one worker. Every unique key and index includes `cluster` (Citus
  enforces a unique key only when it holds the distribution column; an index without it could
  only serve queries that fan out to every shard).
- **reference**: small, global, copied to every worker.
- **coordinator-local**: stays on the coordinator (rows that may have no cluster).

`citus_statements` is what an operator runs on the coordinator after `gapwatch db upgrade`.
"""

from __future__ import annotations

DISTRIBUTION_COLUMN = "cluster"
#: The table the others are colocated with.
ANCHOR = "events"
DISTRIBUTED: tuple[str, ...] = (
    "events",
    "event_keys",
    "source_checkpoints",
    "facts",
    "replay_windows",
    "replay_rollouts",
    "replay_lags",
    "replay_segments",
)
#: `replay_state` holds where the projections stand (one row per key, read by every refresh).
REFERENCE: tuple[str, ...] = ("replay_state",)
#: `quarantine` keeps observations that could not be stored, some without a cluster;
#: `alembic_version` is the schema's revision; `projector_positions`/`projector_failures` are
#: the one facts projector's position in the log and the events it stepped over (a projector
#: per cluster would key them by cluster and distribute them: docs/citus.md).
COORDINATOR_LOCAL: tuple[str, ...] = (
    "quarantine",
    "alembic_version",
    "projector_positions",
    "projector_failures",
)


def citus_statements() -> list[str]:
    """The SQL that turns a migrated store into a distributed one (coordinator, once, before
    the recorders start; the tables may hold rows: Citus copies them to the shards)."""
    out = [f"SELECT create_distributed_table('{ANCHOR}', '{DISTRIBUTION_COLUMN}')"]
    out += [
        f"SELECT create_distributed_table('{t}', '{DISTRIBUTION_COLUMN}', "
        f"colocate_with => '{ANCHOR}')"
        for t in DISTRIBUTED
        if t != ANCHOR
    ]
    out += [f"SELECT create_reference_table('{t}')" for t in REFERENCE]
    return out
