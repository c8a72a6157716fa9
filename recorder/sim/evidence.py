"""Optional observations that order an LB change against a kube-proxy change (off by default):

- `observe.kube_proxy_metrics`: the prober scrapes every node's kube-proxy `/metrics` on the
  probe grid, or every `observe.kube_proxy_metrics_interval_s` where that is set (the recorder's
  `metrics_interval_s`; never more often than the probes) (`ProxyMetrics`, as
  recorder.sources.kubeproxy stores a scrape):
  `kubeproxy_sync_proxy_rules_last_timestamp_seconds` (when the last rules sync ended) and
  `..._last_queued_timestamp_seconds` (when the last change asked for one), Unix seconds on
  kube-proxy's own clock, as upstream's `SetToCurrentTime()` writes them (the simulator's nodes
  have no clock skew); `kubeproxy_sync_proxy_rules_duration_seconds_count` (every rules sync of
  the process so far) with the histogram's `_sum` beside it, as every Prometheus histogram
  prints it (the durations of those syncs added up: each programming read as the sync a real
  kube-proxy would have run, recorder.sim.syncspans: from the later of the last change it
  applied and the previous sync's end), and `process_start_time_seconds` (when the process
  started). A new kube-proxy process reports 0
  until its first sync (an unset gauge); a down or restarting kube-proxy does not answer (no
  observation). The real prober stores every scrape; here only the informative ones are
  emitted: the look that first shows new values, the look before it (the last that still
  showed the old ones), and a look of every node at each heartbeat. replay reads nothing else
  from the looks in between (they repeat the values: the same count at both ends of a stretch
  means no sync in it).
- `observe.kube_proxy_configz`: the prober reads every node's kube-proxy `/configz` and stores
  it (`ProxyConfig`, as recorder.sources.kubeproxy stores it: only when it changed), first at
  the first probe tick after kube-proxy first answers there (`look: "first"`), then every
  `observe.kube_proxy_configz_interval_s` from that read: a kube-proxy restarted with another
  configuration (recorder.sim.proxyconf) is stored at the first of those reads it answers
  (`look: "change"`, `previous_observed_at` the last read before the restart). The
  configuration names ProxyTerminatingEndpoints only where the node's gate differs from its
  version's default (on 1.22-1.27: the only way to set it against the default; a
  configuration that restates the default is left out, as is any before 1.22 or from 1.28,
  where the gate cannot be set otherwise); its mode is `kube_proxy.mode`, its sync period
  `kube_proxy.sync_period_s` (the one its health server times out by: recorder.sim.proxyhealth)
  and its min sync period `kube_proxy.min_sync_period_s` (1 s, kube-proxy's default since
  v1.20; kube-up's 10 s where the generator draws kube-up's periods).
- `observe.cloudtrail`: every RegisterTargets / DeregisterTargets call the CCM makes, as the
  `cloudtrail` importer turns the record into a `TargetChange` (at `eventTime`, whole seconds).

None draws from the run's generator, so a seed's scenario and truth are the same with or
without them. Both emit looks up to a probe period in the past (as the prober's last look at a
node it drops does): the run releases observations that much later (`hold_us`), so they still
leave in time order.
"""

from __future__ import annotations

import bisect
import random
from typing import TYPE_CHECKING, Any

from gapwatch.recorder.importers.base import Context
from gapwatch.recorder.importers.cloudtrail import SOURCE as TRAIL
from gapwatch.recorder.importers.cloudtrail import parse as parse_trail
from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.emit import PROBE
from gapwatch.recorder.sim.promformat import LAST_QUEUED, LAST_SYNC, METRICS_PORT
from gapwatch.recorder.sim.syncspans import Sync, syncs
from gapwatch.recorder.sim.trail import trail_record
from gapwatch.recorder.sim.validate import minor_version
from gapwatch.recorder.sources.kubeproxy.metrics import (
    FEATURE,
    PROCESS_START,
    PTE_GATE,
    SYNC_COUNT,
    SYNC_SUM,
    summarize,
)
from gapwatch.recorder.timefmt import to_micros

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World


def metrics_period_us(world: World) -> int:
    """How often the prober scrapes /metrics: `observe.kube_proxy_metrics_interval_s`, or the
    probe period where that is 0 or shorter (the recorder's scrapes ride its probe ticks)."""
    o = world.s.observe
    return us(max(o.kube_proxy_metrics_interval_s, o.kube_proxy_period_s))


def hold_us(world: World) -> int:
    """How much later than real time the run releases observations: a probe period (a node's
    last look, emitted when the prober drops it: recorder.sim.observe) and, with options, a
    scrape period and a second more (the look before a change, emitted a scrape later;
    CloudTrail's truncated eventTime)."""
    o = world.s.observe
    period = us(o.kube_proxy_period_s)
    if not (o.kube_proxy_metrics or o.cloudtrail):
        return period
    return (metrics_period_us(world) if o.kube_proxy_metrics else period) + 1_000_000


def _last(times: list[int], since_us: int, at_us: int) -> int | None:
    i = bisect.bisect_right(times, at_us)
    return times[i - 1] if i and times[i - 1] >= since_us else None


class MetricsScraper:
    """kube-proxy's `/metrics` per node on the prober's grid (module docstring)."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.period = metrics_period_us(world)
        self.rng = random.Random(f"prober-metrics-{world.seed}")
        #: per node: when its current kube-proxy process began answering, the last look emitted
        self.answering: dict[str, int] = {}
        self.emitted: dict[str, int] = {}
        self._due: set[tuple[str, int]] = set()
        #: per node: the process (its start) whose syncs were read, those syncs, their
        #: durations added up (the k-th: of the first k)
        self._read: dict[str, tuple[int | None, list[Sync], list[int]]] = {}

    def answers(self, node: str) -> None:
        """kube-proxy on `node` (re)started and serves /metrics from now."""
        self.answering[node] = self.w.loop.now
        self.changed(node)

    def changed(self, node: str) -> None:
        """A sync ended or a change was queued on `node`: the next look shows it."""
        tick = (self.w.loop.now // self.period + 1) * self.period
        if (node, tick) not in self._due:
            self._due.add((node, tick))
            self.w.loop.at(tick, self._look, node, tick)

    def heartbeat(self) -> None:
        now = self.w.loop.now
        for node in self.w.live_nodes():
            if self.emitted.get(node) != now:
                self._emit(node, now)
        self.w.loop.after(us(self.w.s.observe.heartbeat_s), self.heartbeat)

    def _look(self, node: str, tick: int) -> None:
        self._due.discard((node, tick))
        before = tick - self.period
        since = self.answering.get(node)
        if since is not None and before >= since and self.emitted.get(node, -1) < before:
            self._emit(node, before)
        if self.emitted.get(node) != tick:
            self._emit(node, tick)

    def _values(self, node: str, at_us: int) -> tuple[int | None, int | None, int, int, int] | None:
        """(last sync, last queued, syncs so far, their durations added up, process start) as
        kube-proxy on `node` reports them at `at_us` (None: not since this process started);
        None when it does not answer."""
        proxy = self.w.proxy
        since = self.answering.get(node)
        if not proxy.up(node) or proxy.restarting(node) or since is None or at_us < since:
            return None
        started = proxy.nodes[node].started_us
        times = proxy.synced_us.get(node, [])
        synced = _last(times, started, at_us)
        queued = _last(proxy.queued_us.get(node, []), since, at_us)
        first, last = bisect.bisect_left(times, started), bisect.bisect_right(times, at_us)
        busy = self._busy(node, started, first, last)
        return synced, queued, max(0, last - first), busy, started

    def _busy(self, node: str, started: int, first: int, last: int) -> int:
        """The durations of the process's syncs `first:last` (indices of the node's syncs)
        added up, each read once as recorder.sim.syncspans reads them (cached per process:
        a look never asks for syncs older than the last one read)."""
        proxy = self.w.proxy
        key, read, sums = self._read.get(node, (None, [], [0]))
        if key != started:
            read, sums = [], [0]
        if last - first > len(read):
            new = syncs(
                proxy.queued_us.get(node, []),
                proxy.synced_us[node][first + len(read) : last],
                proxy.applied_n[node][first + len(read) : last],
                started,
                read[-1].ended_us if read else None,
            )
            read = read + new
            for s in new:
                sums.append(sums[-1] + s.duration_us)
        self._read[node] = (started, read, sums)
        return sums[max(0, last - first)]

    def _emit(self, node: str, at_us: int) -> None:
        values = self._values(node, at_us)
        if values is None:
            return
        w = self.w
        epoch = to_micros(w.clock.dt(0))
        # an unset gauge reads 0
        synced, queued, count, busy, started = values
        metrics = {
            name: 0.0 if t is None else (epoch + t) / 1e6
            for name, t in ((LAST_SYNC, synced), (LAST_QUEUED, queued))
        }
        metrics[SYNC_COUNT] = float(count)
        metrics[SYNC_SUM] = busy / 1e6
        metrics[PROCESS_START] = (epoch + started) / 1e6
        metrics.update(gate_sample(w.s.nodes.kube_proxy_version, w.proxy.gate(node)))
        latency = round(self.rng.uniform(2.0, 30.0), 3)
        payload = {
            **answered(w, node, latency),
            "metrics": metrics,
            "derived": summarize(metrics),
            "look": "sample",
        }
        self.emitted[node] = at_us
        w.emit.push(at_us + us(latency / 1000.0), PROBE, "ProxyMetrics", "OBSERVED", payload,
                    node=node)  # fmt: skip


def answered(world: World, node: str, latency_ms: float) -> dict[str, Any]:
    """The fields of a 200 from kube-proxy's metrics port on `node`, as the prober stores them."""
    address = world.nodes[node].ip
    return {"port": METRICS_PORT, "address": address, "latency_ms": latency_ms, "status": 200,
            "error": None}  # fmt: skip


class ConfigReader:
    """kube-proxy's `/configz` per node, stored when it changed (module docstring)."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.period = us(world.s.observe.kube_proxy_period_s)
        self.interval = us(world.s.observe.kube_proxy_configz_interval_s)
        self.rng = random.Random(f"prober-configz-{world.seed}")
        self.read: set[str] = set()
        #: per node: its first read, and the configuration last stored
        self.first_us: dict[str, int] = {}
        self.stored: dict[str, dict[str, Any]] = {}
        self._due: set[str] = set()

    def answers(self, node: str) -> None:
        """kube-proxy on `node` (re)started: its configuration is read at the next tick the
        first time; after a restart with another one, at the next periodic read."""
        if node not in self.read:
            self.read.add(node)
            tick = (self.w.loop.now // self.period + 1) * self.period
            self.w.loop.at(tick, self._emit, node)
        elif node in self.stored and self._config(node) != self.stored[node]:
            self._reread(node)

    def _config(self, node: str) -> dict[str, Any]:
        w = self.w
        version = w.s.nodes.kube_proxy_version or w.s.nodes.kubelet_version
        period = w.s.kube_proxy.sync_period_s
        return {"feature_gates": configured_gates(version, w.proxy.gate(node)),
                "mode": w.s.kube_proxy.mode, "sync_period_s": period,
                "min_sync_period_s": w.s.kube_proxy.min_sync_period_s}  # fmt: skip

    def _reread(self, node: str) -> None:
        """Look again at the next periodic read of `node` (one pending at a time)."""
        if node in self._due:
            return
        first, now = self.first_us[node], self.w.loop.now
        self._due.add(node)
        self.w.loop.at(first + -(-(now - first) // self.interval) * self.interval,
                       self._changed, node)  # fmt: skip

    def _changed(self, node: str) -> None:
        self._due.discard(node)
        proxy, now = self.w.proxy, self.w.loop.now
        if not proxy.up(node):
            return  # the node went away: nothing answers; a start reads it again
        if proxy.restarting(node):
            self.w.loop.at(now + 1, self._reread, node)  # skipped: the next read looks
            return
        if self._config(node) == self.stored[node]:
            return
        first = self.first_us[node]
        started = proxy.nodes[node].started_us
        # the last read that answered with the old configuration: the last before the restart
        previous = first + (started - 1 - first) // self.interval * self.interval
        self._emit(node, look="change", previous_us=previous if started > first else None)

    def _emit(self, node: str, *, look: str = "first", previous_us: int | None = None) -> None:
        w = self.w
        latency = round(self.rng.uniform(1.0, 10.0), 3)
        config = self._config(node)
        self.first_us.setdefault(node, w.loop.now)
        self.stored[node] = config
        payload = {**answered(w, node, latency), **config, "look": look}
        w.emit.push(w.loop.now + us(latency / 1000.0), PROBE, "ProxyConfig", "OBSERVED",
                    payload, node=node, previous_us=previous_us)  # fmt: skip


def configured_gates(version: str, on: bool) -> dict[str, bool]:
    """The kept `FeatureGates` of a configuration that sets the gate `on` (module docstring):
    ProxyTerminatingEndpoints where it differs from the version's default, on 1.22-1.27."""
    minor = minor_version(version)
    if minor is None or not 22 <= minor < 28:
        return {}
    return {} if on == (minor >= 26) else {"ProxyTerminatingEndpoints": on}


def gate_sample(version: str, on: bool) -> dict[str, float]:
    """ProxyTerminatingEndpoints' `kubernetes_feature_enabled` sample as kube-proxy `version`
    prints it: none before 1.26 (the metric came with 1.26: kubernetes#112690), stage BETA and
    the gate's setting in 1.26-1.27, stage "" and 1 from 1.28 (GA: kube-proxy v1.29.0's page,
    tests/fixtures/kubeproxy)."""
    minor = minor_version(version)
    if minor is None or minor < 26:
        return {}
    stage, on = ("BETA", on) if minor < 28 else ("", True)
    return {f'{FEATURE}{{name="{PTE_GATE}",stage="{stage}"}}': float(on)}


def emit_call(world: World, at_us: int, node: str, call: str) -> None:
    """A membership call as the `cloudtrail` importer stores it (`TargetChange`)."""
    parsed = parse_trail(trail_record(world, at_us, node, call), Context(world.s.cluster, "sim"))
    assert isinstance(parsed, list)
    second = at_us - at_us % 1_000_000
    for obs in parsed:
        world.emit.push(second, TRAIL, obs.kind, obs.op, obs.payload, source_time_us=second)
