"""The throwaway PostgreSQL moved into the package (gapwatch.recorder.lab.pgserver) so that
`gapwatch lab` can start one; `python tests/pgserver.py start DIR [PORT] [--durable] | stop DIR`
still works (.ci/run uses it)."""

from gapwatch.recorder.lab.pgserver import (
    DURABILITY_SETTINGS,
    FAST_SETTINGS,
    describe_durability,
    durability,
    free_port,
    main,
    pg_bin,
    start,
    stop,
)

__all__ = [
    "DURABILITY_SETTINGS",
    "FAST_SETTINGS",
    "describe_durability",
    "durability",
    "free_port",
    "main",
    "pg_bin",
    "start",
    "stop",
]

if __name__ == "__main__":
    main()
