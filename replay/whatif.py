"""What-if: re-simulate the proxy, LB and pod lanes from the recorded pods and endpoints.

The recorded pod lifecycles (ready, deletion, gone) and every measured lag are kept; the settings
change what they drive: a preStop sleep and grace period move when a terminating pod stops
serving, ProxyTerminatingEndpoints decides whether kube-proxy keeps forwarding to it, a CCM
registration delay (or a readiness gate) postpones registration, LB health-check settings change
how fast a node-driven LB notices. Each endpoint change reuses the lag measured for it when there
is one, else the median measured lag, else a default. The timelines are exact, so what-if windows
have no sampling uncertainty. Node-not-ready windows are kept as recorded: no setting here closes
them. Pure; never imports the simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from replay.detect import (
    DEFAULTS,
    DetectSettings,
    Lanes,
    ccm_mode,
    detect,
    nodes_of,
    pte_enabled,
    windows_from,
)
from replay.fold import FoldState, Sample, lb_facing
from replay.lags import LagSample, lag_samples, percentile
from replay.model import ServiceRef, WhatIf, Window
from replay.signals import exact_steps, t_and, tri_from_steps

US = 1_000_000
DEFAULT_LAGS_S = {
    "kube-proxy-programming": 1.0,
    "ccm-register": 2.0,
    "ccm-deregister": 2.0,
    "lb-health-up": 15.0,
    "lb-health-down": 15.0,
}


class PodLife(NamedTuple):
    name: str
    ready_us: int | None
    deletion_us: int | None
    gone_us: int | None
    grace_s: float
    prestop_s: float


def pod_lives(state: FoldState, svc: ServiceRef, node: str) -> list[PodLife]:
    """The recorded lifecycle of every pod of the Service that ran on the node."""
    out: list[PodLife] = []
    for name, pod_node in sorted(state.service_pods.get(svc, {}).items()):
        samples = state.pods.get((svc.cluster, svc.namespace, name), [])
        if pod_node != node or not samples:
            continue
        ready = next((p.at_us for p in samples if p.state == "ready"), None)
        deletion = next(
            (p.deletion_us or p.at_us for p in samples if p.state in ("terminating", "gone")),
            None,
        )
        gone = next((p.at_us for p in samples if p.state == "gone"), None)
        last = samples[-1]
        grace = float(last.grace_s if last.grace_s is not None else 30)
        prestop = (last.prestop_ms or 0) / 1000
        out.append(PodLife(name, ready, deletion, gone, grace, prestop))
    return out


def _gone_under(pod: PodLife, settings: WhatIf) -> int | None:
    if pod.deletion_us is None:
        return pod.gone_us
    if settings.prestop_s is None and settings.termination_grace_s is None:
        return pod.gone_us
    took = (pod.gone_us - pod.deletion_us) / US if pod.gone_us is not None else pod.grace_s
    shutdown = max(0.0, took - pod.prestop_s)
    prestop = pod.prestop_s if settings.prestop_s is None else settings.prestop_s
    grace = pod.grace_s if settings.termination_grace_s is None else settings.termination_grace_s
    return pod.deletion_us + round(min(prestop + shutdown, grace) * US)


@dataclass(frozen=True, slots=True)
class LagBook:
    """Measured lags by (node, endpoint change time, name), and the medians as fallbacks."""

    exact: dict[tuple[str, int, str], float]
    median: dict[str, float]

    def get(self, node: str, at_us: int, name: str) -> int:
        seconds = self.exact.get((node, at_us, name), self.median.get(name, DEFAULT_LAGS_S[name]))
        return round(seconds * US)


def lag_book(samples: Sequence[LagSample]) -> LagBook:
    exact = {(s.node, s.at_us, s.lag): s.seconds for s in samples}
    median: dict[str, float] = {}
    for name in DEFAULT_LAGS_S:
        values = sorted(s.seconds for s in samples if s.lag == name)
        if values:
            median[name] = percentile(values, 50)
    return LagBook(exact, median)


def _counts(pods: Sequence[PodLife], settings: WhatIf) -> list[tuple[int, int, int, int]]:
    """(time, ready, serving-terminating, alive) after every pod change, in time order."""
    deltas: list[tuple[int, int, int, int]] = []
    for pod in pods:
        if pod.ready_us is None:
            continue
        gone = _gone_under(pod, settings)
        deltas.append((pod.ready_us, 1, 0, 1))
        deletion = pod.deletion_us
        if deletion is not None and deletion >= pod.ready_us:
            deltas.append((deletion, -1, 1, 0))
            if gone is not None:
                deltas.append((max(gone, deletion), 0, -1, -1))
        elif gone is not None:
            deltas.append((gone, -1, 0, -1))
    out: list[tuple[int, int, int, int]] = []
    ready = serving = alive = 0
    for at, dr, ds, da in sorted(deltas):
        ready, serving, alive = ready + dr, serving + ds, alive + da
        out.append((at, ready, serving, alive))
    return out


def _changes(points: list[tuple[int, bool]]) -> list[tuple[int, bool]]:
    out: list[tuple[int, bool]] = []
    current = False
    for at, value in points:
        if value != current:
            out.append((at, value))
            current = value
    return out


def node_windows(
    state: FoldState,
    svc: ServiceRef,
    node: str,
    settings: WhatIf,
    book: LagBook,
    detect_settings: DetectSettings,
) -> list[Window]:
    pods = pod_lives(state, svc, node)
    counts = _counts(pods, settings)
    pte = settings.proxy_terminating_endpoints
    if pte is None:
        pte = pte_enabled(state, svc.cluster, node, detect_settings)
    ready_changes = _changes([(at, r > 0) for at, r, _s, _a in counts])
    fwd_changes = _changes([(at, r > 0 or (pte and s > 0)) for at, r, s, _a in counts])
    proxy = [(at + book.get(node, at, "kube-proxy-programming"), up, 0) for at, up in fwd_changes]
    alive = exact_steps([(at, a > 0, 0) for at, _r, _s, a in counts], False)
    forwarding = tri_from_steps(exact_steps(proxy, False), False)
    serves = t_and(forwarding, tri_from_steps(alive, False))
    routed_changes: list[tuple[int, bool, int]] = []
    if ccm_mode(state, svc, detect_settings) == "node":
        hc_changed = settings.hc_interval_s is not None or (
            settings.hc_healthy_threshold is not None or settings.hc_unhealthy_threshold is not None
        )
        interval = settings.hc_interval_s or detect_settings.hc_interval_s
        for at, up in ready_changes:
            proxy_at = at + book.get(node, at, "kube-proxy-programming")
            name = "lb-health-up" if up else "lb-health-down"
            if hc_changed:
                threshold = (
                    (settings.hc_healthy_threshold or detect_settings.hc_healthy_threshold)
                    if up
                    else (settings.hc_unhealthy_threshold or detect_settings.hc_unhealthy_threshold)
                )
                detect_us = round((threshold - 0.5) * interval * US)
                routed_changes.append((proxy_at + detect_us, up, 0))
            else:
                routed_changes.append((at + book.get(node, at, name), up, 0))
    else:
        delay = round((settings.ccm_register_delay_s or 0) * US)
        for at, up in ready_changes:
            name = "ccm-register" if up else "ccm-deregister"
            routed_changes.append((at + book.get(node, at, name) + (delay if up else 0), up, 0))
    routed = tri_from_steps(exact_steps(routed_changes, False), False)
    eps = [
        Sample(at, None, "ready" if r else ("serving-terminating" if s else "none"), 0)
        for at, r, s, _a in counts
    ]
    lanes = Lanes(routed, serves, True, [], eps)
    horizon = state.last_at_us.get(svc, 0)
    found = windows_from(state, svc, node, lanes, horizon, alive=alive)
    return [w for w in found if w.cls != "node-not-ready"]


def whatif(
    state: FoldState,
    settings: WhatIf,
    services: Sequence[ServiceRef] | None = None,
    detect_settings: DetectSettings = DEFAULTS,
) -> list[Window]:
    """The windows the recorded timeline would have had under `settings`."""
    out: list[Window] = []
    for svc in services if services is not None else lb_facing(state):
        book = lag_book(lag_samples(state, [svc], detect_settings))
        for node in nodes_of(state, svc):
            found = node_windows(state, svc, node, settings, book, detect_settings)
            out.extend(replace(w, provenance="inferred") for w in found)
        recorded = detect(state, [svc], detect_settings)
        out.extend(w for w in recorded if w.cls == "node-not-ready")
    out.sort(key=lambda w: (w.start_us, w.service, w.node))
    return out
