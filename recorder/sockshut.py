"""Shut a socket someone else owns, so that a call blocked on it returns at once.

Through a duplicate of its file descriptor: the owner's socket object (psycopg's connection,
http.client's `sock`) stays the owner's to close, and no descriptor is closed under it. Used
where a wait is given up on: dashboard/sqlwatchdog.py (a console query past its deadline) and
recorder/sources/lb/heldreads.py (an LB call past its time)."""

from __future__ import annotations

import contextlib
import os
import socket


def shut_duplicate(fileno: int) -> None:
    """Shut both ways the socket behind descriptor `fileno`; nothing where it is closed already."""
    with contextlib.suppress(OSError):
        dup = socket.socket(fileno=os.dup(fileno))
        try:
            dup.shutdown(socket.SHUT_RDWR)
        finally:
            dup.close()
