"""Whether a lab store's samples order the two causes an undecided window names (issue 17).

A window replay reads as `pod-gone-before-deregistered` (or `closed-before-deregistered`:
undecided), or the reverse, says the log cannot tell whether kube-proxy closed the node or the
local pod died first. The lab judges that from the stored rows, not from replay's word:

- kube-proxy's close lies in the recorded window's start range ([start_earliest,
  start_latest]: between the last look that saw the node serving and the first that saw it
  closed, with the LB routing throughout), and no later than the first stored health-check
  answer 503 inside the window (an uncertain window's start range runs to its end);
- a local pod's death lies after the last stored Pod row that saw it up (ready or
  terminating, or `unready` after that: not Ready while its kubelet reports it running, a
  readiness loss, unless its finishedAt is newer than any the pod reported before: a crash
  between two updates; as of its version's write time, `src_us`, whole seconds) and by the
  first that says it stopped (gone, or pending again: a crash),
  narrowed by the kubelet's `finishedAt` (the pod fact's num4, whole seconds on the node's
  clock) to [finishedAt - c, finishedAt + 1 s + c) where the two overlap, `c` being the
  store's `node_clock_s` assumption (`gapwatch assumptions`): the formula of replay.deaths.

The order is open when a death range of one of the node's local pods (the pods its
EndpointSlice rows name) meets the close's range; closed when every death lies wholly before
or after it. Only the {closing, pod gone} pair is judged here: any other undecided pair is left
to the verdict's strict class count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine

from gapwatch.recorder.lab.compare import Pair

CBD = "closed-before-deregistered"
PGBD = "pod-gone-before-deregistered"
#: the pair of causes this module can order
ORDERED_PAIR = frozenset((CBD, PGBD))
_UP = ("ready", "terminating")
_DOWN = ("gone", "pending")
UNREADY = "unready"


class PodRow(NamedTuple):
    """One stored `pod` fact, times in simulated seconds since the scenario's start."""

    pod: str
    at_s: float
    state: str
    #: the kubelet's newest finishedAt (None: none reported)
    finished_s: float | None


def death_ranges(rows: Sequence[PodRow], clock_s: float) -> list[tuple[float, float]]:
    """When each pod that was seen up was seen stopped: (earliest, latest) of its death (module
    doc); `rows` in any order."""
    out: list[tuple[float, float]] = []
    by_pod: dict[str, list[PodRow]] = {}
    for row in rows:
        by_pod.setdefault(row.pod, []).append(row)
    for lane in by_pod.values():
        up: float | None = None
        newest: float | None = None  # the newest finishedAt the pod reported so far
        for row in sorted(lane, key=lambda r: r.at_s):
            state = row.state
            if state == UNREADY and (up is None or _newer(row.finished_s, newest)):
                state = "pending"  # a pod starting, or a container stopped since the last row
            if up is not None and state in _DOWN:
                lo, hi = up, row.at_s
                if row.finished_s is not None:
                    f_lo = max(up, row.finished_s - clock_s)
                    f_hi = min(row.at_s, row.finished_s + 1.0 + clock_s)
                    if f_lo < f_hi:
                        lo, hi = f_lo, f_hi
                out.append((lo, hi))
            up = row.at_s if state in _UP or state == UNREADY else None
            if _newer(row.finished_s, newest):
                newest = row.finished_s
    return sorted(out)


def _newer(finished_s: float | None, newest: float | None) -> bool:
    return finished_s is not None and (newest is None or finished_s > newest)


def order_open(close: tuple[float, float], deaths: Sequence[tuple[float, float]]) -> bool:
    """Whether some death range meets kube-proxy's close range `close` in more than a point:
    a death that surely came before the close's earliest instant, or after its latest, is
    ordered."""
    lo, hi = close
    return any(d_lo < hi and lo < d_hi for d_lo, d_hi in deaths)


def _rows(engine: Engine, sql: str, params: Mapping[str, object]) -> list[Any]:
    """One query's rows from the lab's store (the verdict's one engine: run.judge_orders)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def stored_pod_rows(
    engine: Engine, cluster: str, service: str, node: str, origin: datetime
) -> list[PodRow]:
    """The `pod` facts of `node`'s pods backing `service` (`namespace/name`): those the
    Service's EndpointSlice rows for that node name."""
    namespace, name = service.split("/", 1)
    key = {"c": cluster, "ns": namespace, "svc": name, "node": node}
    named = _rows(
        engine,
        "SELECT text2 FROM facts WHERE cluster = :c AND fact = 'slice'"
        " AND namespace = :ns AND name = :svc AND node = :node",
        key,
    )
    pods = {p for (listed,) in named if listed for p in listed.split(",")}
    rows = _rows(
        engine,
        "SELECT name, at_us, src_us, state, num4 FROM facts WHERE cluster = :c"
        " AND fact = 'pod' AND namespace = :ns AND node = :node",
        key,
    )
    base = origin.timestamp() * 1e6
    # a version seen at `at` was written by the end of its write-time second `src` (whole
    # seconds): the pod was seen up as of then, not as of the watch's delivery
    return [
        PodRow(
            pod,
            (min(at, at if src is None else src + 1_000_000) - base) / 1e6,
            state,
            None if fin is None else (fin - base) / 1e6,
        )
        for pod, at, src, state, fin in rows
        if pod in pods
    ]


def first_closed_look(
    engine: Engine,
    cluster: str,
    service: str,
    node: str,
    origin: datetime,
    span: tuple[float, float],
) -> float | None:
    """When the first stored health-check answer of `node` inside `span` said 503 (kube-proxy's
    own report of no local endpoint: it had closed by then), simulated seconds; None: none."""
    namespace, name = service.split("/", 1)
    base = origin.timestamp() * 1e6
    ((first,),) = _rows(
        engine,
        "SELECT min(at_us) FROM facts WHERE cluster = :c AND fact = 'health'"
        " AND namespace = :ns AND name = :svc AND node = :node AND state = '503'"
        " AND at_us >= :lo AND at_us <= :hi",
        {
            "c": cluster,
            "ns": namespace,
            "svc": name,
            "node": node,
            "lo": round(base + span[0] * 1e6),
            "hi": round(base + span[1] * 1e6),
        },
    )
    return None if first is None else (first - base) / 1e6


def node_clock_s(db: str) -> float:
    """The store's `node_clock_s` assumption, as `gapwatch assumptions --json` reports it: a
    subprocess, because the assumptions (their defaults and the store's overrides) are replay's,
    and no recorder module may import replay (tests/store/test_schema_layers.py); a copy of the
    default here would be a second source of it. Asked once per verdict, only when a window
    names its true class as undecided."""
    import json

    from gapwatch.recorder.lab.procs import gapwatch

    listed = json.loads(gapwatch("assumptions", "--json", db=db))["assumptions"]
    (value,) = [a["value"] for a in listed if a["name"] == "node_clock_s"]
    return float(value)


def judge_order(pair: Pair, engine: Engine, cluster: str, origin: datetime, clock_s: float) -> Pair:
    """`pair` with `order_open` set where its recorded window names the true class only in
    `also` and the two are kube-proxy's close and the pod's death (module doc); else as is."""
    if (
        pair.cls is None
        or pair.cls == pair.true_class
        or pair.true_class not in pair.also
        or {pair.cls, pair.true_class} != ORDERED_PAIR
        or pair.bounds is None
    ):
        return pair
    rows = stored_pod_rows(engine, cluster, pair.service, pair.node, origin)
    deaths = death_ranges(rows, clock_s)
    s_lo, s_hi, _e_lo, e_hi = pair.bounds
    closed = first_closed_look(engine, cluster, pair.service, pair.node, origin, (s_lo, e_hi))
    close = (s_lo, s_hi if closed is None else min(s_hi, closed))
    return replace(pair, order_open=order_open(close, deaths))
