"""The `gapwatch` command: one root app composed from each layer's commands.

Each package registers its own commands (recorder.cli, replay.cli, dashboard's own); this module
is the only place that sees all of them, so nothing below imports anything above it.
"""

from __future__ import annotations

import typer

from gapwatch.dashboard import commands as dashboard_commands
from gapwatch.dashboard import sqlcli
from gapwatch.recorder import cli as recorder_cli
from gapwatch.recorder.cliutil import run_app
from gapwatch.recorder.k8s import cli as k8s_cli
from gapwatch.recorder.sim import cli as sim_cli
from gapwatch.replay import cli as replay_cli

app = typer.Typer(
    name="gapwatch",
    help=(
        "Record, replay and explain the traffic a cloud load balancer loses to nodes of an "
        "externalTrafficPolicy: Local Service while kube-proxy and the cloud-controller-manager "
        "disagree. Every command takes --db URL (env GAPWATCH_DB, default sqlite:///gapwatch.db)."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

recorder_cli.register(app)
k8s_cli.register(app)
sim_cli.register(app)
replay_cli.register(app)
dashboard_commands.register(app)
sqlcli.register(app)


def main() -> None:
    """Console-script entry point."""
    run_app(app)


if __name__ == "__main__":
    main()
