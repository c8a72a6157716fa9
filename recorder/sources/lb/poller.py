"""The poll loop every LB poller shares, behind the Source protocol (recorder.sources.base).

Per cycle: note when the look starts, ask the cloud adapter (in a worker thread: the SDKs block),
note when the answer arrived, map targets to nodes, let the tracker turn the look into
transitions, put them into the sink and flush. A throttled or failed look changes nothing (the
next good look's bounds widen over it) and doubles the wait, with jitter, up to `max_backoff_s`;
a good look resets it to `interval_s`.

The first successful look is logged (`lb first look`, with its answer's time): before it this
process saw no target, and the lab's ledger (recorder/lab/ledger.py) counts what ended before the
earliest replica's as unobservable.

Resume: right before the first look, and whenever a look shows a change, the tracker is seeded
from the store (`resume`, lb/laststate.py) before the look becomes observations. Two replicas
poll the same groups; one whose look was slow (the SDK retrying a throttled call with its own
backoff) or that failed for a while must not report, as its own new transition, a change the
other replica already stored meanwhile: a transition is what changed, not who saw it when. One
store read per look that shows a change (changes are rare); a store that cannot be read seeds
nothing and the look is recorded as this replica saw it.

That re-read cannot see a commit the other replica has not made yet (two looks 0.22 s apart):
each target's transition (`ADDED`, `MODIFIED`, `DELETED`) goes with its checkpoint under a guard
(recorder/writer.py, `Guard`), whose base is the newest checkpoint of that target known stored
(read at resume, or put by this poller); none for a target never stored (insert only if absent).
The writer drops a transition whose base is no longer stored: the other replica stored it first.
The poller then forgets that target and reloads it from the store before the next look.
It hears of the drop only when its batch is written, and may look again before (the spool
commits on its own): a heartbeat (`OBSERVED`) made then repeats a state the store may not hold.
So a heartbeat made from a checkpoint this poller put under a guard and has not yet heard stored
(`Guard.on_stored`, or read back from the store) is guarded by that checkpoint: dropped with
it. Before, where only the target's node became known between the two looks (the Node reached
the view late), that heartbeat was stored: a state no transition had stored, and where it
committed before the other replica's transition to that state, its checkpoint replaced the one
that transition was made from, so the change was dropped (or never made: the other replica
re-read the heartbeat) and stored only as a heartbeat (tests/lb/test_dropped_first_look.py;
session 26's CI, tests/lab/test_lab_start.py).
Other heartbeats and a group's attributes are not guarded (they cannot be stored twice
as a transition), and their checkpoint is ordered against the stored one by when their look
*began*, not when its answer arrived (`_put`): a look that began before the other replica's
change and was answered after it may report the state from before the change; ordered by its
answer, its checkpoint replaced the change's, and this replica's next look of the new state was
made from it, passed the compare-and-set and stored the change a second time
(tests/lb/test_stale_heartbeat.py; the kube-proxy prober's same defect was found in traced
soaks: tests/kubeproxy/test_stale_heartbeat.py). Without `resume` (`gapwatch poll`: one
process, no store read) nothing is guarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import structlog

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.base import Emitted, Sink
from gapwatch.recorder.sources.lb.laststate import checkpoint_of, target_key
from gapwatch.recorder.sources.lb.metrics import PollerMetrics
from gapwatch.recorder.sources.lb.nodemap import NodeMap
from gapwatch.recorder.sources.lb.shape import GroupLook, LbApiError, Throttled
from gapwatch.recorder.sources.lb.tracker import DEFAULT_HEARTBEAT_S, ServiceKey, Tracker
from gapwatch.recorder.sources.unheard import Unheard
from gapwatch.recorder.sources.view import NodeInfo
from gapwatch.recorder.timefmt import format_time, parse_time
from gapwatch.recorder.writer import Checkpoint, Guard

#: Seeds a tracker from the store at a time; returns the checkpoint values it read, by key.
Resume = Callable[[Tracker, datetime], Mapping[str, Any]]

#: Default seconds between two looks, per cloud (issue 11; the simulator's lb_poll_period_s).
#: Cost per group at 5 s: ELBv2 12 DescribeTargetHealth/min + 2 settings calls/min; Alibaba 24
#: calls/min; Tencent 24 calls/min per load balancer; Huawei 12 ListMembers/min per pool (per
#: page of 500 members). docs/lb.md, "What a poll costs", has the table.
DEFAULT_INTERVAL_S = 5.0
#: Longest wait after repeated throttling or errors (s).
DEFAULT_MAX_BACKOFF_S = 300.0

log = structlog.get_logger("gapwatch.recorder.lb")


class Adapter(Protocol):
    """A cloud adapter: one blocking look at every group it polls."""

    def poll(self) -> list[GroupLook]: ...


@dataclass(frozen=True, slots=True)
class PollSettings:
    interval_s: float = DEFAULT_INTERVAL_S
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    max_backoff_s: float = DEFAULT_MAX_BACKOFF_S


class PollerSource:
    """One LB poller; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        cluster: str,
        adapter: Callable[[Callable[[str], None]], Adapter],
        clock: Callable[[], datetime],
        metrics: PollerMetrics,
        nodes: Callable[[], Iterable[NodeInfo]],
        service_of: Callable[[str], ServiceKey],
        settings: PollSettings = PollSettings(),
        rng: random.Random | None = None,
        resume: Resume | None = None,
        flush_each_look: bool = True,
    ) -> None:
        self.name = name
        #: wait for each look's commit (`gapwatch poll`'s buffered sink); the recorder's spool
        #: commits on its own, and waiting would stop the looks while the store is down
        self._flush_each_look = flush_each_look
        #: seeds the tracker from the store (lb/laststate.py): before the first look, and before
        #: a look that shows a change becomes observations (see the module docstring)
        self._resume = resume
        self._resume_due = resume is not None
        #: per checkpoint key, the newest value known stored (read, or put by this poller) and
        #: when it was observed: the base of the target's next transition
        self._bases: dict[str, tuple[datetime, Any]] = {}
        #: transitions the writer dropped (group, key, value), appended from its thread
        self._dropped: list[tuple[str, str, Any]] = []
        #: per checkpoint key, the value this poller put under a checked guard and has not yet
        #: heard stored: a heartbeat made from it is guarded by it (module docstring)
        self._unheard: Unheard[str] = Unheard()
        self._make_adapter = adapter
        self._clock = clock
        self.metrics = metrics
        self._nodes = nodes
        self._service_of = service_of
        self.settings = settings
        self._rng = rng or random.Random()
        self.tracker = Tracker(cluster=cluster, heartbeat_s=settings.heartbeat_s)
        self._adapter: Adapter | None = None
        self._problem: str | None = "no look yet"
        self.failures = 0
        self.looks = 0

    def ready(self) -> str | None:
        return self._problem

    def next_delay(self) -> float:
        """Seconds to the next look: the interval, or the backoff after failures (jittered)."""
        s = self.settings
        if self.failures == 0:
            return s.interval_s
        base = min(s.max_backoff_s, s.interval_s * 2.0**self.failures)
        return base * (0.5 + self._rng.random() / 2)

    async def look(self, sink: Sink) -> int:
        """One cycle; returns the observations put (raises nothing a look can cause)."""
        try:
            if self._adapter is None:
                self._adapter = await asyncio.to_thread(self._make_adapter, self.metrics.count)
            self._after_writes()
            if self._resume is not None and self._resume_due:
                await self._reseed(self._clock())
                self._resume_due = False
            started = self._clock()
            looks = await asyncio.to_thread(self._adapter.poll)
        except LbApiError as exc:
            self.failures += 1
            self._problem = str(exc)
            self.metrics.error()
            if isinstance(exc, Throttled):
                self.metrics.throttled()
            log.warning(
                "lb look failed",
                source=self.name,
                error=str(exc),
                throttled=isinstance(exc, Throttled),
            )
            return 0
        now = self._clock()
        self.failures, self._problem = 0, None
        self.looks += 1
        if self.looks == 1:  # before it nobody of this process saw the groups (the lab's ledger)
            log.info(
                "lb first look",
                source=self.name,
                observed_at=format_time(now),
                targets=sum(len(g.targets) for g in looks),
            )
        node_map = NodeMap(self._nodes())
        if self._resume is not None and any(
            self.tracker.differs(g, node_of=node_map.node_of) for g in looks
        ):  # the other replica may have stored this change already
            await self._reseed(now)
        put = 0
        for group in looks:
            for obs in self.tracker.observe(
                now,
                group,
                service=self._service_of(group.group),
                node_of=node_map.node_of,
                started=started,
            ):
                await self._put(sink, group.group, obs, started)
                put += 1
        self.metrics.targets(sum(len(g.targets) for g in looks))
        self.metrics.per_minute(now)
        if put and self._flush_each_look:
            await sink.flush()
        return put

    async def _reseed(self, at: datetime) -> None:
        """Seed the tracker from the store (resume) and take the checkpoints read as bases
        where they are newer than what this poller put."""
        assert self._resume is not None
        stored = await asyncio.to_thread(self._resume, self.tracker, at)
        for key, value in stored.items():
            try:
                when = parse_time(str(value["observed_at"]))
            except (KeyError, TypeError, ValueError):
                continue
            known = self._bases.get(key)
            if known is None or known[0] < when:
                self._bases[key] = (when, value)
                self._unheard.forget(key)
            else:  # what this poller put, read back: stored
                self._unheard.read_back(key, value)

    def _after_writes(self) -> None:
        """What the writer did with the checked puts: those stored are known stored; those
        dropped have their targets forgotten and reloaded from the store before the next look
        (a base this poller put that was not stored is no base)."""
        self._unheard.settle()
        if not self._dropped:
            return
        dropped, self._dropped = self._dropped, []
        for group, key, value in dropped:
            known = self._bases.get(key)
            if known is not None and known[1] is value:
                del self._bases[key]
            self._unheard.forget(key, value)
            target = target_key(value["payload"])
            if target is not None:
                self.tracker.forget_target(group, target[1])
            log.info("lb transition superseded; reloading it", source=self.name, key=key)
        self._resume_due = True

    async def _put(self, sink: Sink, group: str, obs: Observation, started: datetime) -> None:
        """Put one observation with its target's checkpoint (a restart compares with it,
        however long nobody looked: laststate.py), under its guard (module docstring); an
        unguarded one's checkpoint ordered by when its look began (`started`)."""
        checkpoint = checkpoint_of(obs)
        if checkpoint is None:
            await sink.put(Emitted(obs))
            return
        guard = self._guard(group, obs, checkpoint)
        if guard is not None and not guard.check:
            checkpoint = replace(checkpoint, at=min(started, obs.observed_at))
        self._bases[checkpoint.key] = (obs.observed_at, checkpoint.value)
        if guard is not None and guard.check:
            self._unheard.put(checkpoint.key, checkpoint.value)
        await sink.put(Emitted(obs, checkpoint, guard))

    def _guard(self, group: str, obs: Observation, checkpoint: Checkpoint) -> Guard | None:
        """A transition is made from the newest checkpoint known (read, or put by this poller),
        a heartbeat from a put not yet heard stored is guarded by it, any other heartbeat and a
        group's attributes cannot race (module docstring)."""
        if self._resume is None:
            return None
        if obs.kind != "TargetHealth":
            return Guard(check=False)
        if obs.op == "OBSERVED":
            unheard, base = self._unheard.base(checkpoint.key)
            if not unheard:
                return Guard(check=False)
        else:
            known = self._bases.get(checkpoint.key)
            base = None if known is None else known[1]
        key, value = checkpoint.key, checkpoint.value
        return Guard(
            base=base,
            on_superseded=lambda: self._dropped.append((group, key, value)),
            on_stored=self._unheard.stored(key, value),
        )

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.look(sink)
            delay = self.next_delay()
            self.metrics.delay(delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        await sink.flush()
