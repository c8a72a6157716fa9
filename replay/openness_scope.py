"""Why possible windows are possible (replay.openness) from the facts around them and the
projections, instead of folding the Service's whole history.

`openness.read` needs, for each window's node, R and F as replay.lanes builds them and the
node's probe and LB lanes around the window; `openness.openness` also reads the Service's
measured settings and kube-proxy's lag bound. What it reads:

- the facts of a range around the windows (`[first start_earliest - pad, last end_latest +
  pad)`): the Service's own (probe and LB samples, its Events and Service object), its
  EndpointSlice versions, the pods they name (whole lifecycles) and those pods' Nodes, as
  replay.scope reads them for what-if; and of every probe and LB lane of the Service the last
  sample before the range (a lane keeps only changes: its value there may be hours old);
- the whole Nodes (their versions and Ready lanes), the cluster's relisted stretches and
  target-group statements (few rows each), and kube-proxy's sync metrics where scraped (whole:
  a look's reach is not bounded here yet);
- the values derived from the whole history, which the projections store per Service when
  they compute it (`context_rows`, replay_state rows beside replay.scope's): the measured
  settings detection used (`measure.measured_settings`: the watch skew, the target groups'
  health-check settings), kube-proxy's and the CCM's lag bounds, the observers' clock offsets,
  ProxyTerminatingEndpoints as the probes showed it, when the Service's endpoints were first
  listed, and each probe and LB lane's largest look gap (`FoldState.look_gap`: the sampling
  period `openness.read` names, and `proxy.probe_period`), which also lists the lanes.

`pad` is every reach of the detection's assumptions added up (`reach_us`) plus the lag bounds:
nothing further from the windows moves what R and F are inside them, so the answer is the full
fold's (tests/replay/test_openness_scope.py compares every possible window of simulated
stores). Not scoped (None: the caller folds the Service): projections that predate these rows
(a rebuild stores them, a refresh for each Service it recomputes), a range over `WHOLE_SHARE`
of the Service's recorded span, and a cluster with CloudTrail membership calls
(replay.membership ties an IP target to a pod through every pod the Service's slices ever
named). Two limits: replay.scope's (of a Service with several EndpointSlices, one that did not
change near the range is not seen); and a pod the slices stopped naming before the range is
not among the node's local pods, which only matters where its own lane never ended (a deletion
the recorder did not see) and F is read from the pods (no probes, or IP targets).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from sqlalchemy import Connection, text

from gapwatch.replay import factrow as F
from gapwatch.replay import scope
from gapwatch.replay.assumptions import US, DetectSettings, seconds_us
from gapwatch.replay.clocks import OBSERVERS, clock_offset
from gapwatch.replay.fold import PROBE_FACTS, FoldState, fold
from gapwatch.replay.lags import ccm_lag_hi
from gapwatch.replay.measure import COUNTS, measured_settings
from gapwatch.replay.model import ServiceRef, Window
from gapwatch.replay.openness import Openness, openness
from gapwatch.replay.proxy import proxy_lag_hi, pte_known
from gapwatch.replay.unseen import listed_at

#: the settings `measure.measured_settings` can replace (the watch skew, the LB's checks)
MEASURED = ("watch_skew_s", "hc_interval_s", "hc_healthy_threshold", "hc_unhealthy_threshold")
_OPEN = "open:"
_PTE = {None: -1, False: 0, True: 1}
_FACT = "cluster = :c AND namespace = :ns AND name = :n"


def _bits(value: float) -> int:
    """A float as the int64 of its bits (restored exactly by `_float`)."""
    return int(struct.unpack(">q", struct.pack(">d", value))[0])


def _float(bits: int) -> float:
    return float(struct.unpack(">d", struct.pack(">q", bits))[0])


def context_rows(state: FoldState, svc: ServiceRef, settings: DetectSettings) -> dict[str, int]:
    """The whole-history values a scoped openness reads, as replay_state rows (`state`: a fold
    of at least the Service's facts; `settings`: the projections')."""
    mine = measured_settings(state, svc, settings)
    key = _key(svc)
    out = {
        key("proxy_hi"): proxy_lag_hi(state, svc, mine),
        key("ccm_hi"): ccm_lag_hi(state, svc, mine),
        key("pte"): _PTE[pte_known(state, svc.cluster, mine)],
        key("listed"): listed_at(state, svc),
        key("members"): int(any(m.cluster == svc.cluster for m in state.members)),
    }
    for name in MEASURED:
        value = getattr(mine, name)
        out[key(f"set:{name}")] = int(value) if name in COUNTS else _bits(float(value))
    for observer in OBSERVERS:
        out[key(f"clock:{observer}")] = clock_offset(state, svc.cluster, observer, mine)
    for kind, node in probe_lanes(state).get(svc, ()):
        gap = state.look_gap.get((kind, svc.cluster, svc.namespace, svc.name, node), 0)
        out[key(f"gap:{node}:{kind}")] = gap  # kind last: no key ends in a node name
    return out


def probe_lanes(state: FoldState) -> dict[ServiceRef, list[tuple[str, str]]]:
    """Per Service, the (kind, node) of each of its probe and LB lanes, kind by kind
    (`PROBE_FACTS`) and in the order `state.probes` holds them: one pass over every lane,
    kept in the memo (`Memo.probe_lanes`) with the lanes' counts it was found at, where each
    Service's `context_rows` scanned every lane of every Service (3,000 lanes for each of a
    refresh's 50 Services: 0.19 s of its 1.2 s under cProfile). The fold only adds lanes (a
    self-check verdict that drops NodePort lanes clears the memo with the fold), so the same
    counts are the same lanes."""
    counts = tuple(len(state.probes[kind]) for kind in PROBE_FACTS)
    memo = state.memo.probe_lanes
    if memo and memo[0][0] == counts:
        return memo[0][1]
    index: dict[ServiceRef, list[tuple[str, str]]] = {}
    for kind in PROBE_FACTS:
        for lane_svc, node in state.probes[kind]:
            index.setdefault(lane_svc, []).append((kind, node))
    memo[:] = [(counts, index)]
    return index


def _key(svc: ServiceRef) -> Any:
    return lambda what: scope.context_key(svc, _OPEN + what)


def reach_us(settings: DetectSettings, proxy_hi: int, ccm_hi: int) -> int:
    """How far from a window a fact can move R or F inside it: every duration the detection
    assumes (`*_s`), the LB's health-check thresholds' checks, and the lag bounds, added up."""
    spans = sum(float(getattr(settings, f.name)) for f in fields(settings) if f.name.endswith("_s"))
    checks = settings.hc_healthy_threshold + settings.hc_unhealthy_threshold
    return seconds_us(spans + checks * settings.hc_interval_s) + proxy_hi + ccm_hi


#: past this share of the Service's recorded span, the range is read by folding the Service
#: (replay.load's bulk read is quicker than the range's queries for most of the history)
WHOLE_SHARE = 0.5


def scoped_openness(
    conn: Connection,
    svc: ServiceRef,
    windows: Sequence[Window],
    settings: DetectSettings,
    *,
    whole_share: float | None = WHOLE_SHARE,
) -> dict[Window, Openness] | None:
    """`openness.openness` of the Service's possible windows among `windows`, from the facts
    around them (the projections must be up to date); None where it is not scoped (see the
    module docstring; `whole_share`: a range wider than that share of the Service's recorded
    span too, None: any range): the caller folds the Service."""
    mine = [w for w in windows if not w.certain and w.service == svc]
    if not mine:
        return {}
    lo, hi = min(w.start_earliest_us for w in mine), max(w.end_latest_us for w in mine)
    loaded = load(conn, svc, lo, hi, settings, whole_share=whole_share)
    if loaded is None:
        return None
    state, measured = loaded
    return openness(state, mine, settings, measured={svc: measured})


def load(
    conn: Connection,
    svc: ServiceRef,
    lo: int,
    hi: int,
    settings: DetectSettings,
    *,
    whole_share: float | None = None,
) -> tuple[FoldState, DetectSettings] | None:
    """The Service's state around [lo, hi] with the stored whole-history values put back, and
    its measured settings; None where the projections hold no such values, the cluster has
    CloudTrail membership calls, or the padded range covers more than `whole_share` of the
    Service's recorded span (its first listing to its horizon)."""
    prefix = scope.context_key(svc, _OPEN)
    stored = scope.stored_context(conn, svc)
    mine = {k[len(prefix) :]: v for k, v in stored.items() if k.startswith(prefix)}
    horizon = stored.get(scope.context_key(svc, "horizon"))
    if "listed" not in mine or mine["members"] or horizon is None:
        return None
    changes: dict[str, Any] = {}
    for name in MEASURED:
        bits = mine[f"set:{name}"]
        changes[name] = bits if name in COUNTS else _float(bits)
    measured = replace(settings, **changes)
    proxy_hi, ccm_hi = mine["proxy_hi"], mine["ccm_hi"]
    pad = reach_us(measured, proxy_hi, ccm_hi)
    recorded = horizon - min(mine["listed"], lo)
    if whole_share is not None and hi - lo + 2 * pad > whole_share * recorded:
        return None
    gaps = {  # (kind, node): a Node's name holds no colon (a DNS subdomain)
        tuple(reversed(k[len("gap:") :].rsplit(":", 1))): v
        for k, v in mine.items()
        if k.startswith("gap:")
    }
    rows = _rows(conn, svc, lo - pad, hi + pad, sorted(gaps))
    state = fold(FoldState(), rows)
    scope.restore_context(conn, state, svc, settings, stored)
    for (kind, node), gap in gaps.items():
        if gap:
            state.look_gap[(kind, svc.cluster, svc.namespace, svc.name, node)] = gap
    memo = state.memo
    memo.proxy_lag_hi[(svc, measured)] = proxy_hi
    memo.ccm_lag_hi[(svc, measured)] = ccm_hi
    memo.pte[(svc.cluster, measured)] = {v: k for k, v in _PTE.items()}[mine["pte"]]
    for observer in OBSERVERS:
        memo.clock[(svc.cluster, observer, measured)] = mine[f"clock:{observer}"]
    memo.listed_at.append({svc: mine["listed"]})
    probed = [gap for (kind, _node), gap in gaps.items() if kind in ("nodeport", "health")]
    memo.probe_period[svc] = max(probed, default=0) / US
    return state, measured


def _rows(
    conn: Connection, svc: ServiceRef, lo: int, hi: int, lanes: Sequence[tuple[str, ...]]
) -> list[Any]:
    """The facts the scoped state is folded from (see the module docstring), in fold order."""
    params = {"c": svc.cluster, "ns": svc.namespace, "n": svc.name, "lo": lo, "hi": hi}
    rows = scope.range_rows(conn, svc, lo, hi)
    inside = f"{_FACT} AND fact <> 'slice' AND at_us >= :lo AND at_us < :hi"
    rows += scope.fact_rows(conn, inside, params)
    rows += scope.fact_rows(conn, f"{_FACT} AND fact = 'service' AND at_us < :lo", params)
    every = "cluster = :c AND namespace IS NULL AND fact IN ('node', 'tgconf', 'sync')"
    rows += scope.fact_rows(conn, every, params)
    for start in range(0, len(lanes), LANES_A_QUERY):
        rows += _last_before(conn, params, lanes[start : start + LANES_A_QUERY])
    unique = {(r[F.EVENT_ID], r[F.SEQ]): r for r in rows}  # a row read twice is one
    return [unique[k] for k in sorted(unique)]


#: Lanes whose last sample before the range one query reads (a UNION ALL of as many index walks
#: back from `lo`): the `large` preset's Service has some 650 probe and LB lanes, and one query a
#: lane made the over-hours test's 11 scoped reads 7,269 queries (14 of its 103 s profiled on
#: SQLite, session 39). SQLite takes at most 500 terms in one compound SELECT.
LANES_A_QUERY = 200


def _last_before(
    conn: Connection, params: dict[str, Any], lanes: Sequence[tuple[str, ...]]
) -> list[Any]:
    """Each lane's last fact before `lo` (a lane keeps only changes), one query for `lanes`."""
    if not lanes:
        return []
    terms: list[str] = []
    lane_params: dict[str, Any] = {}
    for i, (kind, node) in enumerate(lanes):
        terms.append(
            f"SELECT * FROM (SELECT {scope.FACT_COLS} FROM facts WHERE {_FACT} AND fact = :f{i} "
            f"AND node = :node{i} AND at_us < :lo ORDER BY at_us DESC LIMIT 1) AS lane{i}"
        )
        lane_params[f"f{i}"], lane_params[f"node{i}"] = kind, node
    query = text(" UNION ALL ".join(terms))
    return [tuple(r) for r in conn.execute(query, {**params, **lane_params})]
