"""The recorder's error tree. Everything it raises on purpose derives from GapwatchError.

    GapwatchError
    ├── ObservationError      an observation breaks the contract (docs/observation.md)
    │   └── LineError         ... and we know which file and line it came from
    │       └── InputCut      ... the input broke off there (a gzip stream cut short)
    ├── StoreError            the event store could not be reached or used
    │   ├── SchemaOutOfDate   the store exists but its migrations are behind the code
    │   └── MaintenanceNotPermitted  this login does not own `events`: it cannot make partitions
    ├── ConfigError           a configuration file or option is wrong
    └── SourceError           a source (Kubernetes API, probe, LB API) failed in a way we report

Driver and client exceptions (sqlalchemy, psycopg, kubernetes, botocore) are translated into these
at the module that talks to them, so the CLI can print one clean line per error.
"""

from __future__ import annotations

from datetime import date


class GapwatchError(Exception):
    """Base of every error gapwatch raises on purpose."""


class ObservationError(GapwatchError):
    """An observation does not follow the contract."""


class LineError(ObservationError):
    """An observation read from a file was bad; names the file, the line and the reason."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        super().__init__(f"{file}:{line}: {reason}")


class InputCut(LineError):
    """The input could not be read past this line: a compressed stream cut short or corrupt.
    `cause` says why (cut short, corrupt); `text` is what was read of the line the input broke
    off inside (empty when it broke off between lines), so the rejected-lines file keeps it."""

    def __init__(self, file: str, line: int, cause: str, text: bytes = b"") -> None:
        if text:
            reason = f"{cause}, inside this line: it is incomplete"
        else:
            where = f"after line {line - 1}" if line > 1 else "before its first line"
            reason = f"{cause}, {where}: anything after that is lost"
        super().__init__(file, line, reason)
        self.cause = cause
        self.text = text


class StoreError(GapwatchError):
    """The event store failed (connection, permissions, SQL)."""


class SchemaOutOfDate(StoreError):
    """The store's schema is behind the code: run `gapwatch db upgrade`."""


class MaintenanceNotPermitted(StoreError):
    """The login does not own `events`, so it may not create or drop its day partitions
    (PostgreSQL's rule); `last_day` is the last day that has a partition (None: none has)."""

    def __init__(self, message: str, *, last_day: date | None) -> None:
        super().__init__(message)
        self.last_day = last_day


class ConfigError(GapwatchError):
    """A configuration value is wrong."""


class SourceError(GapwatchError):
    """A data source failed."""


def yaml_error(path: object, exc: Exception) -> ConfigError:
    """`FILE:LINE: not valid YAML: PROBLEM` on one line, from a yaml.YAMLError (whose own message
    spans several lines with a caret, and names no file)."""
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}" if mark is not None else ""
    return ConfigError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}")
