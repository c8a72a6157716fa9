"""`gapwatch probe`: a quick look at kube-proxy from a laptop, without a cluster API.

Probes a static list of nodes for one Service and records the same observations the recorder's
prober does (docs/observation.md). aiohttp and the prober are imported inside the command, so
`gapwatch --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gapwatch.recorder.cliutil import DEFAULT_URL, DbOption, tcp_port, wiring
from gapwatch.recorder.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add `probe` to the root `gapwatch` app."""
    app.command("probe")(probe)


def _service(value: str) -> tuple[str, str]:
    namespace, sep, name = value.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise typer.BadParameter(f"{value!r}: expected NAMESPACE/NAME", param_hint="--service")
    return namespace, name


#: ProberSettings' fields as probe's options name them: its errors named `interval_s`, a
#: config file's key, to a user who typed --interval.
_OPTIONS = {
    "interval_s": "--interval",
    "timeout_s": "--timeout",
    "heartbeat_s": "--heartbeat",
    "healthz_port": "--healthz-port",
}


def _nodes(values: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for value in values:
        name, sep, address = value.partition("=")
        if not sep or not name or not address:
            raise typer.BadParameter(
                f"{value!r}: expected NAME=ADDRESS, e.g. node-1=10.0.1.12", param_hint="--node"
            )
        out.append((name, address))
    if len({n for n, _ in out}) != len(out):
        raise typer.BadParameter("a node name is given twice", param_hint="--node")
    return out


def probe(
    ctx: typer.Context,
    service: Annotated[str, typer.Option("--service", help="The Service, NAMESPACE/NAME.")],
    node: Annotated[
        list[str],
        typer.Option("--node", metavar="NAME=ADDRESS", help="A node to probe (repeatable)."),
    ],
    health_check_node_port: Annotated[
        int | None,
        typer.Option(
            "--health-check-node-port",
            metavar="PORT",
            callback=tcp_port,
            help="The Service's healthCheckNodePort.",
        ),
    ] = None,
    node_port: Annotated[
        int | None,
        typer.Option(
            "--node-port",
            metavar="PORT",
            callback=tcp_port,
            help=(
                "Also TCP-connect to this NodePort. Only from outside the cluster: from a pod or "
                "a node, kube-proxy answers it from any endpoint (docs/kubeproxy.md); the "
                "self-check needs EndpointSlices, which probe does not read."
            ),
        ),
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between looks (0.1 to 3600).")
    ] = 1.0,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per look.")] = 0.5,
    heartbeat: Annotated[
        float, typer.Option("--heartbeat", help="Store an unchanged state this often (s).")
    ] = 60.0,
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="Stop after this many seconds (default: at Ctrl-C)."),
    ] = None,
    no_proxy_healthz: Annotated[
        bool,
        typer.Option(
            "--no-proxy-healthz",
            help="Do not look at kube-proxy's /healthz and /livez (--healthz-port).",
        ),
    ] = False,
    # The default, kept for scripts that spelled it out: as the pair --proxy-healthz/--no-...
    # Typer's help gave the second its own column, and the table no longer fit 80 columns.
    _proxy_healthz: Annotated[
        bool, typer.Option("--proxy-healthz", hidden=True, help="The default.")
    ] = False,
    healthz_port: Annotated[
        int,
        typer.Option(
            "--healthz-port", metavar="PORT", callback=tcp_port, help="kube-proxy's healthz port."
        ),
    ] = 10256,
    cluster: Annotated[
        str, typer.Option("--cluster", envvar="GAPWATCH_CLUSTER", help="Cluster name recorded.")
    ] = "default",
    db: DbOption = DEFAULT_URL,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each transition (NDJSON) as it happens.")
    ] = False,
) -> None:
    """Probe kube-proxy on a static list of nodes for one Service and record what changes.

    Looks at the Service's health-check node port (status, body, weight header, latency;
    refused/timeout/reset), optionally a NodePort TCP connect, and kube-proxy's /healthz and
    /livez. Stores transitions with their bounds plus a heartbeat (docs/observation.md). Stops
    after --duration or at Ctrl-C, writing what it has. Needs a store: `gapwatch db upgrade`.
    """
    namespace, name = _service(service)
    nodes = _nodes(node)
    if health_check_node_port is None and node_port is None:
        raise typer.BadParameter(
            "give --health-check-node-port, --node-port or both", param_hint="--node-port"
        )
    if duration is not None and duration <= 0:
        raise typer.BadParameter("must be above 0", param_hint="--duration")
    import asyncio

    from gapwatch.recorder.sources.kubeproxy.probecmd import ProbeRequest, run_probe
    from gapwatch.recorder.sources.kubeproxy.settings import ProberSettings

    try:
        settings = ProberSettings(
            interval_s=interval,
            timeout_s=timeout,
            heartbeat_s=heartbeat,
            nodeport="always" if node_port is not None else "never",
            proxy_healthz=not no_proxy_healthz,
            healthz_port=healthz_port,
        )
    except ConfigError as exc:
        field, _, what = str(exc).removeprefix("kube-proxy.").partition(": ")
        for name, option in _OPTIONS.items():  # the settings' names are the config file's
            what = what.replace(name, option)
        raise typer.BadParameter(what, param_hint=_OPTIONS.get(field, field)) from exc
    request = ProbeRequest(
        cluster=cluster,
        db=db,
        namespace=namespace,
        name=name,
        health_check_node_port=health_check_node_port,
        node_port=node_port,
        nodes=tuple(nodes),
        duration_s=duration,
        as_json=as_json,
    )
    asyncio.run(run_probe(request, settings, wiring(ctx).derive))
