"""The checkpoints a sampler put under a checked guard and has not yet heard stored.

A sampler hears what the writer did with a guarded change only when its batch is written
(recorder/writer.py, `Guard.on_stored` / `on_superseded`), and may look again before: a heartbeat
made then repeats a state the store may not hold (the writer may drop the change). Such a
heartbeat is guarded by the change's checkpoint, so it is dropped with it (docs/recorder.md, "The
samplers"). The kube-proxy prober and the LB poller keep one of these each.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Unheard(Generic[K]):
    """Per key, the checkpoint value put and not yet heard stored. `stored` is called from the
    writer's thread; `settle` (the sampler's loop) applies what it heard."""

    def __init__(self) -> None:
        self._values: dict[K, Any] = {}
        self._heard: list[tuple[K, Any]] = []

    def put(self, key: K, value: Any) -> None:
        self._values[key] = value

    def base(self, key: K) -> tuple[bool, Any]:
        """(True, value) for a key with a put not yet heard stored, else (False, None)."""
        return (True, self._values[key]) if key in self._values else (False, None)

    def stored(self, key: K, value: Any) -> Callable[[], None]:
        """An `on_stored` callback for the put of `value` at `key`."""
        return lambda: self._heard.append((key, value))

    def settle(self) -> None:
        """Forget the puts the writer has said it stored since the last call."""
        heard, self._heard = self._heard, []
        for key, value in heard:
            self.forget(key, value)

    def forget(self, key: K, value: Any = None) -> None:
        """Forget `key`'s put (only if it is still `value`, by identity, when one is given)."""
        if value is None or self._values.get(key) is value:
            self._values.pop(key, None)

    def read_back(self, key: K, value: Any) -> None:
        """The store holds `value` at `key` (read from it): a put equal to it was stored."""
        if key in self._values and self._values[key] == value:
            del self._values[key]
