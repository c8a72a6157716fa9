"""The Kubernetes source's settings: its section of the recorder's configuration.

Under `sources: {k8s: {...}}`, or (as before sources existed) at the top of the recorder's file;
recorder.config routes the keys and the GAPWATCH_RECORD_* environment variables here. `watch:`
holds the fields of WatchSettings. docs/recorder.md has an example file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gapwatch.recorder.config import at, settings_from
from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sources.k8s.noop import PROJECTIONS, Projection
from gapwatch.recorder.sources.k8s.redaction import parse_path
from gapwatch.recorder.sources.k8s.resources import RESOURCES
from gapwatch.recorder.sources.k8s.watcher import WatchSettings

SCOPES = ("local-services", "all")


@dataclass(frozen=True, slots=True)
class K8sSettings:
    kinds: tuple[str, ...] = tuple(RESOURCES)
    namespaces: tuple[str, ...] = ()
    label_selectors: Mapping[str, str] = field(default_factory=dict)
    scope: str = "local-services"
    projection: Projection = "trim"
    #: JSON Pointers (with `*`) whose values are never stored (sources/k8s/redaction.py).
    redact_paths: tuple[str, ...] = ()
    kubeconfig: str | None = None
    #: Talk to this URL without credentials instead (`kubectl proxy`, the tests' fake API).
    api_server: str | None = None
    context: str | None = None
    watch: WatchSettings = field(default_factory=WatchSettings)


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value or ())


def parse_settings(values: Mapping[str, Any], where: str = "") -> K8sSettings:
    """The k8s section as settings; ConfigError names `where` and the key that is wrong."""
    raw = dict(values)
    for key in ("kinds", "namespaces", "redact_paths"):
        if key in raw:
            raw[key] = _list(raw[key])
    settings = settings_from(K8sSettings, where, raw)
    for path in settings.redact_paths:
        try:
            parse_path(path)
        except ValueError as exc:
            raise ConfigError(at(where, f"redact_paths: {exc}")) from exc
    bad = [k for k in settings.kinds if k not in RESOURCES]
    if bad:
        raise ConfigError(
            at(where, f"kinds: unknown kind {bad[0]!r} (known: {', '.join(RESOURCES)})")
        )
    if settings.scope not in SCOPES:
        raise ConfigError(at(where, f"scope: {settings.scope!r} is not one of {', '.join(SCOPES)}"))
    if settings.projection not in PROJECTIONS:
        raise ConfigError(at(where, f"projection: {settings.projection!r} is not full or trim"))
    if settings.scope == "local-services" and "Service" not in settings.kinds:
        raise ConfigError(at(where, "kinds: scope local-services needs Service (or scope: all)"))
    selectors = settings.label_selectors
    if not isinstance(selectors, Mapping) or any(k not in RESOURCES for k in selectors):
        raise ConfigError(at(where, "label_selectors: expected a mapping of kind -> selector"))
    return settings
