"""`gapwatch poll CLOUD ...` (a quick look at an LB from a laptop) and `gapwatch receive` (the
push API alone). Heavy imports (SDKs, aiohttp, the writer) happen inside the commands."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer import Context

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
#: A cloud's own options in, the poller's settings for that cloud out.
Cloud = TypeVar("Cloud", bound=Callable[..., dict[str, Any]])


def register(app: typer.Typer) -> None:
    """Add `poll` and `receive` to the root `gapwatch` app."""
    app.add_typer(poll_app)
    app.command("receive")(receive)


def _poll(
    ctx: Context,
    key: str,
    options: dict[str, Any],
    *,
    endpoint_url: str | None,
    interval: float,
    duration: float | None,
    heartbeat: float,
    service: str | None,
    cluster: str,
    db: str,
) -> None:
    """Poll `key` with the shared options (imports the poller when it runs)."""
    from gapwatch.recorder.sources.lb.runpoll import PollJob, run_poll

    job = PollJob(
        db, cluster, service, interval, duration, heartbeat, endpoint_url, wiring(ctx).derive
    )
    run_poll(job, key, options)


def _shared_options(
    endpoint_url: EndpointOption = None,
    interval: IntervalOption = 5.0,
    duration: DurationOption = None,
    heartbeat: HeartbeatOption = 60.0,
    service: ServiceOpt = None,
    cluster: PollCluster = "default",
    db: DbOption = DEFAULT_URL,
) -> None:
    """The options every `gapwatch poll CLOUD` takes after its own (only its signature is used)."""


def _poll_command(name: str, key: str) -> Callable[[Cloud], Cloud]:
    """Register `gapwatch poll NAME` from a function that takes the cloud's own options and
    returns the source's settings for `key`: its docstring is the command's help, and the
    shared options (`_shared_options`) follow its own, so every cloud's command spells them the
    same way. Typer reads the options from the command's signature, which is built here."""
    shared = list(inspect.signature(_shared_options, eval_str=True).parameters.values())
    context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Context)

    def register(cloud_options: Cloud) -> Cloud:
        own = inspect.signature(cloud_options, eval_str=True)

        def command(ctx: Context, **given: Any) -> None:
            common = {p.name: given.pop(p.name) for p in shared}
            _poll(ctx, key, cloud_options(**given), **common)

        params = [context, *own.parameters.values(), *shared]
        command.__name__ = cloud_options.__name__
        command.__doc__ = cloud_options.__doc__
        command.__annotations__ = {p.name: p.annotation for p in params}
        signature = own.replace(parameters=params, return_annotation=None)
        command.__signature__ = signature  # type: ignore[attr-defined]  # what Typer reads
        poll_app.command(name)(command)
        return cloud_options

    return register


@_poll_command("elbv2", "elbv2")
def poll_elbv2(
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
) -> dict[str, Any]:
    """AWS ELBv2 (NLB/ALB): DescribeTargetHealth per target group, plus its health-check
    settings and timing attributes once a minute."""
    if not target_group and not from_bindings:
        raise typer.BadParameter("give --target-group ARN or --from-bindings")
    return {
        "target_groups": [{"arn": arn} for arn in target_group or []],
        "region": region,
        "target_group_bindings": from_bindings,
        "api_server": api_server,
    }


@_poll_command("slb", "alibaba-slb")
def poll_slb(
    load_balancer_id: Annotated[str, typer.Option(help="The SLB/CLB instance (lb-...).")],
    vserver_group_id: Annotated[str, typer.Option(help="The vServer group (rsp-...).")],
    region: Annotated[str, typer.Option(help="Region id, e.g. cn-hangzhou.")],
) -> dict[str, Any]:
    """Alibaba Cloud SLB/CLB: a vServer group's members and weights, and their health."""
    return {
        "load_balancer_id": load_balancer_id,
        "vserver_group_id": vserver_group_id,
        "region": region,
    }


@_poll_command("clb", "tencent-clb")
def poll_clb(
    load_balancer_id: Annotated[str, typer.Option(help="The CLB instance (lb-...).")],
    region: Annotated[str, typer.Option(help="Region, e.g. ap-guangzhou.")],
    listener_id: Annotated[
        list[str] | None, typer.Option("--listener-id", help="Only this listener (repeatable).")
    ] = None,
) -> dict[str, Any]:
    """Tencent Cloud CLB: each listener's (and layer-7 rule's) targets, weights and health."""
    return {
        "load_balancer_id": load_balancer_id,
        "region": region,
        "listener_ids": listener_id or [],
    }


@_poll_command("huawei-elb", "huawei-elb")
def poll_huawei(
    pool_id: Annotated[str, typer.Option(help="The backend server group (pool) id.")],
    region: Annotated[str | None, typer.Option(help="Region, e.g. cn-north-4.")] = None,
) -> dict[str, Any]:
    """Huawei Cloud ELB v3: a pool's members, weights and operating status."""
    return {"pool_id": pool_id, "region": region}


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
    read_timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Seconds a client has to send a request's headers, and then its body (408).",
        ),
    ] = 30.0,
    max_connections: Annotated[
        int,
        typer.Option(min=1, help="Connections open at once; past it a new one is closed."),
    ] = 256,
) -> None:
    """Run the push API alone: POST /v1/observations with an NDJSON body of observations
    (docs/observation.md) and `Authorization: Bearer TOKEN`. A request with one bad line stores
    nothing and answers 400 naming each bad line; 200 answers the counts stored and duplicates.
    Runs until SIGTERM or Ctrl-C."""
    from gapwatch.recorder.sources.lb.runpoll import run_receive

    run_receive(
        listen,
        token_file,
        db,
        max_body_bytes,
        max_lines,
        wiring(ctx).derive,
        read_timeout,
        max_connections,
    )
