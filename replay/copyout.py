"""`COPY ... TO STDOUT` gathered into one buffer, read row by row from libpq itself.

psycopg's `Copy` iteration hands each row (one CopyData message) up through a generator, the
connection's wait loop and a read call: about 0.5 us of Python a row, as much as the rest of
the read on 1M facts (replay.load). Here psycopg starts the COPY (the transaction, the
statement, the error translation of its start) and its `Copy` block ends it; the rows in
between come from `PGconn.get_copy_data` (psycopg.pq, libpq's PQgetCopyData) in one loop,
waiting on the socket only when libpq has no whole row buffered. The bytes are the same.
"""

from __future__ import annotations

import select
import sys
from collections.abc import Callable, Generator
from typing import Any, overload

from psycopg import errors, pq


def copy_out(raw: Any, sql: str) -> bytearray:
    """The bytes `sql` (a `COPY ... TO STDOUT`) sends, on the psycopg connection `raw`."""
    return next(copy_pieces(raw, sql, sys.maxsize), bytearray())


@overload
def copy_pieces(raw: Any, sql: str, size: int) -> Generator[bytearray, None, None]: ...


@overload
def copy_pieces(
    raw: Any, sql: str, size: int, *, wait: Callable[[], bool]
) -> Generator[bytearray | None, None, None]: ...


def copy_pieces(
    raw: Any, sql: str, size: int, *, wait: Callable[[], bool] | None = None
) -> Generator[bytearray | None, None, None]:
    """The bytes `sql` sends, in pieces of whole rows of at least `size` bytes (the last may be
    shorter; none without rows): a caller can parse one while the server sends the next (the
    socket's buffers hold what comes meanwhile). Read to the end (or closed: psycopg's `Copy`
    then cancels the rest).

    `wait`: asked whenever nothing the server sent is left to read; False yields None instead
    of waiting for the server (the caller does other work and asks for the next piece later:
    `fold_stored`'s row fold while the probe facts stream). Without it the pieces never are
    None."""
    with raw.cursor() as cur, cur.copy(sql):
        pgconn = raw.pgconn
        get = pgconn.get_copy_data
        data = bytearray()  # Arrow reads it in place (a BytesIO would be copied out again)
        while True:
            got, block = get(1)  # 1: never block inside libpq (Ctrl-C stays heard)
            # every whole row libpq holds, the piece's size checked once after them: one
            # test a row fewer (the gather's CPU -15 % on 1M facts, benchmarks/README.md,
            # "Session 30: replay"); a piece still ends on a row, only later by what one
            # socket read brought
            while got > 0:
                data += block
                got, block = get(1)
            if len(data) >= size:
                yield data
                data = bytearray()
            if got == 0:  # no whole row buffered: wait for the server, then read
                if wait is None or wait():
                    select.select([pgconn.socket], [], [])
                elif not _readable(pgconn.socket):
                    yield None
                    continue
                pgconn.consume_input()
            else:  # -1: the copy is done; its result says whether it succeeded
                break
        _finish(pgconn, raw.info.encoding)
    if data:
        yield data


def _readable(socket: int) -> bool:
    """Whether the server's bytes wait on the socket (a read would not block)."""
    return bool(select.select([socket], [], [], 0)[0])


def _finish(pgconn: Any, encoding: str) -> None:
    """Read the COPY's final results (as psycopg's `copy_from` does): an error the server
    raised while sending rows becomes psycopg's exception for it."""
    failed = None
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK and failed is None:
            failed = errors.error_from_result(result, encoding=encoding)
    if failed is not None:
        raise failed
