"""Answers into payloads, shaped as docs/observation.md documents them. Pure."""

from __future__ import annotations

from typing import Any

from gapwatch.recorder.sources.kubeproxy.client import ConnectAnswer, HttpAnswer, RawAnswer
from gapwatch.recorder.sources.kubeproxy.configz import ConfigzError, parse_configz
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


def _where(target: Target, latency_ms: float) -> dict[str, Any]:
    """The fields every payload has: where it looked and how long it took."""
    return {"port": target.port, "address": target.address, "latency_ms": latency_ms}


def http_payload(target: Target, answer: HttpAnswer) -> dict[str, Any]:
    """ProxyHealth (health-check node port) or ProxyNodeHealth (/healthz, /livez on 10256)."""
    payload = _where(target, answer.latency_ms)
    payload.update(status=answer.status, body=answer.body, error=answer.error)
    if target.key.kind == "ProxyHealth":
        payload["weight"] = _weight(answer.weight)
    else:
        payload["path"] = target.path
    return _extras(payload, answer.detail, answer.body_text)


def connect_payload(target: Target, answer: ConnectAnswer) -> dict[str, Any]:
    """NodePortProbe."""
    payload = _where(target, answer.latency_ms)
    payload["result"] = answer.result
    return _extras(payload, answer.detail, None)


def metrics_payload(target: Target, answer: RawAnswer, limit: int) -> dict[str, Any]:
    """ProxyMetrics: the kept samples (metrics.WANTED) and the derived figures."""
    payload = _where(target, answer.latency_ms)
    payload.update(status=answer.status, error=answer.error, metrics={}, derived=None)
    payload["look"] = "sample"
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


def configz_payload(target: Target, answer: RawAnswer) -> dict[str, Any]:
    """ProxyConfig: the kept part of kube-proxy's /configz (configz.py), or why there is none
    (`error` and `detail`; a body that is no configuration, or too large, is `error`)."""
    payload = _where(target, answer.latency_ms)
    payload.update(status=answer.status, error=answer.error)
    if answer.error is None and answer.status == 200:
        try:
            payload.update(parse_configz(answer.content))
        except ConfigzError as exc:
            payload["error"], payload["detail"] = "error", f"not kube-proxy's /configz: {exc}"
            return payload
    return _extras(payload, answer.detail, None)
