"""kube-proxy's own /healthz and /livez answers (`ProxyNodeHealth`) as `sync` facts. Pure.

What the answer's `lastUpdated` means depends on the status (pkg/proxy/healthcheck
proxier_health.go; kubernetes/kubernetes#83498):

- `200`: kube-proxy writes `lastUpdated = currentTime`, "to preserve compatibility" with the
  releases before #81517 (the iptables proxier then synced every `syncPeriod`; since, it syncs on
  changes, with a full resync at most hourly). A 200 carries no sync time: it is not read.
- `503`: `lastUpdated` is the real time of the last successful rules sync (Updated()). Nothing
  kube-proxy received after it is programmed at the answer: a `sync` fact with state
  `unsynced`, a "not yet" look (replay.syncs), never a "done" one. Both times are kube-proxy's
  own clock; their difference, taken back from the observation's time, puts the last sync on
  the prober's clock without kube-proxy's skew (the latest the sync can be; the look counts
  from the earliest the answer can have been written: `latency_ms` before it was received).
- a value that is not Go's time text, Go's zero time (no sync since kube-proxy started: the
  rules of the kube-proxy before it may still forward, so no bound), or a `lastUpdated` after
  `currentTime`: a `sync` fact with state `ignored`, the reason in text2 and no time (fold skips
  it; SQL can list them).
"""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.gotime import read_go_time
from gapwatch.recorder.observation import Observation
from gapwatch.replay.payload import as_dict

#: The `sync` facts' states from a 503 (the metrics' own is `synced`).
UNSYNCED = "unsynced"
IGNORED = "ignored"


def latency_us(value: Any) -> int:
    """A look's `latency_ms` in microseconds (0 when absent or not a number; at most an hour)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value
    return round(min(max(float(value), 0.0), 3_600_000.0) * 1000) if ok else 0


def unsynced_look(body: Any, at_us: int, latency_ms: Any) -> tuple[int, int] | str:
    """(when the answer was written at the earliest, when the last sync ended at the latest),
    both on the observer's clock, from a 503's body received at `at_us`; or why not."""
    fields = as_dict(body)
    last = read_go_time(fields.get("lastUpdated"))
    if last.us is None:
        return f"lastUpdated: {last.reason}"
    if last.zero:
        return "lastUpdated is Go's zero time: no sync since kube-proxy started"
    now = read_go_time(fields.get("currentTime"))
    if now.us is None:
        return f"currentTime: {now.reason}"
    age = now.us - last.us
    if age < 0:
        return "lastUpdated is after currentTime"
    return at_us - latency_us(latency_ms), at_us - age


def node_health_facts(obs: Observation, base: dict[str, Any]) -> list[dict[str, Any]]:
    payload = obs.payload
    if payload.get("status") != 503 or not obs.node:
        return []
    path = payload.get("path")
    look = unsynced_look(payload.get("body"), base["at_us"], payload.get("latency_ms"))
    if isinstance(look, str):
        return [dict(base, state=IGNORED, text1=path, text2=look[:500])]
    answered, synced = look
    return [dict(base, at_us=answered, state=UNSYNCED, num1=synced, text1=path)]
