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

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import NamedTuple

from gapwatch.replay.assumptions import (
    DEFAULTS,
    US,
    WHATIF_FEW_SAMPLES_WORST_S,
    WHATIF_SAME_CHANGE_S,
    WHATIF_TYPICAL_LAGS_S,
    WHATIF_WORST_MARGIN,
    DetectSettings,
    seconds_us,
)
from gapwatch.replay.context import ccm_mode, local_pods, nodes_of
from gapwatch.replay.detect import detect, windows_from
from gapwatch.replay.fold import FoldState, Sample, horizon, lb_facing
from gapwatch.replay.lags import LagSample, lag_samples, percentile
from gapwatch.replay.lanes import Lanes
from gapwatch.replay.model import ServiceRef, WhatIf, Window
from gapwatch.replay.policy import while_local
from gapwatch.replay.proxy import pte_enabled
from gapwatch.replay.recorded_lb import recorded_for, recorded_lb, unchanged_dropped
from gapwatch.replay.signals import HI, LO, exact_steps, t_and, tri_from_steps

SAME_CHANGE_US = seconds_us(WHATIF_SAME_CHANGE_S)
DEFAULT_LAGS_S = WHATIF_TYPICAL_LAGS_S


class PodLife(NamedTuple):
    name: str
    #: (time, pending/ready/terminating/gone) at every change; time LO: before the recording
    phases: tuple[tuple[int, str], ...]
    deletion_us: int | None
    gone_us: int | None
    grace_s: float
    prestop_s: float


def pod_lives(state: FoldState, svc: ServiceRef, node: str) -> list[PodLife]:
    """The recorded lifecycle of every pod of the Service that ran on the node."""
    out: list[PodLife] = []
    for name in local_pods(state, svc, node):  # sorted by name
        samples = state.pods.get((svc.cluster, svc.namespace, name), [])
        if not samples:
            continue
        phases: list[tuple[int, str]] = []
        for p in samples:
            if not phases or phases[-1][1] != p.state:
                phases.append((p.at_us, p.state))
        if phases[0][1] in ("ready", "terminating"):
            phases[0] = (LO, phases[0][1])  # already up when the recording began
        # the watch saw the deletion request (deletionTimestamp is when SIGKILL is due)
        deletion = next((at for at, st in phases if st == "terminating"), None)
        gone = next((at for at, st in phases if st == "gone"), None)
        last = samples[-1]
        grace = float(last.grace_s if last.grace_s is not None else 30)
        prestop = (last.prestop_ms or 0) / 1000
        out.append(PodLife(name, tuple(phases), deletion, gone, grace, prestop))
    return out


#: pod_lives per (Service, node) of one state that is folded no further (a Scope's, one
#: advice's): the what-if runs of an advice read every node's pods once per candidate
Lives = dict[tuple[ServiceRef, str], list[PodLife]]


def lives_of(state: FoldState, svc: ServiceRef, node: str, lives: Lives | None) -> list[PodLife]:
    """`pod_lives`, kept in `lives` when given (its state must not be folded further)."""
    if lives is None:
        return pod_lives(state, svc, node)
    found = lives.get((svc, node))
    if found is None:
        found = lives[(svc, node)] = pod_lives(state, svc, node)
    return found


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


#: What a pod in each phase adds to (ready, serving-terminating, alive).
_CONTRIBUTES = {
    "ready": (1, 0, 1),
    "terminating": (0, 1, 1),
    "unready": (0, 0, 1),
    "pending": (0, 0, 0),
    "gone": (0, 0, 0),
}


def _phases_under(pod: PodLife, settings: WhatIf) -> list[tuple[int, str]]:
    """The pod's phases with its end of serving moved by the settings' preStop and grace."""
    gone = _gone_under(pod, settings)
    if pod.deletion_us is None or gone == pod.gone_us:
        return list(pod.phases)
    kept = [(at, st) for at, st in pod.phases if at <= pod.deletion_us]
    return [*kept, (max(gone or pod.deletion_us, pod.deletion_us), "gone")]


@dataclass(frozen=True, slots=True)
class LagBook:
    """Measured lags by (node, endpoint change time, name), and the medians as fallbacks."""

    exact: dict[tuple[str, int, str], float]
    median: dict[str, float]
    #: when set, every change gets these lags instead (the worst-case replay)
    worst: dict[str, float] | None = None
    #: `exact` per (node, name): the change times in order, and (time, position in `exact`,
    #: seconds) beside them (`lanes_of`)
    lanes: dict[tuple[str, str], tuple[list[int], list[tuple[int, int, float]]]] = field(
        default_factory=dict
    )

    def get(self, node: str, at_us: int, name: str) -> int:
        """The lag after a pod change at `at_us`: the one measured from the endpoint change it
        caused (the slice update lands shortly after the pod update; of several, the first
        measured), else the median."""
        if self.worst is not None:
            return round(self.worst[name] * US)
        times, entries = self.lanes.get((node, name), ((), ()))
        lo, hi = bisect_left(times, at_us), bisect_right(times, at_us + SAME_CHANGE_US)
        if lo < hi:
            eps_at, _pos, seconds = min(entries[lo:hi], key=itemgetter(1))
            return eps_at - at_us + round(seconds * US)
        return round(self.median.get(name, DEFAULT_LAGS_S[name]) * US)


def lanes_of(
    exact: dict[tuple[str, int, str], float],
) -> dict[tuple[str, str], tuple[list[int], list[tuple[int, int, float]]]]:
    """LagBook.lanes: a bisect per lookup instead of a scan of every measured lag."""
    grouped: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
    for pos, ((node, at_us, name), seconds) in enumerate(exact.items()):
        grouped.setdefault((node, name), []).append((at_us, pos, seconds))
    out = {}
    for key, entries in grouped.items():
        entries.sort()
        out[key] = ([e[0] for e in entries], entries)
    return out


#: Lags that hurt when long (the others hurt when short).
SLOW_HURTS = frozenset({"kube-proxy-programming", "ccm-deregister", "lb-health-down"})
WORST_MARGIN = WHATIF_WORST_MARGIN
#: Below this many measurements of a lag its tail is unknown (the min_measurements default) ...
MIN_SAMPLES = DEFAULTS.min_measurements
#: ... and the worst case assumes at least these (replay.assumptions names their source).
FEW_SAMPLES_WORST_S = WHATIF_FEW_SAMPLES_WORST_S


def worst_lags(samples: Sequence[LagSample]) -> dict[str, float]:
    """Per kind, the lag that hurts most: the longest measured (+50 %) where long hurts, the
    shortest (-1/3) where short does; with fewer than MIN_SAMPLES measurements the tail is
    unknown, so at least the FEW_SAMPLES_WORST_S bound (0 s where short hurts)."""
    worst: dict[str, float] = {}
    by_name = _seconds_by_lag(samples)
    for name, default in DEFAULT_LAGS_S.items():
        values = by_name.get(name) or [default]
        few = len(values) < MIN_SAMPLES
        if name in SLOW_HURTS:
            worst[name] = max(values[-1] * WORST_MARGIN, FEW_SAMPLES_WORST_S[name] if few else 0)
        else:
            worst[name] = 0.0 if few else values[0] / WORST_MARGIN
    return worst


def lag_book(samples: Sequence[LagSample], *, worst_case: bool = False) -> LagBook:
    """Per-change lags and medians; `worst_case`: every change gets its kind's worst lag
    (`worst_lags`) instead: then `get` reads nothing else, and nothing else is built."""
    if worst_case:
        return LagBook({}, {}, worst_lags(samples))
    exact = {(s.node, s.at_us, s.lag): s.seconds for s in samples}
    by_name = _seconds_by_lag(samples)
    median = {
        name: percentile(by_name.get(name) or [default], 50)
        for name, default in DEFAULT_LAGS_S.items()
    }
    return LagBook(exact, median, None, lanes_of(exact))


def _seconds_by_lag(samples: Sequence[LagSample]) -> dict[str, list[float]]:
    """Each lag's measured seconds, sorted (one pass over the samples)."""
    out: dict[str, list[float]] = {}
    for s in samples:
        out.setdefault(s.lag, []).append(s.seconds)
    for values in out.values():
        values.sort()
    return out


def _counts(pods: Sequence[PodLife], settings: WhatIf) -> list[tuple[int, int, int, int]]:
    """(time, ready, serving-terminating, alive) after every pod change, in time order; the
    first entry, at LO, is the state when the recording began."""
    deltas: list[tuple[int, int, int, int]] = []
    for pod in pods:
        before = (0, 0, 0)
        for at, phase in _phases_under(pod, settings):
            now = _CONTRIBUTES.get(phase, (0, 0, 0))
            deltas.append((at, now[0] - before[0], now[1] - before[1], now[2] - before[2]))
            before = now
    out: list[tuple[int, int, int, int]] = [(LO, 0, 0, 0)]
    ready = serving = alive = 0
    for at, dr, ds, da in sorted(deltas):
        ready, serving, alive = ready + dr, serving + ds, alive + da
        if at == LO:
            out[0] = (LO, ready, serving, alive)
        elif out[-1][0] == at:
            out[-1] = (at, ready, serving, alive)
        else:
            out.append((at, ready, serving, alive))
    return out


def _in_order(applied: list[tuple[int, bool, int]]) -> list[tuple[int, bool, int]]:
    """A controller acts on the newest state it knows: a change that would land after a later
    one (its own lag was longer) is superseded by it."""
    out: list[tuple[int, bool, int]] = []
    earliest_later = HI
    for at, value, eid in reversed(applied):
        if at < earliest_later:
            out.append((at, value, eid))
            earliest_later = at
    return out[::-1]


def _changes(points: list[tuple[int, bool]]) -> list[tuple[int, bool]]:
    """The changes after the initial value (points[0], at LO)."""
    out: list[tuple[int, bool]] = []
    current = points[0][1]
    for at, value in points[1:]:
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
    lb: Mapping[str, float] | None = None,
    lives: Lives | None = None,
) -> list[Window]:
    """The node's windows under `settings`; `lb`: the recorded LB settings (`recorded_lb`)."""
    hc = recorded_lb(detect_settings, lb)
    pods = lives_of(state, svc, node, lives)
    counts = _counts(pods, settings)
    pte = settings.proxy_terminating_endpoints
    if pte is None:
        pte = pte_enabled(state, svc.cluster, node, detect_settings)
    ready_changes = _changes([(at, r > 0) for at, r, _s, _a in counts])
    fwd_changes = _changes([(at, r > 0 or (pte and s > 0)) for at, r, s, _a in counts])
    proxy = [(at + book.get(node, at, "kube-proxy-programming"), up, 0) for at, up in fwd_changes]
    _at, ready0, serving0, alive0 = counts[0]
    fwd0 = ready0 > 0 or (pte and serving0 > 0)
    alive = exact_steps([(at, a > 0, 0) for at, _r, _s, a in counts[1:]], alive0 > 0)
    forwarding = tri_from_steps(exact_steps(_in_order(proxy), fwd0), fwd0)
    serves = t_and(forwarding, tri_from_steps(alive, alive0 > 0))
    routed_changes: list[tuple[int, bool, int]] = []
    if ccm_mode(state, svc, detect_settings) == "node":
        hc_changed = settings.hc_interval_s is not None or (
            settings.hc_healthy_threshold is not None or settings.hc_unhealthy_threshold is not None
        )
        interval = settings.hc_interval_s or hc["hc_interval_s"]
        for at, up in ready_changes:
            proxy_at = at + book.get(node, at, "kube-proxy-programming")
            name = "lb-health-up" if up else "lb-health-down"
            seen_at = at + book.get(node, at, name)
            if hc_changed:  # the measured reaction, moved by what the settings change in
                # thresholds x interval; never before kube-proxy's answer changed
                key = "hc_healthy_threshold" if up else "hc_unhealthy_threshold"
                was = hc[key] * hc["hc_interval_s"]
                shift = round(((getattr(settings, key) or hc[key]) * interval - was) * US)
                seen_at = max(proxy_at, seen_at + shift)
            routed_changes.append((seen_at, up, 0))
    else:
        delay = round((settings.ccm_register_delay_s or 0) * US)
        for at, up in ready_changes:
            name = "ccm-register" if up else "ccm-deregister"
            routed_changes.append((at + book.get(node, at, name) + (delay if up else 0), up, 0))
    routed_steps = exact_steps(_in_order(routed_changes), ready0 > 0)
    routed = while_local(tri_from_steps(routed_steps, ready0 > 0), state, svc, 0)
    eps = [
        Sample(at, None, "ready" if r else ("serving-terminating" if s else "none"), 0)
        for at, r, s, _a in counts[1:]
    ]
    lanes = Lanes(routed, serves, True, [], eps)
    end_of_data = horizon(state, svc)
    found = windows_from(
        state,
        svc,
        node,
        lanes,
        end_of_data,
        alive=alive,
        alive_initial=alive0 > 0,
        settings=detect_settings,
    )
    return [w for w in found if w.cls != "node-not-ready"]


def as_recorded(
    state: FoldState,
    svc: ServiceRef,
    settings: WhatIf,
    detect_settings: DetectSettings,
    lives: Lives | None = None,
) -> bool:
    """Whether `settings` change nothing the recording had: every one unset or equal to what
    the pods and nodes ran with (a zero registration delay adds nothing). Then the what-if is
    the recorded timeline, and its windows are the recorded ones, exactly."""
    if any(
        v is not None
        for v in (
            settings.hc_interval_s,
            settings.hc_healthy_threshold,
            settings.hc_unhealthy_threshold,
            settings.deregistration_delay_s,
        )
    ):
        return False
    if settings.ccm_register_delay_s:
        return False
    for node in nodes_of(state, svc):
        pte = settings.proxy_terminating_endpoints
        if pte is not None and pte != pte_enabled(state, svc.cluster, node, detect_settings):
            return False
        for pod in lives_of(state, svc, node, lives):
            if settings.prestop_s is not None and settings.prestop_s != pod.prestop_s:
                return False
            grace = settings.termination_grace_s
            if grace is not None and grace != pod.grace_s:
                return False
    return True


def whatif(
    state: FoldState,
    settings: WhatIf,
    services: Sequence[ServiceRef] | None = None,
    detect_settings: DetectSettings = DEFAULTS,
    *,
    worst_case: bool = False,
    lb: Mapping[str, float] | None = None,
    samples: Sequence[LagSample] | None = None,
    recorded: Sequence[Window] | None = None,
    books: dict[tuple[ServiceRef, bool], LagBook] | None = None,
    lives: Lives | None = None,
) -> list[Window]:
    """The windows the recorded timeline would have had under `settings` (with every change
    given the worst measured lags, when `worst_case`). `lb`: the LB settings measured from the
    log (replay.measure_store), under those the folded state states for each Service (the
    ones detection used: replay.recorded_lb.recorded_for); a setting equal to the recorded
    one changes nothing. `samples` and
    `recorded`, when given, are the Services' measured lags and recorded windows (as the
    projections hold them: a state folded from part of the history cannot measure them;
    replay.scope). `books` keeps each Service's LagBook between calls on the same state and
    lags (replay.advise's ladder), `lives` each node's pod lives (`lives_of`): both only for
    a state that is folded no further between the calls (replay.scope's, one advice's)."""
    parts = whatif_parts(
        state, settings, services, detect_settings, worst_case=worst_case, lb=lb,
        samples=samples, recorded=recorded, books=books, lives=lives,
    )  # fmt: skip
    out = [w for part in parts for w in part]
    out.sort(key=window_order)
    return out


def window_order(w: Window) -> tuple[int, ServiceRef, str]:
    """The order `whatif` returns its windows in."""
    return (w.start_us, w.service, w.node)


def whatif_parts(
    state: FoldState, settings: WhatIf, services: Sequence[ServiceRef] | None,
    detect_settings: DetectSettings, *, worst_case: bool, lb: Mapping[str, float] | None,
    samples: Sequence[LagSample] | None, recorded: Sequence[Window] | None,
    books: dict[tuple[ServiceRef, bool], LagBook] | None, lives: Lives | None,
) -> Iterator[list[Window]]:  # fmt: skip
    """`whatif`'s windows unsorted, a node (or a Service replayed as recorded) at a time, so
    that a caller that only counts can stop early (replay.advise)."""
    asked = settings
    for svc in services if services is not None else lb_facing(state):
        # the LB settings detection ran with for this Service (CloudTrail's statements too)
        recorded_hc = recorded_for(state, svc, detect_settings, lb)
        settings = unchanged_dropped(asked, recorded_hc)
        if recorded is None:
            mine = detect(state, [svc], detect_settings)
        else:
            mine = [w for w in recorded if w.service == svc]
        if not worst_case and as_recorded(state, svc, settings, detect_settings, lives):
            yield list(mine)  # the recorded timeline itself
            continue
        book = None if books is None else books.get((svc, worst_case))
        if book is None:
            lags = lag_samples(state, [svc], detect_settings) if samples is None else samples
            book = lag_book([s for s in lags if s.service == svc], worst_case=worst_case)
            if books is not None:
                books[(svc, worst_case)] = book
        for node in nodes_of(state, svc):
            found = node_windows(
                state, svc, node, settings, book, detect_settings, recorded_hc, lives
            )
            yield [replace(w, provenance="inferred") for w in found]
        yield [w for w in mine if w.cls == "node-not-ready"]
