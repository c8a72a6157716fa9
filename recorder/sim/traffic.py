"""Impact data: an ALB-like access-log line for every failed request (HTTP listeners only).

ALB delivers access logs in files every 5 minutes, so each line is observed at the next 5-minute
boundary after the request (its own time is the line's `request_creation_time`, kept as
`source_time`). A TCP listener (NLB) writes no access log, as on AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gapwatch.recorder.sim.core import us
from gapwatch.recorder.sim.emit import ACCESS_LOG

if TYPE_CHECKING:
    from gapwatch.recorder.sim.world import World

DELIVERY_US = us(300)


def access_line(
    w: World, node: str, at_us: int, seq: int, *, status: str = "502"
) -> tuple[str, dict[str, Any]]:
    """One ALB access-log line (and its fields) for a request sent to `node` at `at_us`:
    `status` 502 is the LB's own failure (no answer from the target), 200 a served request."""
    s = w.s
    n = w.nodes[node]
    clock = w.clock
    ok = status == "200"
    when = clock.micro(at_us + (3000 if ok else 1000))
    created = clock.micro(at_us)
    target = f"{n.ip}:{s.service.node_port}"
    trace = f"Root=1-{(at_us // 1_000_000) & 0xFFFFFFFF:08x}-{seq:024x}"
    client = f"203.0.113.{seq % 250 + 1}:{1024 + seq % 60000}"
    elb = f"app/k8s-{s.service.namespace[:8]}-{s.service.name[:8]}/{w.poller.arn[-16:]}"
    request = f"GET http://{s.service.name}.example.com:80/ HTTP/1.1"
    answered = "200" if ok else "-"
    times = ("0.000", "0.002", "0.000") if ok else ("0.000", "-1", "-1")
    timed: tuple[float, ...] = (0.0, 0.002, 0.0) if ok else (0.0, -1, -1)
    sent = 615 if ok else 272
    fields: dict[str, Any] = {
        "type": "http",
        "time": when,
        "elb": elb,
        "client:port": client,
        "target:port": target,
        "request_processing_time": timed[0],
        "target_processing_time": timed[1],
        "response_processing_time": timed[2],
        "elb_status_code": status,
        "target_status_code": answered,
        "received_bytes": 34,
        "sent_bytes": sent,
        "request": request,
        "user_agent": "sim-client/1.0",
        "target_group_arn": w.poller.arn,
        "trace_id": trace,
        "request_creation_time": created,
        "actions_executed": "forward",
        "error_reason": "-",
        "target:port_list": target,
        "target_status_code_list": answered,
    }
    line = (
        f"http {when} {elb} {client} {target} {times[0]} {times[1]} {times[2]} {status} "
        f'{answered} 34 {sent} "{request}" "sim-client/1.0" - - {w.poller.arn} "{trace}" "-" '
        f'"-" 0 {created} "forward" "-" "-" "{target}" "{answered}" "-" "-"'
    )
    return line, fields


def log_failed_request(w: World, node: str, at_us: int, outcome: str, seq: int) -> None:
    """Queue the access-log observation of one failed request."""
    s = w.s
    if s.lb.listener != "http" or not s.traffic.access_log:
        return
    line, fields = access_line(w, node, at_us, seq)
    fields["outcome"] = outcome
    queue_line(w, node, at_us, line, fields)


def queue_line(w: World, node: str, at_us: int, line: str, fields: dict[str, Any]) -> None:
    """Queue one access-log line of a request sent to `node` at `at_us`: observed when the file
    holding it is delivered (the next 5-minute boundary), or now when that has passed."""
    s = w.s
    w.emit.push(
        max((at_us // DELIVERY_US + 1) * DELIVERY_US, w.loop.now),
        ACCESS_LOG,
        "LBAccessLog",
        "OBSERVED",
        {"line": line, "fields": fields},
        namespace=s.service.namespace,
        name=s.service.name,
        node=node,
        source_time_us=at_us,
    )
