"""`gapwatch db history`, and the check that a revision named on the command line exists.

Alembic answers an unknown revision with a long traceback; `check_revision` turns it into one
line that lists the revisions there are (exit 2). dashboard.cli registers `history` under `db`.
"""

from __future__ import annotations

import re

import typer

from gapwatch.recorder.cliutil import DbOption, usage_error
from gapwatch.recorder.defaults import DEFAULT_URL
from gapwatch.recorder.errors import StoreError

#: What Alembic accepts besides a revision id: symbolic names and relative steps (+1, -2).
_SYMBOLIC = ("head", "heads", "base")
_RELATIVE = re.compile(r"^(head|base)?[+-]\d+$")


def revisions() -> list[tuple[str, str | None, str]]:
    """(revision, down_revision, message) for every migration, oldest first."""
    from alembic.script import ScriptDirectory

    from gapwatch.recorder import store

    script = ScriptDirectory.from_config(store.alembic_config())
    out = []
    for rev in script.walk_revisions():
        down = rev.down_revision
        parent = down if isinstance(down, str) or down is None else ",".join(down)
        out.append(
            (rev.revision, parent, (rev.doc or "").strip().splitlines()[0] if rev.doc else "")
        )
    return list(reversed(out))


def check_revision(revision: str) -> None:
    """Exit 2 with one line naming the known revisions unless Alembic knows `revision`."""
    known = [r for r, _, _ in revisions()]
    if revision in _SYMBOLIC or _RELATIVE.match(revision) or revision in known:
        return
    prefixed = [r for r in known if r.startswith(revision)]
    if len(prefixed) == 1:
        return
    usage_error(
        f"unknown revision {revision!r}: the revisions are {', '.join(known)} "
        f"(and {', '.join(_SYMBOLIC)}); see `gapwatch db history`"
    )


def register(db_app: typer.Typer) -> None:
    """Add `history` to the `gapwatch db` group."""
    db_app.command("history")(db_history)


def db_history(db: DbOption = DEFAULT_URL) -> None:
    """List the schema revisions, oldest first, and mark the store's current one."""
    from gapwatch.recorder import store
    from gapwatch.recorder.cliutil import open_store

    current = store.current_revision(open_store(db, require_schema=False)) if _exists(db) else None
    for rev, down, message in revisions():
        mark = "  (current)" if rev == current else ""
        print(f"{rev}  <- {down or 'base'}  {message}{mark}")
    if current is None:
        print("store: empty or not created yet (`gapwatch db upgrade` creates it)")


def _exists(db: str) -> bool:
    from gapwatch.recorder.store import require_existing_file

    try:
        require_existing_file(db)
    except StoreError:
        return False
    return True
