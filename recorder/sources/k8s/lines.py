"""A watch stream's bytes cut into lines, each byte searched once.

A WATCH answers newline-ended JSON lines in whatever pieces the connection delivers (a TCP
segment's 1,448 bytes, a few KB); one object of several MB arrives in thousands of pieces.
Appending each piece to one buffer and searching the whole buffer again for a newline is
quadratic in the line's length: an 8 MB line in 1,448-byte pieces costs seconds of CPU on the
recorder's one event loop, while every other watch, the lease and `/metrics` wait
(benchmarks/watch_lines.py measures both ways). Here a line's pieces are kept apart until the
piece with its newline arrives, and only each new piece is searched.
"""

from __future__ import annotations


class LineTooLong(Exception):
    """A line grew past the limit before its newline arrived."""


class Lines:
    """Feed pieces in order; each `feed` answers the lines that piece ended."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, piece: bytes) -> list[bytes]:
        """The lines `piece` ends, without their newlines (blank ones included), in order.

        Raises LineTooLong when the unended line passes the limit (checked while no newline
        has come, as a line is refused before it is held whole)."""
        if b"\n" not in piece:
            self._size += len(piece)
            if self._size > self._limit:
                raise LineTooLong(f"a line longer than {self._limit} bytes")
            self._parts.append(piece)
            return []
        first, *rest = piece.split(b"\n")
        self._parts.append(first)
        ended = [b"".join(self._parts), *rest[:-1]]
        tail = rest[-1]
        self._parts = [tail] if tail else []
        self._size = len(tail)
        return ended

    def rest(self) -> bytes:
        """What came after the last newline (the stream's unended last line)."""
        return b"".join(self._parts)
