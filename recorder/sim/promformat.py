"""The simulated kube-proxies' lag metrics as a Prometheus `query_range` answer.

What `GET /api/v1/query_range?query={__name__=~"kubeproxy_sync_proxy_rules_last_.*"}` returns
for the run: per node, `kubeproxy_sync_proxy_rules_last_timestamp_seconds` (when the last rules
sync ended) and `..._last_queued_timestamp_seconds` (when the last endpoints change asked for
one), as Prometheus scraped them every `SCRAPE_INTERVAL_S` (the interval of Prometheus' example
configuration, prometheus.yml: "Set the scrape interval to every 15 seconds"). A node's series
begins at its kube-proxy's first sync (a stopped kube-proxy's last values stay, as its last
scrape's would in a range query with a long lookback).
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from gapwatch.recorder.sim.core import us

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World

SCRAPE_INTERVAL_S = 15.0
LAST_SYNC = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
LAST_QUEUED = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
#: kube-proxy's metrics port (--metrics-bind-address default 127.0.0.1:10249; scraped on the
#: node's address where it is bound to 0.0.0.0)
METRICS_PORT = 10249


def _last(times: list[int], at_us: int) -> int | None:
    i = bisect.bisect_right(times, at_us)
    return times[i - 1] if i else None


def _value(w: World, t_us: int) -> str:
    return repr(w.clock.dt(t_us).timestamp())


def query_range(w: World) -> dict[str, Any]:
    """The answer (resultType matrix) for the whole run."""
    end = w.loop.now
    step = us(SCRAPE_INTERVAL_S)
    result: list[dict[str, Any]] = []
    for node in sorted(w.proxy.synced_us):
        synced = w.proxy.synced_us[node]
        queued = w.proxy.queued_us.get(node, [])
        rows: dict[str, list[list[Any]]] = {LAST_SYNC: [], LAST_QUEUED: []}
        for t in range(0, end + 1, step):
            s, q = _last(synced, t), _last(queued, t)
            if s is None:
                continue
            at = w.clock.dt(t).timestamp()
            rows[LAST_SYNC].append([at, _value(w, s)])
            if q is not None:
                rows[LAST_QUEUED].append([at, _value(w, q)])
        ip = w.nodes[node].ip
        for name, values in rows.items():
            if values:
                labels = {
                    "__name__": name,
                    "instance": f"{ip}:{METRICS_PORT}",
                    "job": "kube-proxy",
                    "node": node,
                }
                result.append({"metric": labels, "values": values})
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}
