"""Answers into payloads, shaped as docs/observation.md documents them. Pure."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.sources.kubeproxy.client import ConnectAnswer, HttpAnswer, RawAnswer
from gapwatch.recorder.sources.kubeproxy.metrics import MetricsError, parse_metrics, summarize
from gapwatch.recorder.sources.kubeproxy.targets import Target


def _weight(raw: str | None) -> int | str | None:
    if raw is None:
        return None
    text = raw.strip()
    return int(text) if text.isdigit() else text[:64]


def _extras(payload: dict[str, Any], detail: str | None, body_text: str | None) -> dict[str, Any]:
    if detail is not None:
        payload["detail"] = detail
    if body_text is not None:
        payload["body_text"] = body_text
    return payload


def http_payload(target: Target, answer: HttpAnswer) -> dict[str, Any]:
    """ProxyHealth (health-check node port) or ProxyNodeHealth (/healthz, /livez on 10256)."""
    payload: dict[str, Any] = {
        "status": answer.status,
        "body": answer.body,
        "error": answer.error,
        "port": target.port,
        "address": target.address,
        "latency_ms": answer.latency_ms,
    }
    if target.key.kind == "ProxyHealth":
        payload["weight"] = _weight(answer.weight)
    else:
        payload["path"] = target.path
    return _extras(payload, answer.detail, answer.body_text)


def connect_payload(target: Target, answer: ConnectAnswer) -> dict[str, Any]:
    """NodePortProbe."""
    payload: dict[str, Any] = {
        "port": target.port,
        "address": target.address,
        "result": answer.result,
        "latency_ms": answer.latency_ms,
    }
    return _extras(payload, answer.detail, None)


def metrics_payload(target: Target, answer: RawAnswer, limit: int) -> dict[str, Any]:
    """ProxyMetrics: the kept samples (metrics.WANTED) and the derived figures."""
    payload: dict[str, Any] = {
        "status": answer.status,
        "error": answer.error,
        "port": target.port,
        "address": target.address,
        "latency_ms": answer.latency_ms,
        "metrics": {},
        "derived": None,
        "look": "sample",
    }
    if answer.error is None and answer.status == 200:
        if len(answer.content) > limit:
            payload["error"], payload["detail"] = "error", "page too large"
            return payload
        try:
            metrics = parse_metrics(answer.content.decode("utf-8", "replace"))
        except MetricsError as exc:
            payload["error"], payload["detail"] = "error", f"not Prometheus text: {exc}"[:200]
            return payload
        payload["metrics"], payload["derived"] = metrics, summarize(metrics)
    return _extras(payload, answer.detail, None)
