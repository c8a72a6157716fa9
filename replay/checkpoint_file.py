"""A checkpoint for the commands that do not live long: kept in the process, saved to a file.

`gapwatch replay` runs once and exits; without a checkpoint its refresh folds each touched
Service's facts from the start of history (on the 1.1M-event `large` store that is the whole
store, several seconds). `refresh` here keeps one `Checkpoint` per store in the process (the
dashboard's Streamlit server lives long: its reruns share it) and, when asked to `persist`
(the CLI), saves it to a file that the next run loads: unpickling it takes a fraction of
folding the store again (figures in benchmarks/README.md). A one-shot refresh whose touched
Services hold under `WHOLE_SHARE` of the store's facts folds just those, as before: the file
holds the whole store's state, and reading and writing it would cost more.

The file is `<sqlite file>.checkpoint` beside a SQLite store, else
`$GAPWATCH_CHECKPOINT_DIR` (default `~/.cache/gapwatch/checkpoints`)/`<sha256 of the URL>`. It
is a pickle: it is loaded only if it is a regular file owned by this user and writable by
nobody else, written under a format key (this module's `FORMAT`, the code's revision
(replay.revision), the FoldState's fields), for
the same URL, and for a store whose facts up to the checkpoint's event id are still the ones it
folded: the same SQLite file (inode) or database (oid), not re-derived since (replay_state's
`facts_epoch`, bumped by `rebuild --rederive`), the same count and last fact. Anything else,
and any error reading it, means no checkpoint: the refresh builds one. `forget` removes it
(`gapwatch replay --rebuild`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import stat
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, text

from gapwatch.recorder.dburl import store_key
from gapwatch.recorder.progresslines import Track
from gapwatch.replay import projections, revision
from gapwatch.replay.checkpoint import Checkpoint
from gapwatch.replay.fold import FoldState, Memo, ServiceInfo
from gapwatch.replay.node_cache import NodeWindows, ServiceWindows
from gapwatch.replay.node_rows import NodeRows, ServiceRows

log = structlog.get_logger("gapwatch.replay.checkpoint_file")

#: bumped when what a checkpoint holds changes meaning
FORMAT = "gapwatch-checkpoint-3"
#: stores whose checkpoint one process keeps (the dashboard has one; tests open many)
KEEP = 2
#: a one-shot refresh uses the saved checkpoint when the touched Services hold at least this
#: share of the store's facts: loading and saving the whole store's state costs about what
#: folding it does (benchmarks/replay.py: 50 Services, one touched: 12.7 s from the file, 1.9 s
#: without; the `large` store's one Service: 9.8-14 s from the file, 42-88 s without)
WHOLE_SHARE = 0.5
_kept: OrderedDict[str, Checkpoint] = OrderedDict()
_lock = threading.Lock()


def _format() -> str:
    classes = (Checkpoint, FoldState, Memo, ServiceInfo, ServiceRows, NodeRows, ServiceWindows,
               NodeWindows)  # fmt: skip
    fields = [f.name for cls in classes for f in dataclasses.fields(cls)]
    # the cached windows and rows are the rules' output: another revision's are void
    return f"{FORMAT}:{revision.current()}:{','.join(fields)}"


def path_for(engine: Engine) -> Path:
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(f"{url.database}.checkpoint")
    home = os.environ.get("GAPWATCH_CHECKPOINT_DIR")
    where = Path(home) if home else Path.home() / ".cache" / "gapwatch" / "checkpoints"
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()
    return where / digest[:32]


def _fingerprint(engine: Engine, event_id: int) -> tuple[Any, ...]:
    """What identifies the facts folded up to `event_id`: the store itself (a SQLite file's
    inode, a PostgreSQL database's oid: a store made anew under the same URL differs), how
    often its facts were re-derived, their count and the last one."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            query = "SELECT oid FROM pg_database WHERE datname = current_database()"
            store: Any = conn.execute(text(query)).scalar_one()
        else:
            database = engine.url.database
            store = os.stat(database).st_ino if database and database != ":memory:" else None
        n = conn.execute(
            text("SELECT count(*) FROM facts WHERE event_id <= :e"), {"e": event_id}
        ).scalar_one()
        last = conn.execute(
            text(
                "SELECT cluster, at_us, fact, op, namespace, name, node, state FROM facts "
                "WHERE event_id = :e ORDER BY seq DESC LIMIT 1"
            ),
            {"e": event_id},
        ).first()
        epoch = projections.facts_epoch(conn)
    return (store, epoch, int(n), tuple(last) if last is not None else None)


def _trusted(path: Path) -> bool:
    info = path.lstat()
    return (
        stat.S_ISREG(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def load(engine: Engine) -> Checkpoint:
    """The saved checkpoint of the store, when it can be trusted and still fits; else an
    empty one."""
    path = path_for(engine)
    try:
        if not path.exists() or not _trusted(path):
            return Checkpoint()
        with path.open("rb") as f:
            saved = pickle.load(f)  # our own file: owner and mode checked above
        key, fingerprint, cp = saved
        if key != _format() or not isinstance(cp, Checkpoint) or cp.url != store_key(engine.url):
            return Checkpoint()
        if _fingerprint(engine, cp.event_id) != fingerprint:
            return Checkpoint()
        return cp
    except Exception as exc:  # a torn, foreign or outdated file: build the checkpoint anew
        log.warning("checkpoint file not used", path=str(path), error=str(exc))
        return Checkpoint()


def save(engine: Engine, cp: Checkpoint) -> None:
    """Write the checkpoint (readable by this user only), atomically."""
    if cp.state is None:
        return
    path = path_for(engine)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # each node's segment rows as stored (node_rows.ServiceRows.segments) are left out: a
    # sixth more to read and write, and the first refresh reads a moved node's from the store
    rows = {svc: dataclasses.replace(r, segments={}) for svc, r in cp.rows.items()}
    # and each node's lanes (node_cache.NodeWindows.found): a twentieth more, found again
    # where a node's proofs move
    windows = {
        svc: dataclasses.replace(
            sw, nodes={n: dataclasses.replace(nw, found=None) for n, nw in sw.nodes.items()}
        )
        for svc, sw in cp.windows.items()
    }
    saved = (
        _format(),
        _fingerprint(engine, cp.event_id),
        dataclasses.replace(cp, rows=rows, windows=windows),
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(saved, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def current(engine: Engine) -> Iterator[FoldState | None]:
    """The kept checkpoint's fold state while it holds every stored fact (it is at the
    projections' position and no fact is newer), held under the refresh lock so that no refresh
    moves it meanwhile (a reader's memoized values go into its memo, which the next fold
    clears); None when this process keeps none that is current (the reader folds what it needs
    itself). A dashboard following a recorder keeps one: each new version refreshes it."""
    with _lock:
        cp = _kept.get(store_key(engine.url))
        if cp is None or cp.state is None:
            yield None
            return
        with engine.connect() as conn:
            last, newest = projections.positions(conn)
        yield cp.state if cp.event_id == last == newest else None


def kept(engine: Engine) -> bool:
    """Whether this process keeps a checkpoint of the store (its next refresh folds only new
    facts into it; else it loads the file or folds the whole store first). Not under the
    lock, which a refresh holds for its whole length: a look, not a wait."""
    return store_key(engine.url) in _kept


def forget(engine: Engine) -> None:
    """Drop the store's checkpoint, kept and saved (its facts or projections were rebuilt)."""
    with _lock:
        _kept.pop(store_key(engine.url), None)
        path_for(engine).unlink(missing_ok=True)


def refresh(engine: Engine, *, persist: bool = False, track: Track | None = None) -> int:
    """projections.refresh from the store's kept checkpoint (loaded from its file the first
    time); `persist`: save it when it moved. Returns the events processed (`track`: progress,
    as projections.refresh's)."""
    with _lock:  # one refresh of a kept checkpoint at a time (Streamlit runs sessions in threads)
        if not projections.pending(engine):
            return 0
        url = store_key(engine.url)
        if url not in _kept and persist and projections.touched_share(engine) < WHOLE_SHARE:
            # folding those Services costs less than the file
            return projections.refresh(engine, track=track)
        cp = _kept.pop(url, None) or load(engine)
        done = projections.refresh(engine, checkpoint=cp, track=track)
        _kept[url] = cp
        while len(_kept) > KEEP:
            _kept.popitem(last=False)
        if persist and done:
            save(engine, cp)
        return done
