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
from dataclasses import replace
from typing import Any

from replay.detect import DEFAULTS, DetectSettings, detect
from replay.fold import FoldState
from replay.lags import lag_samples, stats
from replay.model import Advice, ServiceRef, WhatIf, Window
from replay.whatif import pod_lives, whatif

#: Candidate values, smallest first (seconds).
LADDER_S = (1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300)


def _fixable(windows: list[Window]) -> list[Window]:
    return [w for w in windows if w.cls != "node-not-ready"]


def _smallest(
    state: FoldState,
    svc: ServiceRef,
    base: WhatIf,
    field: str,
    classes: tuple[str, ...],
    settings: DetectSettings,
) -> WhatIf | None:
    for value in LADDER_S:
        changes: dict[str, Any] = {field: float(value)}
        candidate = replace(base, **changes)
        candidate = _with_grace(state, svc, candidate)
        left = [w for w in whatif(state, candidate, [svc], settings) if w.cls in classes]
        if not left:
            return candidate
    return None


def _with_grace(state: FoldState, svc: ServiceRef, settings: WhatIf) -> WhatIf:
    """terminationGracePeriodSeconds that leaves room for preStop plus the recorded shutdown."""
    if settings.prestop_s is None:
        return settings
    shutdown = 0.0
    for node in {n for n in state.service_pods.get(svc, {}).values()}:
        for pod in pod_lives(state, svc, node):
            if pod.deletion_us is not None and pod.gone_us is not None:
                took = (pod.gone_us - pod.deletion_us) / 1e6
                shutdown = max(shutdown, took - pod.prestop_s)
    grace = math.ceil(settings.prestop_s + shutdown + 5)
    return replace(settings, termination_grace_s=float(max(grace, 30)))


def advise(state: FoldState, svc: ServiceRef, settings: DetectSettings = DEFAULTS) -> Advice:
    """Lags, recommended settings and the what-if windows left under them."""
    before = detect(state, [svc], settings)
    lags = stats(lag_samples(state, [svc], settings))
    notes: list[str] = []
    best = WhatIf()
    classes = {w.cls for w in _fixable(before)}
    if classes & {"closed-before-deregistered", "pod-gone-before-deregistered"}:
        base = WhatIf(proxy_terminating_endpoints=True)
        found = _smallest(
            state,
            svc,
            base,
            "prestop_s",
            ("closed-before-deregistered", "pod-gone-before-deregistered"),
            settings,
        )
        if found is None:
            notes.append("no preStop up to 300 s closes the closing-side windows")
        else:
            best = replace(
                best,
                proxy_terminating_endpoints=True,
                prestop_s=found.prestop_s,
                termination_grace_s=found.termination_grace_s,
            )
    if "registered-before-forwarding" in classes:
        found = _smallest(
            state, svc, best, "ccm_register_delay_s", ("registered-before-forwarding",), settings
        )
        if found is None:
            notes.append("no registration delay up to 300 s closes registered-before-forwarding")
        else:
            best = replace(best, ccm_register_delay_s=found.ccm_register_delay_s)
    after = whatif(state, best, [svc], settings)
    if any(w.cls == "node-not-ready" for w in before):
        notes.append(
            "node-not-ready windows need the LB to stop routing before a node goes down "
            "(drain and deregister first); no setting here closes them"
        )
    if best.ccm_register_delay_s:
        notes.append(
            "a registration delay can be a readiness gate that waits for the LB target instead"
        )
    return Advice(
        service=svc,
        lags=lags,
        settings=best,
        windows_before=len(before),
        windows_after=len(after),
        notes=tuple(notes),
    )
