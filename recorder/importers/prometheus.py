"""`prometheus`: a Prometheus HTTP API `query_range` (or instant `query`) answer for kube-proxy
metrics, as the `ProxyMetrics` observations the prober writes (`{"metrics": {name: value}}`).

Each series names its node by the `node`, `kubernetes_node`, `nodename` or `instance` label (the
last is a scrape address, kept as written: host only, port dropped). Samples of the same node and
timestamp become one observation, observed at that timestamp (Prometheus' own evaluation time,
millisecond resolution). A series' other labels stay in the metric's key, Prometheus-style
(`kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.001"}`); NaN and infinities are null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gapwatch.recorder.importers.base import Context, Format, Parsed, RecordError, Skip, need_dict
from gapwatch.recorder.importers.kobjects import short_text
from gapwatch.recorder.observation import Observation

SOURCE = "prometheus"
NODE_LABELS = ("node", "kubernetes_node", "nodename", "instance")
#: Labels that say where a sample was scraped, not what it measures.
SCRAPE_LABELS = frozenset(
    {*NODE_LABELS, "__name__", "job", "pod", "namespace", "service", "endpoint", "container"}
)


def _node(metric: Mapping[str, Any]) -> str:
    for label in NODE_LABELS:
        value = metric.get(label)
        if isinstance(value, str) and value:
            if label == "instance" and value.count(":") == 1:
                value = value.rsplit(":", 1)[0]
            node = short_text(value, label)
            assert node is not None
            return node
    raise RecordError("series without a node, kubernetes_node, nodename or instance label")


def _key(metric: Mapping[str, Any]) -> str:
    name = metric.get("__name__")
    if not isinstance(name, str) or not name:
        raise RecordError("series without __name__")
    rest = sorted((k, v) for k, v in metric.items() if k not in SCRAPE_LABELS)
    if not rest:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in rest) + "}"


def _sample(pair: Any) -> tuple[float, float | None]:
    if not (isinstance(pair, list) and len(pair) == 2):
        raise RecordError("sample: expected [timestamp, value]")
    ts, text = pair
    if not isinstance(ts, int | float) or not math.isfinite(ts) or not 0 <= ts < 1e11:
        raise RecordError(f"sample timestamp {ts!r}: not a Unix time")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise RecordError(f"sample value {text!r}: not a number") from None
    return float(ts), value if math.isfinite(value) else None


def parse(record: Any, ctx: Context) -> Parsed:
    """One API answer: every (node, timestamp) of its series as a ProxyMetrics observation."""
    answer = need_dict(record, "Prometheus API answer")
    status = answer.get("status")
    if status is None:
        raise RecordError(
            "status: missing: not a Prometheus HTTP API answer (expected "
            '{"status": "success", "data": {"resultType": "matrix", "result": [...]}}, '
            "what /api/v1/query_range answers)"
        )
    if status != "success":
        said = ": ".join(str(answer[k])[:200] for k in ("errorType", "error") if answer.get(k))
        raise RecordError(
            f"status {status!r}: not a successful query answer{f' ({said})' if said else ''}"
        )
    data = need_dict(answer.get("data"), "data")
    kind = data.get("resultType")
    if kind not in ("matrix", "vector"):
        raise RecordError(f"resultType {kind!r}: expected matrix (query_range) or vector")
    series = data.get("result")
    if not isinstance(series, list):
        raise RecordError("data.result: expected a list")
    grouped: dict[tuple[str, float], dict[str, float | None]] = {}
    for item in series:
        item = need_dict(item, "series")
        metric = need_dict(item.get("metric"), "metric")
        node, key = _node(metric), _key(metric)
        pairs = item.get("values") if kind == "matrix" else [item.get("value")]
        if not isinstance(pairs, list):
            raise RecordError("series without values")
        for pair in pairs:
            ts, value = _sample(pair)
            grouped.setdefault((node, ts), {})[key] = value
    if not grouped:
        return Skip("empty result")
    return [
        Observation(
            observed_at=datetime.fromtimestamp(ts, UTC),
            cluster=ctx.cluster,
            source=SOURCE,
            kind="ProxyMetrics",
            op="OBSERVED",
            payload={"metrics": metrics},
            node=node,
            source_time=datetime.fromtimestamp(ts, UTC),
        )
        for (node, ts), metrics in sorted(grouped.items())
    ]


FORMAT = Format(
    name="prometheus",
    source=SOURCE,
    parse=parse,
    help="Prometheus query_range answers of kube-proxy metrics.",
)
