"""Why a possible window is only possible, and whether denser sampling would have decided it.

A window detection cannot prove (`Window.certain` False) lies where the samples leave R (the LB
routes to the node) or F (kube-proxy forwards there) open (docs/semantics.md, "R and F as
uncertain signals"). On randomized scenarios most such windows that hold no true gap are two
reactions to one change falling between the same two looks, or a change no look fell inside
(docs/semantics.md, "Uncertain false windows by cause"): the log cannot decide them. `openness`
says, from the log alone, which side the samples left open, the looks that bracket each side's
change, and where a shorter probe or poll interval would have put a look inside the window,
with the interval the log shows now.

Only denser looks are named: on the development seeds they halved the uncertain false windows
(docs/semantics.md, "Accuracy against sampling density"), while kube-proxy's sync metrics,
CloudTrail's calls and the LB's access log, as replay reads them, barely moved them (341 on
1-999: 346, 336, 341; docs/semantics.md, "Why a possible window is possible"). Where looks
already fall inside the window, nothing is named: only the two reactions' own times would
order them.

Pure: it reads the fold state and a window; `replay.api.openness` folds the facts around the
windows for it (replay.openness_scope), or one Service's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gapwatch.replay.assumptions import US, DetectSettings
from gapwatch.replay.fold import FoldState, Sample, sorted_lane
from gapwatch.replay.lanes import Lanes, lanes
from gapwatch.replay.measure import measured_settings
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.proxy import proxy_lag_hi
from gapwatch.replay.signals import Iv, complement, intersect

#: what each side means, as the report words it
SIDES = {
    "kube-proxy": "the LB surely routed to the node inside it; whether kube-proxy forwarded "
    "there is what the samples leave open",
    "lb": "kube-proxy surely did not forward inside it; whether the LB still (or already) "
    "routed to the node is what the samples leave open",
    "order": "neither is sure inside it: kube-proxy's and the LB's changes fall between the "
    "same looks and nothing recorded orders them",
    "apart": "each was sure at a different instant inside it, never both at once",
}
#: what would have decided a window, by kind (`Openness.decide`), as a summary names it
DECIDERS = {
    "probe": "kube-proxy looks inside it (a shorter probe interval)",
    "poll": "target-health polls inside it (a shorter poll interval)",
}
#: a window narrower than this cannot be given a look inside by any prober or poller setting
#: worth running (the probers' and pollers' lowest intervals: docs/kubeproxy.md, docs/lb.md)
SHORTEST_LOOK_S = 0.1


@dataclass(frozen=True, slots=True)
class Openness:
    """What left one possible window open (`side`: a key of `SIDES`), each lane's change that
    bounds it (`kube_proxy`, `lb`: a sentence each), the denser looks that would have put one
    inside it (`decide`: (kind, sentence), kind a key of `DECIDERS`; empty where looks already
    fall inside it or it is narrower than any look), and its width."""

    side: str
    kube_proxy: str
    lb: str
    decide: tuple[tuple[str, str], ...]
    width_s: float

    @property
    def why(self) -> str:
        return SIDES[self.side]

    @property
    def sentence(self) -> str:
        """The whole reading as one paragraph (the report and `gaps --why`)."""
        return f"{self.why}. kube-proxy: {self.kube_proxy}. LB: {self.lb}. {self.denser}"

    @property
    def denser(self) -> str:
        """What denser sampling would have done for this window, as a sentence."""
        if self.decide:
            return "Denser sampling: " + "; ".join(text for _kind, text in self.decide) + "."
        if self.width_s < SHORTEST_LOOK_S:
            return (
                f"It is {self.width_s * 1000:.0f} ms wide, narrower than any look: only the two "
                "reactions' own times would decide it."
            )
        return "Looks already fall inside it: only the two reactions' own times would decide it."


def openness(
    state: FoldState,
    windows: Sequence[Window],
    settings: DetectSettings,
    *,
    measured: Mapping[ServiceRef, DetectSettings] | None = None,
) -> dict[Window, Openness]:
    """Each possible window's `Openness` (certain windows are left out); `settings`: the
    assumptions the windows were detected with (measured ones put in per Service, as detection
    does, unless `measured` gives a Service's: replay.openness_scope, whose state holds too
    little of the history to measure them)."""
    out: dict[Window, Openness] = {}
    found: dict[tuple[ServiceRef, str], Lanes] = {}
    mine: dict[ServiceRef, DetectSettings] = dict(measured or {})
    for w in windows:
        if w.certain:
            continue
        svc = w.service
        if svc not in mine:
            mine[svc] = measured_settings(state, svc, settings)
        key = (svc, w.node)
        if key not in found:
            found[key] = lanes(state, svc, w.node, mine[svc], proxy_lag_hi(state, svc, mine[svc]))
        out[w] = read(state, w, found[key])
    return out


def read(state: FoldState, w: Window, lanes_: Lanes) -> Openness:
    """One possible window's `Openness`, from its node's R and F (`lanes_`)."""
    lo, hi = w.start_earliest_us, w.end_latest_us
    inside = [Iv(lo, hi)]
    routed_sure = bool(intersect(lanes_.routed.definite, inside))
    closed_sure = bool(intersect(complement(lanes_.serves.possible), inside))
    side = {
        (False, False): "order",
        (True, False): "kube-proxy",
        (False, True): "lb",
        (True, True): "apart",
    }[(routed_sure, closed_sure)]
    svc, node = w.service, w.node
    key = (svc, node)
    lane_key = (svc.cluster, svc.namespace, svc.name, node)
    nodeport = sorted_lane(state.probes["nodeport"].get(key, []))
    health = sorted_lane(state.probes["health"].get(key, []))
    polled = sorted_lane(state.probes["target"].get(key, []))
    if nodeport:
        f_lane, f_name, f_good, f_kind = nodeport, "NodePort probe", "connected", "nodeport"
    else:
        f_lane, f_name, f_good, f_kind = health, "health check", "200", "health"
    f_period = state.look_gap.get((f_kind, *lane_key), 0) / US
    r_period = state.look_gap.get(("target", *lane_key), 0) / US
    f_change = change_bracket(f_lane, f_good, True, lo, hi)
    r_change = change_bracket(polled, "healthy", False, lo, hi)
    width = (hi - lo) / US

    if not f_lane:
        f_text = "no kube-proxy probe of this node: F read from the EndpointSlices"
    elif f_change is not None:
        f_text = f"kube-proxy's change ({f_name}) lies between looks {_gap(f_change)} apart"
    else:
        f_text = (
            f"no {f_name} look saw a change: an endpoint change or a pod's death fell between "
            f"two looks{_apart(f_period)}"
        )
    if not polled:
        r_text = "no target health recorded for this node: R read from the endpoints"
    elif r_change is not None:
        r_text = f"the LB's change lies between polls {_gap(r_change)} apart"
    else:
        r_text = f"no poll saw the target change{_apart(r_period)}"

    decide: list[tuple[str, str]] = []
    lookable = width >= SHORTEST_LOOK_S
    if lookable and side != "lb" and (not f_lane or f_period > width):
        decide.append((
            "probe",
            f"kube-proxy looks every {width:.1f} s or less{_now(f_lane, f_period)} would put one "
            "inside it (the kube-proxy source's interval_s, or gapwatch probe --interval)",
        ))  # fmt: skip
    if lookable and side != "kube-proxy" and (not polled or r_period > width):
        decide.append((
            "poll",
            f"target-health polls every {width:.1f} s or less{_now(polled, r_period)} would put "
            "one inside it (the LB source's interval_s, within the API's rate limits)",
        ))  # fmt: skip
    return Openness(side, f_text, r_text, tuple(decide), width)


def change_bracket(
    lane: Sequence[Sample], good: str, initial: bool, lo: int, hi: int
) -> tuple[int, int] | None:
    """The looks bracketing the lane's first change (into or out of `good`; before the first
    sample the value is `initial`) whose bracket touches [lo, hi]: the look that still saw the
    old value and the one that saw the new, as replay.signals.steps_where reads a sample."""
    current, prev_at = initial, None
    for s in lane:
        if (s.value == good) != current:
            before = s.prev_us if s.prev_us is not None else prev_at
            start = before if before is not None and before <= s.at_us else s.at_us
            if start <= hi and s.at_us >= lo:
                return start, s.at_us
            current = not current
        prev_at = s.at_us
    return None


def _apart(period_s: float) -> str:
    """` (up to 5.0 s apart)`; nothing where the lane holds no interval (one look)."""
    return f" (up to {period_s:.1f} s apart)" if period_s > 0 else ""


def _now(lane: Sequence[Sample], period_s: float) -> str:
    return f" (now up to {period_s:.1f} s)" if lane and period_s > 0 else ""


def _gap(bracket: tuple[int, int]) -> str:
    return f"{(bracket[1] - bracket[0]) / US:.1f} s"
