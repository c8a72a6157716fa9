"""The `gapwatch` command: one root app composed from each layer's commands.

Each package registers its own commands (recorder.cli, replay.cli, dashboard's own); this module
is the only place that sees all of them, so nothing below imports anything above it. It hands the
commands below it a `Wiring` (the root context's `obj`): the writer's derive hook that fills
replay's facts, so the recorder's commands derive them without importing replay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from gapwatch.dashboard import commands as dashboard_commands
from gapwatch.dashboard import report_cli, sqlcli
from gapwatch.dashboard.examples import add_examples
from gapwatch.recorder import cli as recorder_cli
from gapwatch.recorder import maintain_cli, revisions
from gapwatch.recorder import record as record_cli
from gapwatch.recorder.cliutil import (
    ROOT_DB,
    Wiring,
    run_app,
    secret_on_command_line,
)
from gapwatch.recorder.coderev import runs
from gapwatch.recorder.importers import cli as importers_cli
from gapwatch.recorder.lab import cli as lab_cli
from gapwatch.recorder.sim import cli as sim_cli
from gapwatch.recorder.sources.kubeproxy import cli as probe_cli
from gapwatch.recorder.sources.lb import cli as lb_cli
from gapwatch.replay import assume_cli, whatif_cli
from gapwatch.replay import cli as replay_cli

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from gapwatch.recorder.observation import Observation


@runs("gapwatch.replay.facts")  # its revision is replay.facts' (recorder.coderev)
def _write_facts(conn: Connection, rows: list[tuple[int, Observation]]) -> None:
    """Every command that writes events derives replay's facts in the same transaction
    (imported on first write, so `--help` stays light)."""
    from gapwatch.replay.facts import write_facts

    write_facts(conn, rows)


app = typer.Typer(
    name="gapwatch",
    help=(
        "Record, replay and explain the traffic a cloud load balancer loses to nodes of an "
        "externalTrafficPolicy: Local Service while kube-proxy and the cloud-controller-manager "
        "disagree. Every command takes --db URL (env GAPWATCH_DB, default sqlite:///gapwatch.db)."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"], "obj": Wiring(derive=_write_facts)},
)


@app.callback()
def _before_the_command(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            callback=secret_on_command_line,
            help="The event store for the command that follows, as its own --db (which wins).",
        ),
    ] = None,
) -> None:
    if db is not None:
        ctx.meta[ROOT_DB] = db


recorder_cli.register(app)
record_cli.register(app)
importers_cli.register(app)
sim_cli.register(app)
probe_cli.register(app)
lb_cli.register(app)
replay_cli.register(app)
whatif_cli.register(app)
assume_cli.register(app)
dashboard_commands.register(app)
report_cli.register(app)
revisions.register(recorder_cli.db_app)
maintain_cli.register(recorder_cli.db_app)
sqlcli.register(app)
lab_cli.register(app)


def _reflowed_help(group: typer.Typer) -> None:
    """Help in Typer's "markdown" mode, for this app and every group below it. In its default
    "rich" mode Typer keeps a docstring's line breaks: command lists broke summaries mid-sentence
    (`gapwatch --help` read "... Events) and" / "every other source ...") and later paragraphs
    came out ragged at 80 columns. Markdown reflows them; the text is the same (backticks render
    as code)."""
    group.rich_markup_mode = "markdown"
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _reflowed_help(sub.typer_instance)


_reflowed_help(app)
add_examples(app)


def main() -> None:
    """Console-script entry point."""
    run_app(app)


if __name__ == "__main__":
    main()
