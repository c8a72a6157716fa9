"""`gapwatch poll CLOUD ...` (a quick look at an LB from a laptop) and `gapwatch receive` (the
push API alone). Heavy imports (SDKs, aiohttp, the writer) happen inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gapwatch.recorder.cliutil import DbOption, wiring
from gapwatch.recorder.defaults import DEFAULT_URL

poll_app = typer.Typer(
    name="poll",
    help=(
        "Poll a cloud load balancer's target health for a while and record every change "
        "(TargetHealth transitions with their sampling bounds, plus heartbeats). Targets are "
        "mapped to the Node objects already in the store (by instance id or IP); a target no "
        "Node matches is recorded with its id and no node. Credentials come from the cloud's "
        "standard chain (environment, profile, instance role), never from options."
    ),
    no_args_is_help=True,
)

IntervalOption = Annotated[
    float,
    typer.Option(min=0.1, help="Seconds between looks (each look costs 1-2 API calls per group)."),
]
DurationOption = Annotated[
    float | None, typer.Option(min=0.1, help="Stop after this many seconds (default: Ctrl-C).")
]
EndpointOption = Annotated[
    str | None, typer.Option("--endpoint-url", help="The API endpoint (private or test).")
]
ServiceOpt = Annotated[
    str | None, typer.Option("--service", help="NAMESPACE/NAME of the Service behind the LB.")
]
HeartbeatOption = Annotated[
    float, typer.Option(min=0.1, help="Write an unchanged target at least this often (s).")
]
PollCluster = Annotated[
    str, typer.Option("--cluster", envvar="GAPWATCH_CLUSTER", help="Cluster name recorded.")
]


def register(app: typer.Typer) -> None:
    """Add `poll` and `receive` to the root `gapwatch` app."""
    app.add_typer(poll_app)
    app.command("receive")(receive)


def _poll(
    ctx: typer.Context,
    key: str,
    options: dict[str, Any],
    db: str,
    cluster: str,
    service: str | None,
    interval: float,
    duration: float | None,
    heartbeat: float,
    endpoint: str | None,
) -> None:
    """Poll `key` with the options every `gapwatch poll CLOUD` shares (imports when it runs)."""
    from gapwatch.recorder.sources.lb.runpoll import PollJob, run_poll

    job = PollJob(db, cluster, service, interval, duration, heartbeat, endpoint, wiring(ctx).derive)
    run_poll(job, key, options)


@poll_app.command("elbv2")
def poll_elbv2(
    ctx: typer.Context,
    target_group: Annotated[
        list[str] | None, typer.Option("--target-group", help="Target group ARN (repeatable).")
    ] = None,
    from_bindings: Annotated[
        bool,
        typer.Option(
            "--from-bindings",
            help="Also poll every target group named by a TargetGroupBinding (AWS Load Balancer "
            "Controller) in the cluster, with its Service (in-cluster config or kubeconfig).",
        ),
    ] = False,
    api_server: Annotated[
        str | None,
        typer.Option(help="With --from-bindings: this API URL, no credentials (kubectl proxy)."),
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (else the AWS config).")] = None,
    endpoint_url: EndpointOption = None,
    interval: IntervalOption = 5.0,
    duration: DurationOption = None,
    heartbeat: HeartbeatOption = 60.0,
    service: ServiceOpt = None,
    cluster: PollCluster = "default",
    db: DbOption = DEFAULT_URL,
) -> None:
    """AWS ELBv2 (NLB/ALB): DescribeTargetHealth per target group, plus its health-check
    settings and timing attributes once a minute."""
    if not target_group and not from_bindings:
        raise typer.BadParameter("give --target-group ARN or --from-bindings")
    options = {
        "target_groups": [{"arn": arn} for arn in target_group or []],
        "region": region,
        "target_group_bindings": from_bindings,
        "api_server": api_server,
    }
    _poll(
        ctx,
        "elbv2",
        options,
        db,
        cluster,
        service,
        interval,
        duration,
        heartbeat,
        endpoint_url,
    )


@poll_app.command("slb")
def poll_slb(
    ctx: typer.Context,
    load_balancer_id: Annotated[str, typer.Option(help="The SLB/CLB instance (lb-...).")],
    vserver_group_id: Annotated[str, typer.Option(help="The vServer group (rsp-...).")],
    region: Annotated[str, typer.Option(help="Region id, e.g. cn-hangzhou.")],
    endpoint_url: EndpointOption = None,
    interval: IntervalOption = 5.0,
    duration: DurationOption = None,
    heartbeat: HeartbeatOption = 60.0,
    service: ServiceOpt = None,
    cluster: PollCluster = "default",
    db: DbOption = DEFAULT_URL,
) -> None:
    """Alibaba Cloud SLB/CLB: a vServer group's members and weights, and their health."""
    options = {
        "load_balancer_id": load_balancer_id,
        "vserver_group_id": vserver_group_id,
        "region": region,
    }
    _poll(
        ctx,
        "alibaba-slb",
        options,
        db,
        cluster,
        service,
        interval,
        duration,
        heartbeat,
        endpoint_url,
    )


@poll_app.command("clb")
def poll_clb(
    ctx: typer.Context,
    load_balancer_id: Annotated[str, typer.Option(help="The CLB instance (lb-...).")],
    region: Annotated[str, typer.Option(help="Region, e.g. ap-guangzhou.")],
    listener_id: Annotated[
        list[str] | None, typer.Option("--listener-id", help="Only this listener (repeatable).")
    ] = None,
    endpoint_url: EndpointOption = None,
    interval: IntervalOption = 5.0,
    duration: DurationOption = None,
    heartbeat: HeartbeatOption = 60.0,
    service: ServiceOpt = None,
    cluster: PollCluster = "default",
    db: DbOption = DEFAULT_URL,
) -> None:
    """Tencent Cloud CLB: each listener's (and layer-7 rule's) targets, weights and health."""
    options = {
        "load_balancer_id": load_balancer_id,
        "region": region,
        "listener_ids": listener_id or [],
    }
    _poll(
        ctx,
        "tencent-clb",
        options,
        db,
        cluster,
        service,
        interval,
        duration,
        heartbeat,
        endpoint_url,
    )


@poll_app.command("huawei-elb")
def poll_huawei(
    ctx: typer.Context,
    pool_id: Annotated[str, typer.Option(help="The backend server group (pool) id.")],
    region: Annotated[str | None, typer.Option(help="Region, e.g. cn-north-4.")] = None,
    endpoint_url: EndpointOption = None,
    interval: IntervalOption = 5.0,
    duration: DurationOption = None,
    heartbeat: HeartbeatOption = 60.0,
    service: ServiceOpt = None,
    cluster: PollCluster = "default",
    db: DbOption = DEFAULT_URL,
) -> None:
    """Huawei Cloud ELB v3: a pool's members, weights and operating status."""
    _poll(
        ctx,
        "huawei-elb",
        {"pool_id": pool_id, "region": region},
        db,
        cluster,
        service,
        interval,
        duration,
        heartbeat,
        endpoint_url,
    )


def receive(
    ctx: typer.Context,
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on (port 0: any free port).")],
    token_file: Annotated[
        Path | None,
        typer.Option(help="File holding the bearer token (else env GAPWATCH_PUSH_TOKEN)."),
    ] = None,
    db: DbOption = DEFAULT_URL,
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Largest body accepted (413).")] = (
        4 * 1024 * 1024
    ),
    max_lines: Annotated[int, typer.Option(min=1, help="Most lines per request (413).")] = 10_000,
) -> None:
    """Run the push API alone: POST /v1/observations with an NDJSON body of observations
    (docs/observation.md) and `Authorization: Bearer TOKEN`. A request with one bad line stores
    nothing and answers 400 naming each bad line; 200 answers the counts stored and duplicates.
    Runs until SIGTERM or Ctrl-C."""
    from gapwatch.recorder.sources.lb.runpoll import run_receive

    run_receive(listen, token_file, db, max_body_bytes, max_lines, wiring(ctx).derive)
