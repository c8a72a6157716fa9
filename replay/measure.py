"""Measurements that replace assumptions: the LB's health-check settings and the watch delay.

Two quantities the log can measure directly, where detection would otherwise assume:

- **the target group's settings** (health-check interval, healthy/unhealthy thresholds, timeout,
  deregistration delay) from the LB poller's `TargetGroupAttributes` observations (what
  `DescribeTargetGroups`/`DescribeTargetGroupAttributes` returned) or from CloudTrail's
  `CreateTargetGroup` / `ModifyTargetGroupAttributes` records (`TargetChange`). A setting is
  configuration, not a distribution: one read is exact; the newest read wins, and a setting that
  changed during the recording says so (`values`);
- **the watch skew detection allows** (`watch_skew`, used by replay.detect per Service): where
  EndpointSlices, Pods and Nodes carry their write times (replay.owntime), how late their lane
  times can lie after the change (at most the stamp's 1 s resolution, however late the watch);
- **the watch delay**: observer time minus the API server's own time of the same change, for
  objects created while the recorder watched (`creationTimestamp` of an `ADDED`) and Events
  (their event time). Kubernetes stamps whole seconds, so each sample is an upper bound: the
  delay lies in `[sample - resolution, sample]`. A negative sample means the observer's clock is
  behind the API server's (counted, never used as a delay).

Every result says whether it is measured (and from how many samples) or assumed (the default and
its public source, from replay.assumptions). Pure: rows in, `Measured` out; replay.api reads the
rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from gapwatch.replay.assumptions import ASSUMPTIONS, US, DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState
from gapwatch.replay.lags import percentile
from gapwatch.replay.membership import group_services
from gapwatch.replay.model import ServiceRef
from gapwatch.replay.owntime import Late
from gapwatch.replay.tgsettings import SETTING_KEYS, settings_read

#: Settings that are counts (the others are seconds).
COUNTS = frozenset({"hc_healthy_threshold", "hc_unhealthy_threshold"})
#: Defaults of the settings replay.assumptions does not hold, with their public source.
OTHER_DEFAULTS: dict[str, tuple[float, str]] = {
    "hc_timeout_s": (10.0, "AWS Load Balancer Controller default for eTP=Local: timeout 10 s"),
    "deregistration_delay_s": (300.0, "ELBv2 deregistration_delay.timeout_seconds default 300 s"),
}
#: Resolution of Kubernetes object timestamps (metav1.Time is serialized in whole seconds).
K8S_STAMP_RESOLUTION_S = 1.0


class Row(NamedTuple):
    """One stored observation, as much of it as measuring needs."""

    kind: str
    op: str
    source: str
    observed_us: int
    source_us: int | None
    payload: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Measured:
    """One quantity: the value in use, and whether the log measured it or it is assumed."""

    name: str
    value: float | None
    samples: int
    #: measured: what it was read from; assumed: the default's public source
    source: str
    #: every distinct value read, oldest first (a setting changed when there are several)
    values: tuple[float, ...] = field(default=())
    #: the delay samples' median and the count of negative ones (watch delay only)
    p50: float | None = None
    negative: int = 0

    @property
    def measured(self) -> bool:
        return self.samples > 0

    def describe(self) -> str:
        """`measured (n samples)` or `assumed (default V, source)`: what output prints."""
        if self.measured:
            plural = "" if self.samples == 1 else "s"
            return f"measured ({self.samples} sample{plural}, {self.source})"
        shown = "?" if self.value is None else f"{self.value:g}"
        return f"assumed (default {shown}, {self.source})"


def measured_values(reads: Mapping[str, Measured] | None) -> dict[str, float]:
    """Only the settings the log measured, name -> value (what what-if and advice replace the
    assumed LB settings with)."""
    found = (reads or {}).items()
    return {k: m.value for k, m in found if m.measured and m.value is not None}


def _assumed(name: str, settings: DetectSettings) -> Measured:
    if name in OTHER_DEFAULTS:
        default, source = OTHER_DEFAULTS[name]
        return Measured(name, default, 0, source)
    source = next(a.source for a in ASSUMPTIONS if a.name == name)
    return Measured(name, float(getattr(settings, name)), 0, source)


def target_group_settings(rows: Iterable[Row], settings: DetectSettings) -> dict[str, Measured]:
    """Each LB setting of SETTING_KEYS: the newest value read from the rows, else assumed."""
    seen: dict[str, list[float]] = {name: [] for name in SETTING_KEYS}
    origin: dict[str, set[str]] = {name: set() for name in SETTING_KEYS}
    for row in sorted(rows, key=lambda r: r.observed_us):
        for name, value in settings_read(row.kind, row.op, row.payload).items():
            seen[name].append(value)
            origin[name].add(row.kind)
    out: dict[str, Measured] = {}
    for name, values in seen.items():
        if not values:
            out[name] = _assumed(name, settings)
            continue
        distinct = tuple(dict.fromkeys(values))
        kinds = " and ".join(sorted(origin[name]))
        out[name] = Measured(name, values[-1], len(values), kinds, distinct)
    return out


def watch_delay(rows: Iterable[Row], *, list_s: float) -> Measured:
    """Observer minus source time of Kubernetes changes the watch delivered (not the initial
    list: rows observed within `list_s` of the first watch observation are skipped, and an ADDED
    object created before the watch began was listed, not watched). Value: the largest sample
    (an upper bound of the delay, to the stamps' resolution)."""
    watched = [r for r in rows if r.source in ("k8s-watch", "k8s-audit")]
    if not watched:
        return Measured("watch_delay_s", None, 0, "no Kubernetes watch in the log")
    first = min(r.observed_us for r in watched)
    listed_until = first + seconds_us(list_s)
    delays: list[float] = []
    negative = 0
    for r in watched:
        if r.source_us is None or r.observed_us <= listed_until:
            continue
        if r.kind != "Event" and (r.op != "ADDED" or r.source_us < first):
            continue
        delay = (r.observed_us - r.source_us) / US
        if delay < 0:
            negative += 1
        else:
            delays.append(delay)
    if not delays:
        return Measured("watch_delay_s", None, 0, "no change with its own time", negative=negative)
    delays.sort()
    source = f"observer vs API time, {K8S_STAMP_RESOLUTION_S:g} s stamps: upper bounds"
    return Measured(
        "watch_delay_s",
        delays[-1],
        len(delays),
        source,
        p50=percentile(delays, 50),
        negative=negative,
    )


def _late_of(state: FoldState, svc: ServiceRef) -> list[Late]:
    """How late the Service's own lanes' stamped changes were seen: its EndpointSlices, the
    pods they named, the nodes it has lanes on (all in any fold that holds the Service)."""
    get = state.own.late.get  # one look-up a key: a Service has thousands of pods
    cluster, namespace = svc.cluster, svc.namespace
    found = [x for x in (get(("slice", svc)),) if x is not None]
    pods = state.service_pods.get(svc, {})
    found += [x for pod in pods if (x := get((cluster, namespace, pod))) is not None]
    nodes = state.service_nodes.get(svc, ())
    found += [x for node in nodes if (x := get((cluster, node))) is not None]
    return found


def watch_skew(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> Measured:
    """How late a Kubernetes lane time may lie after its change (what `watch_skew_s`
    assumes), measured where the objects carry their write times (replay.owntime): each
    stamped change's lane time is at most its stamp + 1 s and at most its observation, so
    (lane time - stamp) bounds it; the largest over the Service's changes, with at least
    `min_measurements` of them. Fewer, or any change seen before its own stamp (the
    recorder's clock behind the API server's): the assumption."""
    found = _late_of(state, svc)
    count = sum(x.stamped for x in found)
    behind = sum(x.behind for x in found)
    if count < settings.min_measurements:
        return _assumed("watch_skew_s", settings)
    if behind:  # the recorder's clock behind the API server's: the stamps bound nothing
        assumed = _assumed("watch_skew_s", settings)
        note = f"{behind} changes seen before their own stamps (a clock behind); "
        return replace(assumed, source=note + assumed.source, negative=behind)
    bound = max(x.bound_max_us for x in found) / US
    delay = max(x.raw_max_us for x in found) / US
    source = (
        f"objects' own write times (managedFields, {K8S_STAMP_RESOLUTION_S:g} s stamps); "
        f"the watch delivered up to {delay:g} s after them"
    )
    return Measured("watch_skew_s", bound, count, source)


#: What a `tgconf` fact was read from: the poller's reads name the Service, CloudTrail's
#: calls only a target group.
_POLLED, _TRAIL = "TargetGroupAttributes", "CloudTrail Create/ModifyTargetGroup"


def _statements(state: FoldState, svc: ServiceRef) -> list[tuple[str, str, float]]:
    """(setting, origin, value) of every statement for the Service's target groups, oldest
    first (the poller's reads name the Service; CloudTrail's calls name a group, tied to the
    Service by its membership calls: replay.membership)."""
    confs = [c for c in state.lb_confs if c.cluster == svc.cluster]
    if not confs:
        return []
    groups = {g for (c, g), ref in group_services(state).items() if ref == svc}
    out: list[tuple[str, str, float]] = []
    for conf in sorted(confs, key=lambda c: c.at_us):
        if conf.namespace is not None and conf.name is not None:
            mine, origin = (conf.namespace, conf.name) == (svc.namespace, svc.name), _POLLED
        else:
            mine, origin = conf.group in groups, _TRAIL
        if not mine:
            continue
        if conf.interval_us is not None:
            out.append(("hc_interval_s", origin, conf.interval_us / US))
        if conf.healthy is not None:
            out.append(("hc_healthy_threshold", origin, conf.healthy))
        if conf.unhealthy is not None:
            out.append(("hc_unhealthy_threshold", origin, conf.unhealthy))
    return out


def lb_settings(state: FoldState, svc: ServiceRef) -> dict[str, float]:
    """The health-check settings the log states for the Service's target groups: the newest
    statement of each."""
    return {name: value for name, _origin, value in _statements(state, svc)}


def stated_reads(
    state: FoldState, svc: ServiceRef, reads: Mapping[str, Measured] | None
) -> dict[str, Measured]:
    """`reads` (replay.measure_store: the poller's reads naming the Service) with the
    health-check settings detection uses (`lb_settings`: the poller's and CloudTrail's
    statements) in their place: what-if and its page then run with what detection ran with."""
    values: dict[str, list[float]] = {}
    origins: dict[str, set[str]] = {}
    for name, origin, value in _statements(state, svc):
        values.setdefault(name, []).append(value)
        origins.setdefault(name, set()).add(origin)
    out = dict(reads or {})
    for name, found in values.items():
        source = " and ".join(sorted(origins[name]))
        out[name] = Measured(name, found[-1], len(found), source, tuple(dict.fromkeys(found)))
    return out


def measured_settings(
    state: FoldState, svc: ServiceRef, settings: DetectSettings
) -> DetectSettings:
    """`settings` for detecting the Service's windows (replay.detect uses this per Service):
    the measured watch skew and the target groups' stated health-check settings in place of
    the assumed ones where the log has them. Kept in the state's memo until the next fold."""
    key = (svc, settings)
    known = state.memo.measured.get(key)
    if known is None:
        known = state.memo.measured[key] = _measured_settings(state, svc, settings)
    return known


def _measured_settings(
    state: FoldState, svc: ServiceRef, settings: DetectSettings
) -> DetectSettings:
    changes: dict[str, Any] = {}
    skew = watch_skew(state, svc, settings)
    if skew.measured and skew.value is not None:
        changes["watch_skew_s"] = skew.value
    for name, value in lb_settings(state, svc).items():
        changes[name] = int(value) if name in COUNTS else value
    return replace(settings, **changes) if changes else settings


def with_measured(settings: DetectSettings, lb: Mapping[str, Measured]) -> DetectSettings:
    """`settings` with the LB's health-check figures replaced by the measured ones."""
    changes: dict[str, Any] = {}
    for name in ("hc_interval_s", "hc_healthy_threshold", "hc_unhealthy_threshold"):
        found = lb.get(name)
        if found is not None and found.measured and found.value is not None:
            changes[name] = int(found.value) if name in COUNTS else found.value
    return replace(settings, **changes)


def rows_for_settings(rows: Sequence[Row]) -> list[Row]:
    """The rows that can state a target group's settings."""
    return [r for r in rows if r.kind in ("TargetGroupAttributes", "TargetChange")]
