"""The console scripts' entry point (`gapwatch`, `kubectl-gapwatch`), kept apart from the CLI.

Importing the CLI takes about a second (Typer, Rich, SQLAlchemy and every command's module); a
Ctrl-C in that second came out as a traceback of whichever import it hit, before run_app's own
handling (recorder.cliutil) existed. Here the import itself is guarded and says `interrupted`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Import the CLI and run it; Ctrl-C during the import exits 130 with one word."""
    try:
        from gapwatch.dashboard.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    run()
