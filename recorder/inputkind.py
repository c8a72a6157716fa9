"""What an import input is before it is read: a file, a pipe, or something no import reads.

A pipe (`<(zcat capture.gz)`, `/dev/stdin` in a pipeline, a `mkfifo` FIFO) gives its bytes
once: whatever opens it before the import (a check that it opens, a look at its first bytes for
the gzip magic, a hint read after) takes them from the import, and a FIFO opened a second time
waits for a writer that never comes. So a pipe is opened once, by the reader, and its first
bytes are read to tell gzip from text and then handed on (`sniff_gzip`), never sought back to.
A device (`/dev/zero`, `/dev/urandom`, a terminal) or a socket is refused before anything is
read: `/dev/zero` is one endless line, skipped 16 MiB at a time for ever.
"""

from __future__ import annotations

import io
import os
import stat
import zlib
from typing import BinaryIO

from gapwatch.recorder.errors import ObservationError

GZIP_MAGIC = b"\x1f\x8b"
#: Most bytes of a stream's start read to decide whether it is gzip: a gzip header (a file name
#: and comment inside it) and its first deflate block header are far shorter; a stream still
#: undecided here has parsed as gzip so far and is read as gzip.
SNIFF_BYTES = 1024 * 1024


def is_pipe(path: str) -> bool:
    """Whether `path` names a pipe or FIFO (its bytes can be read once); '-' is not a path."""
    if path == "-":
        return False
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def refuse_unreadable(path: str) -> None:
    """ObservationError when `path` is a device or a socket, which no import reads; a missing
    file or a directory is left to `open`, whose error says so."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    for test, what in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            raise ObservationError(f"{path}: {what}, not a file or a pipe")


def check_pipe_readable(path: str) -> None:
    """ObservationError when the pipe `path` may not be read, found without opening it."""
    if not os.access(path, os.R_OK):
        raise ObservationError(f"{path}: Permission denied")


def sniff_gzip(stream: BinaryIO) -> tuple[BinaryIO, bool]:
    """(a stream that reads `stream` from its first byte again, whether it is gzip), reading no
    more than it takes to decide: two bytes when they are not gzip's magic (a live `kubectl get
    -w` piped in is not held up), else until the first bytes inflate, fail to, or end (a gzip
    stream cut short inside its header is still gzip, as recorder.ndjson reads a file)."""
    head = b""
    inflater = zlib.decompressobj(wbits=31)
    fed = 0
    gzipped = False
    while len(head) < SNIFF_BYTES:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            gzipped = head[:2] == GZIP_MAGIC
            break
        head += chunk
        if len(head) < 2:
            continue
        if head[:2] != GZIP_MAGIC:
            break
        try:
            out = inflater.decompress(head[fed:])
        except zlib.error:
            break
        fed = len(head)
        if out or inflater.eof:
            gzipped = True
            break
    else:
        gzipped = True
    return io.BufferedReader(_Rejoined(head, stream)), gzipped


class _Rejoined(io.RawIOBase):
    """`head`, then the rest of `stream`: a pipe's first bytes read to sniff it, given back."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        read1 = getattr(self._stream, "read1", self._stream.read)
        data = read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)
