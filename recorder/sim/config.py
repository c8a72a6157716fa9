"""Scenarios from presets, YAML files and `key=value` overrides, validated with clear errors.

Every error names where the value came from and the dotted key, e.g.
`config.yaml: kube_proxy.lag_s.p50: must be >= 0`. A lag is either a number (constant) or a
mapping `{p50: .., p90: .., max: ..}`; unknown keys are errors (a typo must not be ignored).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gapwatch.recorder.errors import ConfigError, yaml_error
from gapwatch.recorder.sim.core import Lag
from gapwatch.recorder.sim.presets import PRESETS
from gapwatch.recorder.sim.scenario import Scenario
from gapwatch.recorder.sim.validate import check_scenario
from gapwatch.recorder.timefmt import parse_time


def load_scenario(
    name_or_path: str | None = None, overrides: Mapping[str, Any] | None = None
) -> Scenario:
    """A preset by name, or a YAML file (which may start from `preset: NAME`), plus overrides.

    `overrides` maps dotted keys to values (`{"kube_proxy.lag_s.p50": 2}`); string values are read
    as YAML scalars, so `"true"` and `"2.5"` work from the command line.
    """
    origin = "scenario"
    data: dict[str, Any]
    if name_or_path is None or name_or_path in PRESETS:
        data = _deep_copy(PRESETS[name_or_path or "seed-3node"])
        origin = f"preset {name_or_path or 'seed-3node'}"
    else:
        path = Path(name_or_path)
        if not path.exists():
            known = ", ".join(sorted(PRESETS))
            raise ConfigError(f"{name_or_path}: no such preset or file (presets: {known})")
        data = _read_yaml(path)
        origin = str(path)
    for key, value in (overrides or {}).items():
        if key == "preset":
            data.setdefault("preset", value)
            continue
        _set_dotted(data, key, _scalar(value))
    return from_dict(data, origin)


def from_dict(data: Mapping[str, Any], origin: str = "scenario") -> Scenario:
    """Build and validate a Scenario from nested plain data."""
    merged = _resolve(dict(data), origin, 0)
    scenario: Scenario = _build(Scenario, merged, "", origin)
    try:
        parse_time(scenario.start)
    except ValueError as exc:
        raise ConfigError(f"{origin}: start: {exc}") from exc
    check_scenario(scenario, origin)
    return scenario


def _resolve(data: dict[str, Any], origin: str, depth: int) -> dict[str, Any]:
    """Apply `preset: NAME` (presets may start from presets themselves)."""
    base_name = data.pop("preset", None)
    if base_name is None:
        return data
    if base_name not in PRESETS or depth > 8:
        raise ConfigError(f"{origin}: preset: unknown preset {base_name!r}")
    base = _resolve(_deep_copy(PRESETS[base_name]), origin, depth + 1)
    return _merge(base, data)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return loaded


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = value
    return base


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep_copy(v) for v in value]
    return value


def _fail(origin: str, key: str, message: str) -> ConfigError:
    return ConfigError(f"{origin}: {key or '(top level)'}: {message}")


def _build(cls: type[Any], data: Any, prefix: str, origin: str) -> Any:
    if not isinstance(data, Mapping):
        raise _fail(origin, prefix, f"expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        key = f"{prefix}{unknown[0]}"
        raise _fail(origin, key, f"unknown key (expected one of: {', '.join(names)})")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            values[f.name] = _convert(hints[f.name], data[f.name], prefix + f.name, origin)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _fail(origin, prefix + f.name, "required")
    return cls(**values)


def _convert(hint: Any, value: Any, key: str, origin: str) -> Any:
    origin_type = typing.get_origin(hint)
    if origin_type in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, key, origin)
    if origin_type is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            choices = ", ".join(str(a) for a in allowed)
            raise _fail(origin, key, f"{value!r} is not one of: {choices}")
        return value
    if origin_type is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise _fail(origin, key, f"expected a list, got {type(value).__name__}")
        return tuple(_convert(item, v, f"{key}[{i}]", origin) for i, v in enumerate(value))
    if hint is Lag:
        return _lag(value, key, origin)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".", origin)  # type: ignore[arg-type]
    if hint is bool:
        if not isinstance(value, bool):
            raise _fail(origin, key, f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(origin, key, f"expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(origin, key, f"expected a number, got {value!r}")
        if value != value or value in (float("inf"), float("-inf")):
            raise _fail(origin, key, "must be a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(origin, key, f"expected a string, got {value!r}")
        return value
    raise _fail(origin, key, f"unsupported type {hint!r}")  # pragma: no cover


def _lag(value: Any, key: str, origin: str) -> Lag:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise _fail(origin, key, "must be >= 0")
        return Lag(float(value), float(value), float(value))
    if not isinstance(value, Mapping):
        raise _fail(origin, key, "expected a number of seconds or a mapping {p50, p90, max}")
    unknown = [k for k in value if k not in ("p50", "p90", "max")]
    if unknown:
        raise _fail(origin, f"{key}.{unknown[0]}", "unknown key (expected one of: p50, p90, max)")
    if "p50" not in value:
        raise _fail(origin, f"{key}.p50", "required")
    p50 = _convert(float, value["p50"], f"{key}.p50", origin)
    p90 = _convert(float, value.get("p90", p50), f"{key}.p90", origin)
    cap = value.get("max")
    top = None if cap is None else _convert(float, cap, f"{key}.max", origin)
    if p50 < 0:
        raise _fail(origin, f"{key}.p50", "must be >= 0")
    if p90 < p50:
        raise _fail(origin, f"{key}.p90", f"must be >= p50 ({p50})")
    if top is not None and top < p50:
        raise _fail(origin, f"{key}.max", f"must be >= p50 ({p50})")
    return Lag(p50, p90, top)
