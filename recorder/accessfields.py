"""ELB access-log lines: the documented field lists, a tokenizer, and what counts as a failure.

Field lists in order, from the AWS user guides (copies in tests/fixtures/importers/): ALB
("Access log entries", Application Load Balancers guide), NLB TLS listeners (Network Load
Balancers guide; NLB logs only TLS listeners and names the listener, never the target) and
Classic ELB. New fields are appended at the end over the years; AWS says to ignore unexpected
trailing fields, so we keep them under `extra`.

A real ALB logs every request. The LB's own failure towards a target, the one a race window
causes, is `elb_status_code` 502, 503 or 504 with `target_status_code` `-` (no answer from the
target: connection refused, reset or timed out), unless `error_reason` names an authentication,
WAF or Lambda failure (those are not the target's node). Classic ELB: the same with
`backend_status_code`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ALB_FIELDS: tuple[str, ...] = (
    "type", "time", "elb", "client:port", "target:port", "request_processing_time",
    "target_processing_time", "response_processing_time", "elb_status_code",
    "target_status_code", "received_bytes", "sent_bytes", "request", "user_agent", "ssl_cipher",
    "ssl_protocol", "target_group_arn", "trace_id", "domain_name", "chosen_cert_arn",
    "matched_rule_priority", "request_creation_time", "actions_executed", "redirect_url",
    "error_reason", "target:port_list", "target_status_code_list", "classification",
    "classification_reason", "conn_trace_id",
)  # fmt: skip
NLB_FIELDS: tuple[str, ...] = (
    "type", "version", "time", "elb", "listener", "client:port", "destination:port",
    "connection_time", "tls_handshake_time", "received_bytes", "sent_bytes",
    "incoming_tls_alert", "chosen_cert_arn", "chosen_cert_serial", "tls_cipher",
    "tls_protocol_version", "tls_named_group", "domain_name", "alpn_fe_protocol",
    "alpn_be_protocol", "alpn_client_preference_list", "tls_connection_creation_time",
)  # fmt: skip
CLASSIC_FIELDS: tuple[str, ...] = (
    "time", "elb", "client:port", "backend:port", "request_processing_time",
    "backend_processing_time", "response_processing_time", "elb_status_code",
    "backend_status_code", "received_bytes", "sent_bytes", "request", "user_agent",
    "ssl_cipher", "ssl_protocol",
)  # fmt: skip
#: Fewest fields a line of each format must have (up to the status codes / byte counts).
MIN_FIELDS = {"alb": 12, "nlb": 11, "classic": 11}
ALB_TYPES = frozenset({"http", "https", "h2", "ws", "wss", "grpcs"})
#: The LB answered itself because no target did (HTTP 502 Bad Gateway, 503, 504 Gateway Timeout).
LB_FAILURE_CODES = frozenset({"502", "503", "504"})
#: error_reason prefixes of failures that are not the target node's (ALB error_reason table).
NOT_TARGET_REASONS = ("Auth", "WAF", "Lambda", "AWSALBTG", "WeightedTargetGroups")

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def tokens(line: str) -> list[str]:
    """Space-separated fields; a double-quoted field is one token, without its quotes."""
    return [q if b is None or b == "" else b for q, b in _TOKEN.findall(line)]


def unclosed_quote(line: str) -> bool:
    """Whether a field opens a double quote that the line never closes (a closed one is a
    quoted token; an open one falls to the bare-word branch, quote and all)."""
    return any(bare.startswith('"') for _quoted, bare in _TOKEN.findall(line))


def detect(first: str) -> str | None:
    """`alb`, `nlb` or `classic` from a line's first token(s), None when it is none of them."""
    if first in ALB_TYPES:
        return "alb"
    if first == "tls":
        return "nlb"
    if len(first) >= 19 and first[4] == "-" and first[10] == "T":
        return "classic"
    return None


def is_lb_failure(fields: Mapping[str, Any]) -> bool:
    """Whether a parsed line is the LB's own 502/503/504 with no answer from the target."""
    if str(fields.get("elb_status_code", "-")) not in LB_FAILURE_CODES:
        return False
    answered = fields.get("target_status_code", fields.get("backend_status_code", "-"))
    if str(answered) != "-":
        return False
    reason = str(fields.get("error_reason") or "-")
    return not reason.startswith(NOT_TARGET_REASONS)


def target_of(fields: Mapping[str, Any]) -> str | None:
    """The target `ip:port` a line names (ALB `target:port`, Classic `backend:port`), if any."""
    value = fields.get("target:port") or fields.get("backend:port")
    return value if isinstance(value, str) and value not in ("-", "") else None
