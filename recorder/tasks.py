"""Waiting on a group of asyncio tasks where one of them is the normal way out."""

from __future__ import annotations

import asyncio
from typing import Any


async def wait_first(tasks: list[asyncio.Task[Any]], timeout: float | None = None) -> None:
    """Wait until a task ends (or `timeout`). `tasks[0]` ending (the stop signal) is the normal
    end; any other task ending is an error: its exception, or RuntimeError if it just returned."""
    done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    # A task that returns right after the stop signal, in the same turn, ended as told to (the
    # lab saw `gapwatch record` exit 1 on SIGTERM from this race).
    stopped = tasks[0] in done
    for task in done:
        if task is tasks[0] or task.cancelled():
            continue
        error = task.exception()
        if error is not None:
            raise error
        if not stopped:
            raise RuntimeError(f"{task.get_name()} ended unexpectedly")
