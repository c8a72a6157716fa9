"""Advice: the measured lags and the smallest settings that close every observed window.

Per class: registered-before-forwarding is closed by delaying registration (a CCM delay or a
readiness gate) past kube-proxy's programming lag; closed-before-deregistered by keeping
kube-proxy forwarding to terminating pods (ProxyTerminatingEndpoints) while a preStop sleep keeps
them serving until the LB has stopped routing; pod-gone-before-deregistered by a longer preStop.
terminationGracePeriodSeconds must cover preStop plus the pod's own shutdown. Each candidate is
tried with the what-if, smallest first, and the advice carries the run that proves it.
node-not-ready windows cannot be closed by these settings and are reported as such. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gapwatch.replay.assumptions import DEFAULTS, DetectSettings
from gapwatch.replay.context import ccm_mode
from gapwatch.replay.detect import detect
from gapwatch.replay.fold import FoldState
from gapwatch.replay.lags import LagSample, lag_samples, stats
from gapwatch.replay.measure import Measured, measured_values, stated_reads
from gapwatch.replay.model import Advice, LagStats, ServiceRef, WhatIf, Window
from gapwatch.replay.owned import Owner
from gapwatch.replay.platform import clouds
from gapwatch.replay.whatif import (
    MIN_SAMPLES,
    LagBook,
    Lives,
    lives_of,
    whatif_parts,
    window_order,
    worst_lags,
)

#: Candidate values, smallest first (seconds).
LADDER_S = (1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300)


def _fixable(windows: list[Window]) -> list[Window]:
    return [w for w in windows if w.cls != "node-not-ready"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What was measured and found, when a caller has it already (replay.scope: from the
    projections); None: derived from the state."""

    samples: Sequence[LagSample] | None = None
    windows: Sequence[Window] | None = None
    #: (since, until): only the windows that overlap this range count
    span: tuple[int, int] | None = None
    #: one rollout's: only the windows it owns count (replay.owned; its range is `span`)
    owner: Owner | None = None
    #: the LagBooks of the what-if runs (one advice: one state, one set of lags)
    books: dict[tuple[ServiceRef, bool], LagBook] = field(default_factory=dict)
    #: the LB settings measured from the log (replay.measure; only measured ones)
    lb: Mapping[str, float] | None = None
    #: the what-if windows of each (settings, worst case) asked for already: the advice's
    #: final settings are the last candidate its search replayed
    runs: dict[tuple[WhatIf, ServiceRef, bool], list[Window]] = field(default_factory=dict)
    #: each node's pod lives (replay.whatif.lives_of), read by every candidate's what-if
    lives: Lives = field(default_factory=dict)
    #: per Service, the longest recorded shutdown after preStop (`_with_grace`)
    shutdowns: dict[ServiceRef, float] = field(default_factory=dict)

    def within(self, windows: Sequence[Window]) -> list[Window]:
        """The windows that count: those that overlap `span`, of those the `owner`'s."""
        if self.span is not None:
            lo, hi = self.span
            windows = [w for w in windows if w.end_us >= lo and w.start_us < hi]
        return list(windows) if self.owner is None else self.owner.owned(windows)

    def whatif(
        self, state: FoldState, settings: WhatIf, svc: ServiceRef, detect_settings: DetectSettings,
        *, worst_case: bool = False,
    ) -> list[Window]:  # fmt: skip
        self.left(state, settings, svc, detect_settings, (), worst_case=worst_case)
        return self.within(self.runs[(settings, svc, worst_case)])

    def left(
        self, state: FoldState, settings: WhatIf, svc: ServiceRef, detect_settings: DetectSettings,
        classes: tuple[str, ...], *, worst_case: bool = False, limit: int | None = None,
    ) -> int:  # fmt: skip
        """How many windows of `classes` the what-if leaves (of those the span counts); past
        `limit` the replay stops at that node (the count is then only known to exceed it, and
        the run is not kept)."""
        key = (settings, svc, worst_case)
        if key in self.runs:
            return sum(1 for w in self.within(self.runs[key]) if w.cls in classes)
        parts = whatif_parts(
            state, settings, [svc], detect_settings, worst_case=worst_case,
            lb=self.lb, samples=self.samples, recorded=self.windows, books=self.books,
            lives=self.lives,
        )  # fmt: skip
        found: list[Window] = []
        left = 0
        for part in parts:
            found.extend(part)
            left += sum(1 for w in self.within(part) if w.cls in classes)
            if limit is not None and left > limit:
                return left
        found.sort(key=window_order)
        self.runs[key] = found
        return left


def _left(
    state: FoldState,
    svc: ServiceRef,
    candidate: WhatIf,
    classes: tuple[str, ...],
    settings: DetectSettings,
    known: Recorded,
    limit: int | None = None,
) -> int:
    """Windows of `classes` left under `candidate`, with recorded and with worst-case lags;
    past `limit` with the recorded lags already, the worst case is not replayed (a count above
    it is all a caller compares)."""
    left = 0
    for worst in (False, True):
        rest = None if limit is None else limit - left
        left += known.left(state, candidate, svc, settings, classes, worst_case=worst, limit=rest)
        if limit is not None and left > limit:
            break
    return left


def _smallest(
    state: FoldState,
    svc: ServiceRef,
    base: WhatIf,
    field: str,
    classes: tuple[str, ...],
    settings: DetectSettings,
    known: Recorded,
) -> tuple[WhatIf | None, int]:
    """The smallest value of `field` that closes every window the setting can close at all
    (the largest value shows which those are: a crashed pod is no preStop's business);
    returns it and how many windows no value closes."""

    def at(value: float) -> WhatIf:
        changes: dict[str, Any] = {field: value}
        return _with_grace(state, svc, replace(base, **changes), known)

    floor = _left(state, svc, at(float(LADDER_S[-1])), classes, settings, known)
    for value in LADDER_S:
        candidate = at(float(value))
        if _left(state, svc, candidate, classes, settings, known, limit=floor) <= floor:
            return candidate, floor
    return None, floor


def _shutdown(state: FoldState, svc: ServiceRef, known: Recorded) -> float:
    """The longest a recorded pod took to stop after its preStop (seconds; 0: none seen)."""
    shutdown = known.shutdowns.get(svc)
    if shutdown is None:
        shutdown = 0.0
        for node in {n for n in state.service_pods.get(svc, {}).values()}:
            for pod in lives_of(state, svc, node, known.lives):
                if pod.deletion_us is not None and pod.gone_us is not None:
                    took = (pod.gone_us - pod.deletion_us) / 1e6
                    shutdown = max(shutdown, took - pod.prestop_s)
        known.shutdowns[svc] = shutdown
    return shutdown


def _with_grace(state: FoldState, svc: ServiceRef, settings: WhatIf, known: Recorded) -> WhatIf:
    """terminationGracePeriodSeconds that leaves room for preStop plus the recorded shutdown."""
    if settings.prestop_s is None:
        return settings
    grace = math.ceil(settings.prestop_s + _shutdown(state, svc, known) + 5)
    return replace(settings, termination_grace_s=float(max(grace, 30)))


def advise(
    state: FoldState,
    svc: ServiceRef,
    settings: DetectSettings = DEFAULTS,
    lb_reads: Mapping[str, Measured] | None = None,
    *,
    known: Recorded | None = None,
) -> Advice:
    """Lags, recommended settings and the what-if windows left under them; `lb_reads`: the
    LB settings read from the log (replay.measure), which replace the assumed ones; `known`:
    the Service's measured lags and recorded windows, when the caller has them."""
    lb = measured_values(lb_reads)
    if known is None:
        known = Recorded(lb=lb)
    elif lb_reads is not None:
        known = replace(known, lb=lb)
    # the knobs name the settings detection and what-if ran with: CloudTrail's statements too
    lb_reads = stated_reads(state, svc, lb_reads)
    if known.windows is None:
        before = detect(state, [svc], settings)
    else:
        before = known.within([w for w in known.windows if w.service == svc])
    samples = lag_samples(state, [svc], settings) if known.samples is None else known.samples
    lags = stats([s for s in samples if s.service == svc])
    notes: list[str] = []
    best = WhatIf()
    classes = {w.cls for w in _fixable(before)}
    if classes & {"closed-before-deregistered", "pod-gone-before-deregistered"}:
        base = WhatIf(proxy_terminating_endpoints=True)
        found, unclosable = _smallest(
            state,
            svc,
            base,
            "prestop_s",
            ("closed-before-deregistered", "pod-gone-before-deregistered"),
            settings,
            known,
        )
        if unclosable:
            notes.append(
                f"{unclosable // 2 or 1} closing-side window(s) stay under any preStop "
                "(a pod that crashed or was killed without a graceful deletion)"
            )
        if found is not None and found.prestop_s is not None:
            best = replace(
                best,
                proxy_terminating_endpoints=True,
                prestop_s=found.prestop_s,
                termination_grace_s=found.termination_grace_s,
            )
    node_driven = ccm_mode(state, svc, settings) == "node"
    if "registered-before-forwarding" in classes and node_driven:
        notes.append(
            "registered-before-forwarding under a health-checking LB (AWS NLB instance mode, "
            "GKE): it has no registration-delay knob; use minReadySeconds, or for IP targets "
            "the AWS Load Balancer Controller's pod readiness gate"
        )
    elif "registered-before-forwarding" in classes:
        found, unclosable = _smallest(
            state, svc, best, "ccm_register_delay_s", ("registered-before-forwarding",),
            settings, known,
        )  # fmt: skip
        if unclosable:
            notes.append("some registered-before-forwarding windows stay under any delay")
        if found is not None:
            best = replace(best, ccm_register_delay_s=found.ccm_register_delay_s)
    after = known.whatif(state, best, svc, settings)
    if any(w.cls == "node-not-ready" for w in before):
        notes.append(
            "node-not-ready windows need the LB to stop routing before a node goes down "
            "(drain and deregister first); no setting here closes them"
        )
    few = [lag for lag in lags if 0 < lag.samples < MIN_SAMPLES or lag.samples == 0]
    measured = {lag.name for lag in lags if lag.samples}
    if few and measured:
        worst = worst_lags([s for s in samples if s.service == svc])
        notes.append(
            "few measurements of "
            + ", ".join(f"{lag.name} ({lag.samples})" for lag in few if lag.name in worst)
            + ": the worst case assumes "
            + ", ".join(f"{lag.name} {round(worst[lag.name], 1):g} s" for lag in few)
        )
    if best.ccm_register_delay_s:
        notes.append(
            "a registration delay can be a readiness gate that waits for the LB target instead"
        )
    if not measured:
        notes.append(
            "no lag was measured for this Service: every number above comes from the "
            "assumptions (`gapwatch assumptions`), not from a measurement"
        )
    return Advice(
        service=svc,
        lags=lags,
        settings=best,
        windows_before=len(before),
        windows_after=len(after),
        notes=tuple(notes),
        knobs=knobs(
            best,
            lags,
            node_driven=node_driven,
            lb_reads=lb_reads,
            on=clouds(state.node_clouds, svc, state.service_nodes.get(svc, set())),
        ),
    )


def _rests_on(lags: tuple[LagStats, ...], *names: str) -> str:
    count = sum(lag.samples for lag in lags if lag.name in names)
    if not count:
        return "rests on no measurement (a default)"
    return f"rests on {count} measurement(s) of {' / '.join(names)}"


def _lb_setting(lb_reads: Mapping[str, Measured] | None, name: str, label: str) -> str:
    found = (lb_reads or {}).get(name)
    if found is None or found.value is None:
        return f"{label} ?"
    how = f"measured, {found.samples} read(s)" if found.measured else "assumed default"
    return f"{label} {found.value:g} ({how})"


def knobs(
    best: WhatIf,
    lags: tuple[LagStats, ...],
    *,
    node_driven: bool,
    lb_reads: Mapping[str, Measured] | None = None,
    on: frozenset[str] = frozenset(),
) -> tuple[str, ...]:
    """The recommended settings as the knobs that set them; a knob of one cloud only where
    the nodes' providerIDs name that cloud or none (`on`: replay.platform.clouds)."""

    def has(*cloud: str) -> bool:
        return not on or bool(on.intersection(cloud))

    out: list[str] = []
    closing = ("lb-health-down",) if node_driven else ("ccm-deregister",)
    if best.prestop_s is not None:
        out.append(
            f"preStop sleep {best.prestop_s:g} s (container lifecycle.preStop, "
            f"sleep action from 1.30 or exec sleep): {_rests_on(lags, *closing)}"
        )
    if best.termination_grace_s is not None:
        out.append(
            f"terminationGracePeriodSeconds {best.termination_grace_s:g} (pod spec; preStop "
            "counts inside it): preStop plus the recorded shutdown"
        )
    if best.proxy_terminating_endpoints:
        out.append(
            "ProxyTerminatingEndpoints: on by default from kube-proxy 1.26, always from 1.28 "
            "(upgrade kube-proxy, or enable the feature gate on 1.22-1.25); the app must keep "
            "passing readiness while terminating"
        )
    if best.ccm_register_delay_s:
        where = " / ".join(
            name for name, cloud in (("Tencent TKE", "tencent"), ("Alibaba CCM", "alibaba"))
            if has(cloud)
        )  # fmt: skip
        out.append(
            f"registration delay {best.ccm_register_delay_s:g} s: "
            f"{_rests_on(lags, 'kube-proxy-programming')}; "
            f"{f'{where}: ' if where else ''}delay via a readiness gate on the LB target or "
            "minReadySeconds"
        )
    if not node_driven and best.prestop_s is not None and has("tencent"):
        out.append(
            "Tencent TKE (endpoint-driven CLB): service.cloud.tencent.com/enable-grace-shutdown "
            "sets a terminating pod's CLB weight to 0 and enable-grace-deletion holds the pod's "
            "deletion until it is, which closes the closing side without the preStop: "
            f"{_rests_on(lags, *closing)}"
        )
    if node_driven and best.prestop_s is not None and has("aws"):
        now = ", ".join(
            _lb_setting(lb_reads, name, label)
            for name, label in (
                ("hc_interval_s", "HealthCheckIntervalSeconds"),
                ("hc_unhealthy_threshold", "UnhealthyThresholdCount"),
                ("deregistration_delay_s", "deregistration_delay.timeout_seconds"),
            )
        )
        out.append(
            "AWS target group: the health check interval and unhealthy threshold bound how long "
            "the NLB keeps routing to a node that stopped serving; "
            "deregistration_delay.timeout_seconds only how long open connections may finish "
            f"(now: {now}): {_rests_on(lags, 'lb-health-down')}"
        )
    return tuple(out)
