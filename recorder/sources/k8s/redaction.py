"""Values the recorder never stores: container env values, args and command; configured paths.

Environment variable values of Pods and pod templates often hold plaintext secrets (a database
password set with `value:` instead of `valueFrom: secretKeyRef`), and so do a container's
arguments (`--password=...`, `--token X`). The `trim` projection replaces each `env[].value` with
REDACTED, keeping the variable's `name` and any `valueFrom` reference, and each item of every
container's `args` and `command` (the list keeps its length; replay reads none of them, only the
preStop hook's `lifecycle.preStop.exec.command`, which is kept), and
replaces whatever sits under the operator's own paths (`redact_paths` in the recorder's
configuration, env GAPWATCH_RECORD_REDACT_PATHS, comma-separated) under either projection.

A path is a JSON Pointer (RFC 6901: `/`-separated, `~1` for a `/` inside a key, `~0` for `~`)
in which `*` matches every key of an object or every item of a list, e.g.
`/metadata/annotations/vault.example.com~1token` or `/spec/containers/*/args`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

REDACTED = "<redacted by gapwatch>"

_POD_SPECS = ("/spec", "/spec/template/spec", "/spec/jobTemplate/spec/template/spec")
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
#: env[].value of every container of a Pod, a pod template, or a CronJob's template.
ENV_VALUE_PATHS: tuple[str, ...] = tuple(
    f"{spec}/{containers}/*/env/*/value" for spec in _POD_SPECS for containers in _CONTAINER_LISTS
)
#: Every item of args and command of every container of a Pod, a pod template, a CronJob's.
ARGV_PATHS: tuple[str, ...] = tuple(
    f"{spec}/{containers}/*/{argv}/*"
    for spec in _POD_SPECS
    for containers in _CONTAINER_LISTS
    for argv in ("command", "args")
)
#: What `trim` redacts in every object, and a fingerprint ignores (sources/k8s/noop.py).
TRIM_PATHS: tuple[str, ...] = ENV_VALUE_PATHS + ARGV_PATHS


@lru_cache(maxsize=1024)
def parse_path(path: str) -> tuple[str, ...]:
    """A JSON Pointer's segments (ValueError unless it starts with '/'). Cached: every object
    of a watch is redacted along the same few paths (TRIM_PATHS and the configured ones),
    and parsing them again for each object was a third of a watch's CPU at 2,000 changes/s."""
    if not path.startswith("/"):
        raise ValueError(f"redact path {path!r} must start with '/' (a JSON Pointer)")
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/"))


def _redact(node: Any, segments: tuple[str, ...]) -> tuple[Any, bool]:
    """(node with the path's targets replaced, whether anything changed); copies on write."""
    if not segments:
        return (REDACTED, True) if node is not None else (node, False)
    head, rest = segments[0], segments[1:]
    if isinstance(node, list):
        if head == "*":
            indexes = range(len(node))
        elif head.isdigit() and int(head) < len(node):
            indexes = range(int(head), int(head) + 1)
        else:
            indexes = range(0)
        out, any_change = list(node), False
        for i in indexes:
            out[i], did = _redact(node[i], rest)
            any_change = any_change or did
        return (out, True) if any_change else (node, False)
    # dict first: what JSON decodes to, checked in C; the Mapping ABC's check costs a microsecond
    if isinstance(node, (dict, Mapping)):
        keys = list(node) if head == "*" else [head] if head in node else []
        changed: dict[str, Any] = {}
        for key in keys:
            value, did = _redact(node[key], rest)
            if did:
                changed[key] = value
        return ({**node, **changed}, True) if changed else (node, False)
    return node, False


def redact_paths(obj: Mapping[str, Any], paths: Sequence[str]) -> Mapping[str, Any]:
    """`obj` with every value under `paths` replaced by REDACTED (never mutates `obj`)."""
    result: Mapping[str, Any] = obj
    for path in paths:
        redacted, changed = _redact(result, parse_path(path))
        if changed:
            result = redacted
    return result
