"""Ingest session 27 (measured, not adopted): the projector in another process, beside the
write. `ProcessWriter` is the EventWriter whose overlapped projection goes to a child process
instead of a thread; `benchmarks/ingest.py --derive-process` runs it beside today's paths.

The writer's thread (`overlap=True`) derives a batch while the next one is written, but both
share one GIL: the command's CPU is the sum of the two. Here the projector runs in a child
process of its own (`python -m benchmarks.deriveproc`, the pipes its standard input and output:
no fork of a process with threads and open connections, and nothing of the parent's `__main__`
imported again), with its own engine, so deriving and writing the facts could take the
machine's other core while this process parses, prepares and copies the next batch.

Each batch the writer committed goes over a pipe as (event id, the stored observation's fields,
its payload as the JSON text the writer stored); the child loads the payload, runs the same
`Projector.apply` as the thread would (one transaction: the facts and the projector's position
together), and answers how many events it stepped over. Two batches at most are in flight
(`DEPTH`; a thread writes to the pipe, so the parent goes on while the child starts up or is
busy): `submit` waits for the oldest answer beyond that, `wait` for the last.

Nothing is lost or derived twice if either side dies. The facts and the position commit
together in the child, so a killed child leaves the projector's position at the last batch it
committed; the parent then derives the batch in hand in its thread, and `Projector.apply` reads
from the log first whatever is stored below it and not derived (the batches the child was
killed with). A killed parent leaves the child reading a closed pipe: it ends, and the facts it
did not derive are derived from the log by the next catch-up (the recorder's follower, or any
read command). tests/store/test_derive_process.py.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection as Pipe
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import orjson
import structlog

from gapwatch.recorder.errors import StoreError
from gapwatch.recorder.observation import Observation
from gapwatch.recorder.projector import ProjectFn, Projector
from gapwatch.recorder.writer import Derive, EventWriter, WriteResult

ROOT = Path(__file__).resolve().parents[1]

log = structlog.get_logger("gapwatch.recorder.deriveproc")

#: An observation as it goes over the pipe: its event id and the `events` row the writer stored
#: (recorder.writer.prepare: EVENT_COLUMNS order, the payload as its JSON text).
Sent = tuple[int, tuple[Any, ...]]

#: Batches sent and not answered at most: the parent goes on while the child starts up.
DEPTH = 2
#: How long the parent waits for a child that was told to end (seconds).
_JOIN_S = 10.0


def received(item: Sent) -> tuple[int, Observation]:
    """The (event id, observation) pair a sent row describes (positional: the hot path)."""
    event_id, (cluster, at, source, kind, op, ns, name, node, src, rv, prev, _key, payload) = item
    loaded = orjson.loads(payload)
    return event_id, Observation(
        at, cluster, source, kind, op, loaded, ns, name, node, src, rv, prev
    )


def _serve(pipe_in: Pipe, pipe_out: Pipe) -> None:
    """The child: the store's URL and the derive hook first, then project each batch received
    and answer what it stepped over; end at None or when the parent is gone."""
    import gc

    from gapwatch.recorder.store import make_engine

    gc.set_threshold(100_000, 50, 100)  # as gapwatch import's (recorder/importer.py)
    try:
        url, derive = pipe_in.recv()
    except EOFError:
        return
    engine = make_engine(url)
    projector = Projector(engine, derive)
    try:
        while True:
            try:
                batch: list[Sent] | None = pipe_in.recv()
            except EOFError:  # the parent went away: what is left is the next catch-up's
                return
            if batch is None:
                return
            try:
                failed = projector.apply([received(item) for item in batch]).failed
            except StoreError as exc:  # as the writer's thread: behind, the next catch-up resumes
                log.warning("projector behind", error=str(exc), first_id=batch[0][0])
                failed = 0
            try:
                pipe_out.send(failed)
            except OSError:  # the parent went away: this batch is committed all the same
                return
    finally:
        engine.dispose()


class DeriveProcess:
    """A child process running the projector; see the module docstring."""

    def __init__(self, url: str, derive: ProjectFn, *, depth: int = DEPTH) -> None:
        """`url` the store's (password included: it goes over the pipe, not the command line);
        `derive` a module-level function (pickled by name); `depth` batches at most sent and
        not answered."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.deriveproc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])},
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._send = Pipe(os.dup(self._process.stdin.fileno()), readable=False)
        self._recv = Pipe(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        self._depth = depth
        self._in_flight = 0
        # Sends in a thread (the GIL released while the pipe is full): the caller goes on with
        # the next batch while the child takes this one (at first, while it starts up).
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="derive-send")
        self._sent: Future[None] = self._sender.submit(self._send.send, (url, derive))

    @property
    def pid(self) -> int:
        return self._process.pid

    def submit(self, batch: Sequence[Sent]) -> int:
        """Send a batch, once fewer than `depth` are unanswered; returns what the batches
        answered meanwhile stepped over. Raises OSError or EOFError when the child is gone."""
        failed = 0
        while self._in_flight >= self._depth:
            failed += self._answer()
        data = bytes(ForkingPickler.dumps(list(batch)))  # pickled here: the thread only writes
        self._sent.result()  # the previous send went (or raises: the child is gone)
        self._sent = self._sender.submit(self._send.send_bytes, data)
        self._in_flight += 1
        return failed

    def wait(self) -> int:
        """Every batch sent answered; returns what they stepped over. EOFError or OSError: the
        child died before answering (its transaction rolled back, or committed and not
        answered)."""
        failed = 0
        while self._in_flight:
            failed += self._answer()
        return failed

    def _answer(self) -> int:
        self._sent.result()
        self._in_flight -= 1
        return int(self._recv.recv())

    def close(self) -> None:
        """Tell the child to end and wait for it (killed when it does not)."""
        with contextlib.suppress(Exception):
            self._sent.result()
            self._send.send(None)
        self._sender.shutdown()
        self._send.close()
        try:
            self._process.wait(_JOIN_S)
        except subprocess.TimeoutExpired:
            log.warning("derive process did not end; killed", pid=self._process.pid)
            self._process.kill()
            self._process.wait()
        self._recv.close()


def child_gone(exc: BaseException) -> bool:
    """Whether `exc`, raised by `submit` or `wait`, says the child died."""
    return isinstance(exc, EOFError | BrokenPipeError | ConnectionResetError | OSError)


class ProcessWriter(EventWriter):
    """An EventWriter (PostgreSQL, overlapped: `write_all`, `gapwatch import`) whose projection
    of each committed batch goes to a DeriveProcess instead of a thread; a dead child's batches
    go to the thread from then on. Elsewhere (SQLite, not overlapped) it is the EventWriter."""

    def __init__(self, engine: Any, *, derive: Derive, **kwargs: Any) -> None:
        super().__init__(engine, derive=derive, **kwargs)
        self._child: DeriveProcess | None = None
        self._held: tuple[list[Observation], list[tuple[Any, ...]]] = ([], [])
        if self._can_overlap:  # its start-up beside the first batch's parse and write
            url = engine.url.render_as_string(hide_password=False)
            self._child = DeriveProcess(url, derive)

    def _copy_direct(  # type: ignore[override]
        self,
        cur: Any,
        observations: Any,
        batch: list[Observation],
        rows: list[tuple[Any, ...]],
    ) -> int | None:
        # The stored observations and their rows (payload JSON text), filled by the writer
        # here and, after a conflict, by the staging path: read once the batch committed.
        self._held = (batch, rows)
        return EventWriter._copy_direct(cur, observations, batch, rows)

    def _hand_over(self, projector: Projector, rows: list[tuple[int, Observation]]) -> int:
        if self._child is None:
            return super()._hand_over(projector, rows)
        (batch, stored), self._held = self._held, ([], [])
        row_of = {id(obs): row for obs, row in zip(batch, stored, strict=True)}
        if not all(id(obs) in row_of for _i, obs in rows):
            # a batch that went straight to the staging path (after a conflict): its rows
            # were not held; the thread derives it (the position row orders the two)
            return super()._hand_over(projector, rows)
        try:
            return self._child.submit([(i, row_of[id(obs)]) for i, obs in rows])
        except Exception as exc:
            if not child_gone(exc):
                raise
            self._lose_child()
            return super()._hand_over(projector, rows)

    def _lose_child(self) -> None:
        child, self._child = self._child, None
        log.warning("derive process gone; deriving in this process")
        if child is not None:
            child.close()

    def finish(self) -> WriteResult:
        """The child's last answers (a dead child's batches derived here, from the log), the
        child ended, then the thread's, as EventWriter.finish: the facts are stored. The next
        batches, if any, go to the thread."""
        underived = 0
        if self._child is not None:
            try:
                underived = self._child.wait()
            except Exception as exc:
                if not child_gone(exc):
                    raise
                self._lose_child()
                assert self.projector is not None  # a child runs only with one
                underived = self._project_behind(self.projector)
            self.close()
        result = super().finish()
        result.underived += underived
        return result

    @staticmethod
    def _project_behind(projector: Projector) -> int:
        try:
            return projector.catch_up().failed
        except StoreError as exc:  # the projector stays behind; the next catch-up resumes
            log.warning("projector behind", error=str(exc))
            return 0

    def close(self) -> None:
        """End the child."""
        if self._child is not None:
            self._child.close()
            self._child = None


def main() -> None:
    """`python -m benchmarks.deriveproc`: the child, on its standard input and output
    (whatever it prints goes to standard error: its standard output is the pipe)."""
    pipe_in = Pipe(os.dup(0), writable=False)
    pipe_out = Pipe(os.dup(1), readable=False)
    os.dup2(2, 1)
    _serve(pipe_in, pipe_out)
    # its work is committed: no interpreter teardown (freeing the batches' objects one by one)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
