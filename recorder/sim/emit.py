"""The emitter: observations queued by observed time, released in order as simulated time passes.

Observers see things a little after they happen (watch delay, probe latency), so observations are
produced slightly out of order; a heap puts them back in `observed_at` order before they leave.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sim.clock import Clock

K8S = "k8s-watch"
PROBE = "kube-proxy-probe"
POLLER = "lb-poller"
ACCESS_LOG = "elb-access-log"

_Row = tuple[
    str, str, str, Any, str | None, str | None, str | None, str | None, int | None, int | None
]


class Emitter:
    """Collects observations (as tuples, cheap) and turns them into Observations on release."""

    def __init__(
        self, clock: Clock, cluster: str, offsets_us: dict[str, int] | None = None
    ) -> None:
        self.clock = clock
        self.cluster = cluster
        #: per source, how far its clock is off (its stamps only: the order is true time)
        self.offsets_us = offsets_us or {}
        self._heap: list[tuple[int, int, _Row]] = []
        self._seq = 0
        self.emitted = 0

    def push(
        self,
        observed_us: int,
        source: str,
        kind: str,
        op: str,
        payload: Any,
        *,
        namespace: str | None = None,
        name: str | None = None,
        node: str | None = None,
        rv: str | None = None,
        source_time_us: int | None = None,
        previous_us: int | None = None,
    ) -> None:
        self._seq += 1
        row: _Row = (
            source,
            kind,
            op,
            payload,
            namespace,
            name,
            node,
            rv,
            source_time_us,
            previous_us,
        )
        heapq.heappush(self._heap, (observed_us, self._seq, row))

    def release(self, upto_us: int | None) -> Iterator[Observation]:
        """Every queued observation observed at or before `upto_us` (None: all), in order."""
        heap = self._heap
        dt = self.clock.dt
        cluster = self.cluster
        offsets = self.offsets_us
        while heap and (upto_us is None or heap[0][0] <= upto_us):
            observed_us, _seq, row = heapq.heappop(heap)
            source, kind, op, payload, ns, name, node, rv, st_us, prev_us = row
            self.emitted += 1
            skew = offsets.get(source, 0)
            if skew:
                observed_us += skew
                prev_us = None if prev_us is None else prev_us + skew
            yield Observation(
                observed_at=dt(observed_us),
                cluster=cluster,
                source=source,
                kind=kind,
                op=op,
                payload=payload,
                namespace=ns,
                name=name,
                node=node,
                source_time=dt(st_us) if st_us is not None else None,
                resource_version=rv,
                previous_observed_at=dt(prev_us) if prev_us is not None else None,
            )
