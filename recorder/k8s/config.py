"""The recorder's configuration: defaults, then a YAML file, then environment variables.

The file's keys are the fields of `RecorderConfig`; `watch:` and `spool:` hold the fields of
WatchSettings and SpoolSettings. Environment variables (all optional) override the file:
GAPWATCH_CLUSTER, GAPWATCH_DB, GAPWATCH_RECORD_LISTEN, GAPWATCH_RECORD_NAMESPACES (comma
separated), GAPWATCH_RECORD_KINDS, GAPWATCH_RECORD_SCOPE, GAPWATCH_RECORD_PROJECTION,
GAPWATCH_RECORD_KUBECONFIG, GAPWATCH_RECORD_API_SERVER. docs/recorder.md has an example file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.k8s.noop import PROJECTIONS, Projection
from gapwatch.recorder.k8s.redaction import parse_path
from gapwatch.recorder.k8s.resources import RESOURCES
from gapwatch.recorder.k8s.spool import SpoolSettings
from gapwatch.recorder.k8s.watcher import WatchSettings
from gapwatch.recorder.store import DEFAULT_URL

SCOPES = ("local-services", "all")


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    cluster: str = "default"
    db: str = DEFAULT_URL
    listen: str = "0.0.0.0:8080"
    kinds: tuple[str, ...] = tuple(RESOURCES)
    namespaces: tuple[str, ...] = ()
    label_selectors: Mapping[str, str] = field(default_factory=dict)
    scope: str = "local-services"
    projection: Projection = "trim"
    #: JSON Pointers (with `*`) whose values are never stored (recorder/k8s/redaction.py).
    redact_paths: tuple[str, ...] = ()
    kubeconfig: str | None = None
    #: Talk to this URL without credentials instead (`kubectl proxy`, the tests' fake API).
    api_server: str | None = None
    context: str | None = None
    shutdown_timeout_s: float = 25.0
    watch: WatchSettings = field(default_factory=WatchSettings)
    spool: SpoolSettings = field(default_factory=SpoolSettings)


def _settings(cls: Any, where: str, values: Any) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(names))})"
        )
    values = dict(values)
    if "server_timeout_s" in values:
        values["server_timeout_s"] = tuple(values["server_timeout_s"])
    return cls(**values)


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value or ())


def load_config(path: str | Path | None, env: Mapping[str, str]) -> RecorderConfig:
    """The configuration from `path` (optional) and `env`; ConfigError names what is wrong."""
    raw: dict[str, Any] = {}
    where = str(path) if path else "configuration"
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top")
        raw = dict(loaded or {})
    overrides = {
        "cluster": env.get("GAPWATCH_CLUSTER"),
        "db": env.get("GAPWATCH_DB"),
        "listen": env.get("GAPWATCH_RECORD_LISTEN"),
        "namespaces": env.get("GAPWATCH_RECORD_NAMESPACES"),
        "kinds": env.get("GAPWATCH_RECORD_KINDS"),
        "scope": env.get("GAPWATCH_RECORD_SCOPE"),
        "projection": env.get("GAPWATCH_RECORD_PROJECTION"),
        "redact_paths": env.get("GAPWATCH_RECORD_REDACT_PATHS"),
        "kubeconfig": env.get("GAPWATCH_RECORD_KUBECONFIG"),
        "api_server": env.get("GAPWATCH_RECORD_API_SERVER"),
    }
    raw.update({k: v for k, v in overrides.items() if v})
    known = {f.name for f in dataclasses.fields(RecorderConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    if "watch" in raw:
        raw["watch"] = _settings(WatchSettings, f"{where}: watch", raw["watch"])
    if "spool" in raw:
        raw["spool"] = _settings(SpoolSettings, f"{where}: spool", raw["spool"])
    for key in ("kinds", "namespaces", "redact_paths"):
        if key in raw:
            raw[key] = _list(raw[key])
    for path in raw.get("redact_paths", ()):
        try:
            parse_path(str(path))
        except ValueError as exc:
            raise ConfigError(f"{where}: redact_paths: {exc}") from None
    bad = [k for k in raw.get("kinds", ()) if k not in RESOURCES]
    if bad:
        raise ConfigError(
            f"{where}: kinds: unknown kind {bad[0]!r} (known: {', '.join(RESOURCES)})"
        )
    if raw.get("scope", "local-services") not in SCOPES:
        raise ConfigError(f"{where}: scope: {raw['scope']!r} is not one of {', '.join(SCOPES)}")
    if raw.get("projection", "trim") not in PROJECTIONS:
        raise ConfigError(f"{where}: projection: {raw['projection']!r} is not full or trim")
    if raw.get("scope", "local-services") == "local-services" and "Service" not in raw.get(
        "kinds", RESOURCES
    ):
        raise ConfigError(f"{where}: kinds: scope local-services needs Service (or scope: all)")
    selectors = raw.get("label_selectors", {})
    if not isinstance(selectors, Mapping) or any(k not in RESOURCES for k in selectors):
        raise ConfigError(f"{where}: label_selectors: expected a mapping of kind -> selector")
    try:
        return RecorderConfig(**raw)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
