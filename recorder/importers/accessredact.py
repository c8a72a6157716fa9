"""Query-string values of access-log lines, never stored (pure).

An ALB or Classic ELB logs each request's whole URL (`request`: `GET https://host:443/p?q
HTTP/1.1`; ALB `redirect_url` too), and URLs carry secrets: `?access_token=`, `?api_key=`, an
OAuth `?code=`, a presigned URL's `X-Amz-Signature`. Replay reads none of it (a line counts by
its status codes, target and times), so each value of a query is replaced by REDACTED, in the
parsed field and in the raw line alike, keeping the parameter names (which requests they were
stays readable). A bare item without `=` is replaced whole.
"""

from __future__ import annotations

from typing import Any

REDACTED = "REDACTED"
#: The fields that hold a URL: ALB and Classic `request`, ALB `redirect_url`.
URL_FIELDS = ("request", "redirect_url")


def _query_redacted(url: str) -> str:
    path, mark, rest = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = rest.partition("#")
    items = [
        f"{item.partition('=')[0]}={REDACTED}" if "=" in item else REDACTED if item else ""
        for item in query.split("&")
    ]
    return f"{path}?{'&'.join(items)}{hash_mark}{REDACTED if fragment else ''}"


def _field_redacted(value: str) -> str:
    """Every space-separated part of a field that holds a query (the request's URL)."""
    return " ".join(_query_redacted(part) for part in value.split(" "))


def redact_queries(line: str, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(`line`, `fields`) with every query-string value of their URL fields replaced."""
    for key in URL_FIELDS:
        value = fields.get(key)
        if not isinstance(value, str) or "?" not in value:
            continue
        redacted = _field_redacted(value)
        if redacted != value:
            fields = {**fields, key: redacted}
            line = line.replace(value, redacted, 1)
    return line, fields
