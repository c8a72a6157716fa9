"""Postmortem importers: other systems' records turned into observations (`gapwatch import FORMAT`).

One module per format, each a pure parser from one decoded record (a JSON value or a text line)
to observations; `records` reads files into records (JSON lines, pretty-printed or concatenated
documents, list wrappers such as an audit `EventList` or CloudTrail's `Records`), and `driver`
feeds them through the `events` importer's machinery (FILE:LINE errors, `--errors`, `--strict`,
batches). `FORMATS` maps a format name to its module, imported only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gapwatch.recorder.importers.base import Format

FORMATS: dict[str, str] = {
    "k8s-audit": "gapwatch.recorder.importers.audit",
    "cloudtrail": "gapwatch.recorder.importers.cloudtrail",
    "elb-access-log": "gapwatch.recorder.importers.accesslog",
    "k8s-watch": "gapwatch.recorder.importers.watch",
    "prometheus": "gapwatch.recorder.importers.prometheus",
}


def load(name: str) -> Format:
    """The Format object of `name` (a key of FORMATS)."""
    module = importlib.import_module(FORMATS[name])
    fmt: Format = module.FORMAT
    return fmt
