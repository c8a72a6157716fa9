"""`gapwatch record`'s configuration: defaults, then a YAML file, then environment variables.

The recorder's own keys are the fields of `RecorderConfig` (`spool:` holds SpoolSettings'); the
`sources:` mapping holds one section per source to run, keyed by its `sources.REGISTRY` name, each
validated by that source when it is built:

    cluster: prod
    spool: {max_bytes: 16777216}
    sources:
      k8s: {scope: local-services, watch: {page_size: 500}}

Backward compatible: every other top-level key (`kinds`, `scope`, `watch`, ... as before sources
existed) belongs to the `k8s` source, and a file without `sources:` runs the `k8s` source alone.
Environment variables (all optional) override the file: GAPWATCH_CLUSTER, GAPWATCH_DB,
GAPWATCH_RECORD_LISTEN, GAPWATCH_RETENTION, and for the k8s source GAPWATCH_RECORD_NAMESPACES
(comma separated), GAPWATCH_RECORD_KINDS, GAPWATCH_RECORD_SCOPE, GAPWATCH_RECORD_PROJECTION,
GAPWATCH_RECORD_KUBECONFIG, GAPWATCH_RECORD_API_SERVER. docs/recorder.md has an example file.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from gapwatch.recorder.defaults import DEFAULT_AHEAD_DAYS
from gapwatch.recorder.errors import ConfigError, yaml_error
from gapwatch.recorder.spool import SpoolSettings
from gapwatch.recorder.store import DEFAULT_URL

#: The source that top-level keys other than the recorder's belong to (the original recorder).
LEGACY_SOURCE = "k8s"
#: Environment variables that override keys of the LEGACY_SOURCE's section.
LEGACY_ENV = {
    "GAPWATCH_RECORD_NAMESPACES": "namespaces",
    "GAPWATCH_RECORD_KINDS": "kinds",
    "GAPWATCH_RECORD_SCOPE": "scope",
    "GAPWATCH_RECORD_PROJECTION": "projection",
    "GAPWATCH_RECORD_REDACT_PATHS": "redact_paths",
    "GAPWATCH_RECORD_KUBECONFIG": "kubeconfig",
    "GAPWATCH_RECORD_API_SERVER": "api_server",
}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    #: Which cluster the events belong to; required by `gapwatch record` (`require_cluster`):
    #: recording two clusters under one default name would mix their logs beyond repair.
    cluster: str = ""
    db: str = DEFAULT_URL
    listen: str = "0.0.0.0:8080"
    shutdown_timeout_s: float = 25.0
    spool: SpoolSettings = field(default_factory=SpoolSettings)
    #: History to keep, like `90d` (recorder/partitions.py parse_retention); "" keeps all. With
    #: it the recorder maintains its store hourly (recorder/maintain.py): day partitions ahead,
    #: and whole days older than this dropped with their facts.
    retention: str = ""
    #: PostgreSQL: day partitions the recorder keeps created ahead of today.
    partitions_ahead_days: int = DEFAULT_AHEAD_DAYS
    #: Whether this recorder runs the hourly maintenance. false where another does it for the
    #: store (deploy/: the node agents; the central recorder and CronJob gapwatch-maintain do).
    maintain: bool = True
    #: source key -> its settings, in the order given.
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: {LEGACY_SOURCE: {}})
    #: Where the configuration came from (a file name), for error messages.
    origin: str = "configuration"


def require_cluster(config: RecorderConfig) -> RecorderConfig:
    """`config` if it names its cluster, else a ConfigError that says the three ways to name it."""
    if not config.cluster.strip():
        raise ConfigError(
            f"{config.origin}: no cluster name: set the `cluster:` key, --cluster NAME or "
            "GAPWATCH_CLUSTER (deploy/: the `gapwatch-cluster` ConfigMap, deploy/README.md)"
        )
    return config


def at(where: str, what: str) -> str:
    """`where: what`, or `what` alone at the top of a section."""
    return f"{where}: {what}" if where else what


def settings_from(cls: type[T], where: str, values: Any) -> T:
    """A settings dataclass from a mapping: unknown keys, nested dataclasses and YAML lists for
    tuple fields handled; an instance of `cls` is returned as it is. Errors start with `where`."""
    if isinstance(values, cls):
        return values
    if not isinstance(values, Mapping):
        raise ConfigError(at(where, "expected a mapping"))
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(
            at(where, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(fields))})")
        )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            value = settings_from(hint, at(where, name), value)
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(at(where, str(exc))) from exc


def _read(path: str | Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from exc
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top")
    return dict(loaded or {})


def _sources(raw: dict[str, Any], legacy: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    given = raw.pop("sources", None)
    if given is None:
        given = {LEGACY_SOURCE: {}}
    if not isinstance(given, Mapping):
        raise ConfigError(f"{where}: sources: expected a mapping of source -> settings")
    sources: dict[str, dict[str, Any]] = {}
    for key, settings in given.items():
        if settings is not None and not isinstance(settings, Mapping):
            raise ConfigError(f"{where}: sources: {key}: expected a mapping")
        sources[str(key)] = dict(settings or {})
    if legacy:
        section = sources.setdefault(LEGACY_SOURCE, {})
        both = sorted(set(section) & set(legacy))
        if both:
            raise ConfigError(f"{where}: {both[0]!r} is given at the top and under sources.k8s")
        sources[LEGACY_SOURCE] = {**legacy, **section}
    return sources


def _check_top_level(legacy: Mapping[str, Any], own: set[str], where: str) -> None:
    """A top-level key neither the recorder's nor the k8s source's is a typo of either: named
    with both lists (a mistyped `retension:` was reported as `sources.k8s: unknown key`, with a
    list of the k8s source's keys that had no `retention` in it)."""
    from difflib import get_close_matches

    from gapwatch.recorder.sources.k8s.config import K8sSettings

    k8s = {f.name for f in dataclasses.fields(K8sSettings)}
    unknown = sorted(str(k) for k in set(legacy) - k8s)
    if not unknown:
        return
    close = get_close_matches(unknown[0], sorted(own | k8s), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(
        f"{where}: unknown key {unknown[0]!r} at the top: {hint}the recorder's keys are "
        f"{', '.join(sorted(own))}; the k8s source's (at the top, or under sources.k8s) are "
        f"{', '.join(sorted(k8s))}"
    )


def _check_retention(raw: dict[str, Any], where: str, env: Mapping[str, str]) -> None:
    from gapwatch.recorder.partitions import parse_retention

    value = raw.get("retention")
    if value not in (None, ""):
        try:
            parse_retention(str(value))
        except ValueError as exc:
            given = "GAPWATCH_RETENTION"
            origin = given if env.get(given) else f"{where}: retention"
            raise ConfigError(f"{origin}: {exc}") from None
    if raw.get("maintain", True) is not True:
        if raw.get("maintain") is not False:
            raise ConfigError(f"{where}: maintain: expected true or false")
        if value not in (None, ""):
            raise ConfigError(
                f"{where}: retention is set and maintain is false: this recorder would drop "
                "nothing (leave retention to the recorder or the CronJob that maintains)"
            )
    ahead = raw.get("partitions_ahead_days", 0)
    if not isinstance(ahead, int) or ahead < 0:
        raise ConfigError(f"{where}: partitions_ahead_days: expected a whole number, 0 or more")


def _check_texts(raw: dict[str, Any], where: str) -> None:
    """`cluster`, `db` and `listen` are text: a `db:` given as a list or a mapping ended in a
    101-line traceback (`'list' object has no attribute 'strip'`). The value is never shown: a
    `db` holds a password."""
    for key in ("cluster", "db", "listen"):
        if key in raw and not isinstance(raw[key], str):
            raise ConfigError(
                f"{where}: {key}: expected text, got a {type(raw[key]).__name__} (YAML read it "
                "as one: quote the value)"
            )


def load_config(path: str | Path | None, env: Mapping[str, str]) -> RecorderConfig:
    """The configuration from `path` (optional) and `env`; ConfigError names what is wrong."""
    from gapwatch.recorder.sources import REGISTRY

    where = str(path) if path else "configuration"
    raw = _read(path) if path is not None else {}
    overrides = {
        "cluster": env.get("GAPWATCH_CLUSTER"),
        "db": env.get("GAPWATCH_DB"),
        "listen": env.get("GAPWATCH_RECORD_LISTEN"),
        "retention": env.get("GAPWATCH_RETENTION"),
    }
    raw.update({k: v for k, v in overrides.items() if v})
    own = {f.name for f in dataclasses.fields(RecorderConfig)} - {"origin"}
    legacy = {k: raw.pop(k) for k in list(raw) if k not in own}
    _check_top_level(legacy, own, where)
    sources = _sources(raw, legacy, where)
    unknown = sorted(set(sources) - set(REGISTRY))
    if unknown:
        raise ConfigError(
            f"{where}: sources: unknown source {unknown[0]!r} (known: {', '.join(REGISTRY)})"
        )
    if LEGACY_SOURCE in sources:
        sources[LEGACY_SOURCE].update({k: env[e] for e, k in LEGACY_ENV.items() if env.get(e)})
    if "spool" in raw:
        raw["spool"] = settings_from(SpoolSettings, f"{where}: spool", raw["spool"])
    _check_retention(raw, where, env)
    _check_texts(raw, where)
    try:
        return RecorderConfig(**raw, sources=sources, origin=where)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
