"""`gapwatch import FORMAT FILE...` for the postmortem formats (beside `import events`).

Each format gets the `events` importer's options and conventions: `.gz` and `-` accepted,
progress on stderr, `FILE:LINE: reason` per bad record, good records kept, `--strict`, `--errors
FILE`, exit 3 when some were rejected; then a summary of what was imported, by kind, what was
skipped and why, and what is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gapwatch.recorder.cliutil import (
    DEFAULT_URL,
    EXIT_ERROR,
    EXIT_PARTIAL,
    DbOption,
    open_store,
    progress,
    stderr,
    wiring,
)
from gapwatch.recorder.importers import FORMATS

if TYPE_CHECKING:
    from gapwatch.recorder.importer import ErrorSink, ImportReport

_HELP = {
    "k8s-audit": (
        "Kubernetes audit log (audit.k8s.io/v1 events as JSON lines, or an EventList). "
        "RequestResponse-level writes of EndpointSlices, Pods, Nodes, Services and workloads "
        "become the same observations the watch recorder writes; Metadata-level ones are kept "
        "as APIRequest timing evidence. Only ResponseComplete stages."
    ),
    "cloudtrail": (
        "CloudTrail records (a Records array or JSON lines): Register/DeregisterTargets, "
        "Create/DeleteTargetGroup, ModifyTargetGroupAttributes and the Classic ELB's "
        "Register/DeregisterInstances become TargetChange observations at eventTime; failed "
        "calls are kept as failed, not as changes."
    ),
    "elb-access-log": (
        "ELB access logs: ALB, NLB (TLS listeners) and Classic lines, detected per line. "
        "Every line is kept, each query-string value of its URLs stored as REDACTED; replay "
        "counts as failed only the LB's own 502/503/504 without a target answer."
    ),
    "k8s-watch": (
        "What `kubectl get ... --watch -o json` prints (objects, or type+object with "
        "--output-watch-events), one per line or pretty-printed. Times come from the objects "
        "and the capture's order; the gap since the previous record is kept as uncertainty."
    ),
    "prometheus": (
        "Prometheus HTTP API query_range (resultType matrix) or query (vector) JSON of "
        "kube-proxy metrics with a `node`, `kubernetes_node`, `nodename` or `instance` label: "
        "one ProxyMetrics observation per node and timestamp."
    ),
}


def register(app: typer.Typer) -> None:
    """Add one `gapwatch import FORMAT` command per postmortem format to the `import` group."""
    del app  # the commands join the `import` group that recorder.cli adds to the root app
    from gapwatch.recorder.cli import import_app

    for name in FORMATS:
        import_app.command(name, help=_HELP[name])(_command(name))


def _command(fmt_name: str):  # type: ignore[no-untyped-def]
    def command(
        ctx: typer.Context,
        files: Annotated[
            list[str], typer.Argument(help="Input files (.gz is fine); '-' reads standard input.")
        ],
        cluster: Annotated[
            str,
            typer.Option(
                "--cluster",
                envvar="GAPWATCH_CLUSTER",
                help="The cluster these records come from (as the recorder names it).",
            ),
        ] = "default",
        db: DbOption = DEFAULT_URL,
        strict: Annotated[
            bool, typer.Option("--strict", help="Write nothing if any record is bad.")
        ] = False,
        errors: Annotated[
            Path | None,
            typer.Option("--errors", help="Write every rejected record, with its reason, here."),
        ] = None,
        batch_size: Annotated[
            int, typer.Option(min=1, max=100_000, help="Valid observations per committed batch.")
        ] = 5000,
        show: Annotated[
            int, typer.Option(min=0, help="How many bad records to print (0: none, counted).")
        ] = 20,
    ) -> None:
        run_import(ctx, fmt_name, files, cluster, db, strict, errors, batch_size, show)

    return command


def check_inputs(files: list[str], errors: Path | None, *, strict: bool = False) -> None:
    """Before anything is written: every input opens, and `--errors` (truncated when opened) is
    none of them. Found halfway instead, a missing file stopped an import after some batches were
    committed and said nothing of them; an `--errors` that was an input emptied it.

    A pipe is not opened here (its first bytes would be lost to the import, and a FIFO opened
    twice waits for ever: recorder/inputkind.py), only checked readable; `--strict`, which reads
    its inputs twice, refuses one."""
    from gapwatch.recorder.errors import ObservationError
    from gapwatch.recorder.inputkind import check_pipe_readable, is_pipe
    from gapwatch.recorder.ndjson import open_input

    for name in files:
        if name == "-":
            continue
        if is_pipe(name):
            if strict:
                raise ObservationError(
                    f"{name} is a pipe, which can be read once, and --strict reads its inputs "
                    "twice: give it as '-' (standard input, which --strict keeps in a temporary "
                    "file) or save it to a file; nothing was imported"
                )
            try:
                check_pipe_readable(name)
            except ObservationError as exc:
                raise ObservationError(f"{exc}; nothing was imported") from exc
            continue
        if errors is not None:
            try:
                same = Path(name).exists() and errors.exists() and errors.samefile(name)
            except OSError:
                same = False
            if same or errors.resolve() == Path(name).resolve():
                raise typer.BadParameter(f"{errors} is also an input file", param_hint="--errors")
        try:
            with open_input(name):
                pass
        except ObservationError as exc:
            raise ObservationError(f"{exc}; nothing was imported") from exc


@contextmanager
def rejected_sink(path: Path | None) -> Iterator[ErrorSink | None]:
    """An ErrorSink writing rejected records to `path` (`--errors`), or None without one."""
    if path is None:
        yield None
        return
    from gapwatch.recorder.importer import error_writer

    with path.open("wb") as out:
        yield error_writer(out)


def report_empty(report: ImportReport, inputs: int, noun: str) -> None:
    """Name each input that held nothing (`FILE: empty, no observations`; `FILE: empty (only
    blank lines), ...` when it held blank lines only, which readers pass over); when every input
    was empty, say nothing was imported and exit 1.

    A script importing a capture that came out empty (a `kubectl get -w` that failed, an export
    of the wrong cluster, a wrong path in a loop) must learn it from the exit code, as `kubectl
    apply -f` of an empty file fails with "no objects passed to apply": the recorder writes
    heartbeats, so a real capture is never empty. One empty file among others lost nothing: it
    is named and the exit code is the others' (globbing rotated files keeps working)."""
    for name in report.empty:
        what = "empty (only blank lines)" if name in report.blank else "empty"
        stderr.print(f"{name}: {what}, no {noun}", markup=False)
    if report.empty and len(report.empty) == inputs:
        stderr.print("error: nothing to import: every input is empty", markup=False)
        raise typer.Exit(EXIT_ERROR)


def print_rejected(report: ImportReport, show: int, noun: str) -> None:
    """Print the first `show` rejections as FILE:LINE: reason, and how many more there were."""
    for err in report.errors[:show]:
        stderr.print(str(err), markup=False)
    if show == 0 and report.error_count:
        stderr.print(f"{report.error_count} bad {noun}, not printed (--show 0)", markup=False)
    elif report.error_count > show:
        stderr.print(f"... and {report.error_count - show} more bad {noun}", markup=False)


def hint_format(files: list[str], given: str) -> None:
    """For each input of which every record read was rejected (ImportReport.unread), whatever
    the others did: name the importer it looks made for (recorder.importers.sniff), so a wrong
    format word is not read as a broken file. Decided per import before, one such file in a
    glob of good ones got its rejections and no hint."""
    from gapwatch.recorder.importers.sniff import suggest
    from gapwatch.recorder.inputkind import is_pipe

    for name in files:
        # a pipe was read to its end by the import (a FIFO opened again would wait for ever)
        hint = suggest(name, given) if name != "-" and not is_pipe(name) else None
        if hint is not None:
            stderr.print(f"hint: {hint}", markup=False)


def run_import(
    ctx: typer.Context,
    fmt_name: str,
    files: list[str],
    cluster: str,
    db: str,
    strict: bool,
    errors: Path | None,
    batch_size: int,
    show: int,
) -> None:
    """Import `files` in format `fmt_name`, print the summary, exit 3 if records were rejected."""
    from gapwatch.recorder.importers import load
    from gapwatch.recorder.importers.driver import import_format
    from gapwatch.recorder.interrupt import committed_on_interrupt
    from gapwatch.recorder.ndjson import input_size

    fmt = load(fmt_name)
    check_inputs(files, errors, strict=strict)
    engine = open_store(db)
    sizes = [input_size(f) for f in files]
    total = sum(s for s in sizes if s) if all(sizes) else None
    with (
        committed_on_interrupt(engine),
        rejected_sink(errors) as on_error,
        progress(f"importing {fmt_name}", total, unit_bytes=True) as advance,
    ):
        result = import_format(
            engine,
            fmt,
            files,
            cluster=cluster,
            derive=wiring(ctx).derive,
            strict=strict,
            batch_size=batch_size,
            on_error=on_error,
            on_bytes=advance,
        )
    report, stats = result.report, result.stats
    report_empty(report, len(files), "records")
    print_rejected(report, show, "records")
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats.kinds.items())) or "nothing"
    skipped = ", ".join(f"{r} {n}" for r, n in sorted(stats.skipped.items()))
    stderr.print(
        f"{stats.records} records: {stats.imported_records} imported ({kinds}), "
        f"{sum(stats.skipped.values())} skipped{f' ({skipped})' if skipped else ''}, "
        f"{stats.rejected} rejected",
        markup=False,
    )
    for note in fmt.notes(stats) if fmt.notes else []:
        stderr.print(f"note: {note}", markup=False)
    hint_format([f for f in report.unread if f in files], fmt_name)
    if report.strict_aborted:
        stderr.print(f"--strict: {report.error_count} bad records, nothing written")
        raise typer.Exit(EXIT_PARTIAL)
    written = report.written
    stderr.print(
        f"{report.lines_ok} observations: {written.inserted} new, "
        f"{written.duplicates} already stored",
        markup=False,
    )
    if report.error_count:
        raise typer.Exit(EXIT_PARTIAL)
