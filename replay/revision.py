"""Which code built the stored projections: a digest of the replay package's modules.

The projections (windows, rollouts, lags, lane segments, the Services' context) are what one
version of replay's rules made of the facts. A refresh recomputes only the Services that new
facts touch, so after an upgrade the others kept the old rules' windows, and nothing said which
rules had built them. `current()` is a digest of every module of `gapwatch.replay` (their
source, in path order): any change to the code that folds, detects, groups or counts changes it.
The price is a rebuild after a change that moves no output (on 1M events a rebuild reads and
detects in seconds: benchmarks/replay.py); the gain is that no one has to remember to bump a
number when a rule changes.

`rebuild` stores it in replay_state under `KEY`; a refresh that finds another value (or none,
on projections built before this record) rebuilds first, under the refresh lock
(replay.projections). Two different builds refreshing one store therefore rebuild it in turn:
run one build against a store.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata
from pathlib import Path

#: replay_state key: the revision of the code that built the projections
KEY = "detect_revision"


@functools.cache
def current() -> int:
    """This installation's revision: the first 8 bytes of a SHA-256 over every module of the
    replay package (relative path and source), as a signed 64-bit integer (replay_state's
    column); from the package's version where no source is installed."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    sources = sorted(root.rglob("*.py"))
    for path in sources:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    if not sources:
        digest.update(metadata.version("gapwatch").encode())
    return int.from_bytes(digest.digest()[:8], "big", signed=True)
