"""Replay commands: gaps, rollouts, timeline, advise, replay; dashboard.cli registers them.

The replay engine (`api`, `projections`) is imported when a command runs, never at import:
`gapwatch --help` does not load it.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gapwatch.recorder.cliutil import (
    DEFAULT_URL,
    SINCE_HELP,
    UNTIL_HELP,
    ClusterOption,
    CsvFlag,
    DbOption,
    FormatOption,
    JsonFlag,
    OutputFormat,
    check_data_in_range,
    emit_rows,
    open_store,
    pick_format,
    stderr,
    step_progress,
    time_option,
)
from gapwatch.recorder.timefmt import format_time, from_micros, to_micros

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gapwatch.replay.model import Segment, ServiceRef, Window
    from gapwatch.replay.openness import Openness
    from gapwatch.replay.untied import Untied

#: How `gaps` names the node of failed requests that no Node's address matches (replay.untied).
UNKNOWN_NODE = "unknown"
UNTIED_CLASS = "untied-failures"

WINDOW_COLUMNS = [
    "cluster", "service", "node", "class", "start", "end", "duration_s", "duration_min_s",
    "duration_max_s", "provenance", "certain", "rollout", "failed_requests", "opened_by",
    "closed_by", "start_earliest", "start_latest", "end_earliest", "end_latest", "failed_at",
    "also",
]  # fmt: skip
ServiceOption = Annotated[str | None, typer.Option("--service", help="Only NAMESPACE/NAME.")]
SinceOption = Annotated[str | None, typer.Option(help=SINCE_HELP)]
UntilOption = Annotated[str | None, typer.Option(help=UNTIL_HELP)]
WideFlag = Annotated[
    bool, typer.Option("--wide", help="Every column, full names (tables fit the terminal).")
]


def register(app: typer.Typer) -> None:
    """Add the replay commands to the root `gapwatch` app."""
    app.command("gaps")(gaps)
    app.command("rollouts")(rollouts)
    app.command("timeline")(timeline)
    app.command("advise")(advise)
    app.command("replay")(replay)


def _t(us: int) -> str:
    return format_time(from_micros(us))


def window_dict(w: Window) -> dict[str, Any]:
    """The JSON form of a window (its fields are listed in docs/semantics.md)."""
    return {
        "cluster": w.service.cluster,
        "service": w.service.key,
        "node": w.node,
        "class": w.cls,
        "start": _t(w.start_us),
        "end": _t(w.end_us),
        "duration_s": round(w.duration_s, 6),
        "duration_min_s": round(w.duration_min_s, 6),
        "duration_max_s": round(w.duration_max_s, 6),
        "provenance": w.provenance,
        "certain": w.certain,
        "rollout": w.rollout,
        "failed_requests": w.failed_requests,
        "opened_by": list(w.opened_by),
        "closed_by": list(w.closed_by),
        "start_earliest": _t(w.start_earliest_us),
        "start_latest": _t(w.start_latest_us),
        "end_earliest": _t(w.end_earliest_us),
        "end_latest": _t(w.end_latest_us),
        "also": list(w.also),
    }


def untied_dict(u: Untied) -> dict[str, Any]:
    """A `gaps --json` row for failed requests tied to no node (replay.untied): node `unknown`,
    class `untied-failures`, `failed_requests` their count, `failed_at` their times, `start` and
    `end` the first and last; no durations (they are not a window)."""
    first, last = u.times_us[0], u.times_us[-1]
    return {
        "cluster": u.cluster,
        "service": u.service.key if u.service is not None else None,
        "node": UNKNOWN_NODE,
        "class": UNTIED_CLASS,
        "start": _t(first),
        "end": _t(last),
        "duration_s": None,
        "duration_min_s": None,
        "duration_max_s": None,
        "provenance": "measured",
        "certain": False,
        "rollout": None,
        "failed_requests": u.count,
        "opened_by": [],
        "closed_by": [],
        "start_earliest": _t(first),
        "start_latest": _t(first),
        "end_earliest": _t(last),
        "end_latest": _t(last),
        "failed_at": [_t(t) for t in u.times_us],
        "also": [],
    }


def service_named(engine: Any, value: str | None, cluster: str | None) -> ServiceRef:
    """The one LB-facing Service `--service`/`--cluster` name (a usage error naming the
    candidates when they name none or several, each as the options take it: `NS/NAME`, with
    `--cluster C` where more than one cluster is listed; `C:NS/NAME` was refused by --service)."""
    from gapwatch.replay import api

    known = [s for s in api.services(engine) if cluster is None or s.cluster == cluster]
    if value is not None:
        known = [s for s in known if s.key == value]
    if len(known) != 1:
        names = ", ".join(as_options(known)) or "none"
        raise typer.BadParameter(
            f"choose one LB-facing Service with --service/--cluster (found: {names})",
            param_hint="--service",
        )
    return known[0]


def as_options(services: list[ServiceRef]) -> list[str]:
    """Each Service as `--service` takes it, with its `--cluster` where the list spans several
    (one to paste)."""
    if len({s.cluster for s in services}) <= 1:
        return [s.key for s in services]
    return [f"{s.key} (--cluster {s.cluster})" for s in services]


def gaps(
    db: DbOption = DEFAULT_URL,
    cluster: ClusterOption = None,
    service: ServiceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    wide: WideFlag = False,
    why: Annotated[
        bool,
        typer.Option(
            "--why",
            help="Say why each possible window is only possible and what denser sampling would "
            "have done (reads each such Service's samples: seconds to a minute on a large store).",
        ),
    ] = False,
) -> None:
    """List gap windows: the LB routed to a node that did not serve the Service.

    Access-log failures tied to no node follow as `unknown` node rows (class untied-failures).
    --why adds, per possible window, the side the samples left open, the looks around each
    lane's change and the shorter probe or poll interval that would have put a look inside it
    (docs/semantics.md, "Why a possible window is possible")."""
    # at run time: --help stays light
    from gapwatch.replay import api, cli_checks, cli_tables
    from gapwatch.replay import untied as untied_mod

    engine, lo, hi = cli_checks.open_checked(
        db, cluster=cluster, service=service, since=since, until=until
    )
    found = api.windows(engine, cluster=cluster, service=service, since=lo, until=hi)
    untied = untied_mod.untied_failures(
        engine,
        cluster=cluster,
        service=service,
        since_us=None if lo is None else to_micros(lo),
        until_us=None if hi is None else to_micros(hi),
    )
    if not found and not untied:
        check_data_in_range(engine, lo, hi, cluster)
    _say_kept(api.retention_kept_note(engine, found))
    chosen = pick_format(fmt, as_json, as_csv)
    reasons = _open_reasons(engine, found) if why else {}
    lanes = None if found else cli_checks.lb_lanes(engine, cluster=cluster, service=service)
    unplaced = (
        cli_checks.unplaced_targets(engine, cluster=cluster, service=service) if lanes == 0 else 0
    )
    if chosen is OutputFormat.table:
        cli_tables.print_windows(found, wide=wide, lb_lanes=lanes, unplaced=unplaced)
        dropped = api.retention_dropped(engine, found)[1] if why else ""
        cli_tables.print_open(found, reasons, dropped)
        cli_tables.print_untied(untied)
        return
    if lanes == 0:
        # `[]` alone read as an LB that never misrouted to a script, as the table once did to a
        # person: stdout stays the answer, stderr says none could be seen
        blind = cli_tables.unplaced_lb(unplaced) if unplaced else cli_tables.NO_LB_LANE
        stderr.print(f"note: {blind}", markup=False, soft_wrap=True)
    rows = [window_dict(w) | (_open_fields(reasons.get(w)) if why else {}) for w in found]
    rows += [untied_dict(u) for u in untied]
    if chosen is not OutputFormat.json:
        for r in rows:
            r["opened_by"] = " ".join(str(i) for i in r["opened_by"])
            r["closed_by"] = " ".join(str(i) for i in r["closed_by"])
            r["failed_at"] = " ".join(r.get("failed_at") or ())
            r["also"] = " ".join(r.get("also") or ())
    columns = WINDOW_COLUMNS + (OPEN_COLUMNS if why else [])
    emit_rows(rows, columns, chosen, title="gap windows")


def _say_kept(note: str) -> None:
    """The note on rows kept from a span retention dropped (api.retention_kept_note), one line
    on stderr (stdout stays the answer, --json included); nothing when empty."""
    if note:
        stderr.print(f"note: {note}", markup=False, soft_wrap=True)


#: `gaps --why --json/--csv`: the fields replay.openness adds to a possible window (empty for a
#: proven one)
OPEN_COLUMNS = ["open_side", "open_kube_proxy", "open_lb", "denser"]


def _open_reasons(engine: Engine, found: list[Window]) -> dict[Window, Openness]:
    """replay.openness for every possible window among `found`: one fold per such Service."""
    from gapwatch.replay import api

    services = sorted({w.service for w in found if not w.certain})
    reasons: dict[Window, Openness] = {}
    for i, svc in enumerate(services, start=1):
        print(f"reading the samples of {svc.cluster}/{svc.key} ({i}/{len(services)})",
              file=sys.stderr)  # fmt: skip
        reasons.update(api.openness(engine, svc, found))
    return reasons


def _open_fields(o: Openness | None) -> dict[str, object]:
    if o is None:
        return dict.fromkeys(OPEN_COLUMNS)
    return {"open_side": o.side, "open_kube_proxy": o.kube_proxy, "open_lb": o.lb,
            "denser": o.denser}  # fmt: skip


def rollouts(
    db: DbOption = DEFAULT_URL,
    cluster: ClusterOption = None,
    service: ServiceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    wide: WideFlag = False,
) -> None:
    """List rollouts and node disruptions with their windows and gap-seconds.

    --json/--csv count the windows by class (`windows_by_class`), how many of them are undecided
    (`undecided`) and by class as `gaps` words it (`windows_by_class_text`).
    """
    from gapwatch.replay import api, cli_checks, cli_tables  # at run time: --help stays light

    engine, lo, hi = cli_checks.open_checked(
        db, cluster=cluster, service=service, since=since, until=until
    )
    found = api.rollouts(engine, cluster=cluster, service=service, since=lo, until=hi)
    if not found:
        check_data_in_range(engine, lo, hi, cluster)
    _say_kept(api.retention_kept_note(engine, [w for r in found for w in r.windows], found))
    if pick_format(fmt, as_json, as_csv) is OutputFormat.table:
        cli_tables.print_rollouts(found, wide=wide)
        cli_tables.print_outside(
            api.windows(engine, cluster=cluster, service=service, since=lo, until=hi)
        )
        return
    rows = []
    for r in found:
        by_class = Counter(w.cls for w in r.windows)
        by_text = Counter(w.class_text for w in r.windows)
        worst = max(r.windows, key=lambda w: w.duration_s, default=None)
        failed = [w.failed_requests for w in r.windows if w.failed_requests is not None]
        rows.append(
            {
                "id": r.id, "cluster": r.service.cluster, "service": r.service.key,
                "kind": r.kind, "workload": r.workload, "revision_from": r.revision_from,
                "revision_to": r.revision_to, "start": _t(r.start_us), "end": _t(r.end_us),
                "windows": len(r.windows),
                "windows_by_class": " ".join(f"{k}={v}" for k, v in sorted(by_class.items())),
                "undecided": sum(1 for w in r.windows if w.also),
                "windows_by_class_text": "; ".join(f"{k}={v}" for k, v in sorted(by_text.items())),
                "gap_seconds": round(r.gap_seconds, 6),
                "worst_window_s": round(worst.duration_s, 6) if worst else 0.0,
                "worst_window_node": worst.node if worst else None,
                "nodes": ",".join(r.nodes), "failed_requests": sum(failed) if failed else None,
            }
        )  # fmt: skip
    chosen = pick_format(fmt, as_json, as_csv)
    columns = list(rows[0]) if rows else ["id", "cluster", "service", "kind", "start", "end"]
    emit_rows(rows, columns, chosen, title="rollouts")


def _segment_row(s: Segment) -> dict[str, Any]:
    return {
        "node": s.node,
        "lane": s.lane,
        "state": s.state,
        "start": _t(s.start_us),
        "end": _t(s.end_us) if s.end_us is not None else None,
        "start_earliest": _t(s.start_earliest_us),
        "provenance": s.provenance,
        "event_id": s.event_id,
    }


def timeline(
    db: DbOption = DEFAULT_URL,
    cluster: ClusterOption = None,
    service: ServiceOption = None,
    node: Annotated[list[str] | None, typer.Option("--node", help="Only these nodes.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="The state of every lane at T (as --since takes it).")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    wide: WideFlag = False,
) -> None:
    """Show the lanes (endpoints, proxy, lb, pod, node) of a Service's nodes, or the state at T."""
    from gapwatch.replay import api, cli_checks, cli_tables  # at run time: --help stays light

    moment = time_option(at, "--at")  # a bad time first: it was reported after --service
    engine, lo, hi = cli_checks.open_checked(
        db, cluster=cluster, service=service, since=since, until=until, nodes=node
    )
    svc = service_named(engine, service, cluster)
    if moment is not None:
        segs = [s for s in api.state_at(engine, svc, moment) if not node or s.node in node]
    else:
        segs = api.timeline(engine, svc, since=lo, until=hi, nodes=node)
    start = moment if moment is not None else lo
    gone = api.retention_lanes_note(engine, svc, None if start is None else to_micros(start), segs)
    if not segs and not gone:  # --at before the first event, or a range outside the data
        if moment is not None:
            check_data_in_range(engine, None, moment, svc.cluster, until_option="--at")
        check_data_in_range(engine, lo, hi, svc.cluster)
    _say_kept(gone)  # not "nothing recorded": recorded, then dropped (docs/retention.md)
    if pick_format(fmt, as_json, as_csv) is OutputFormat.table:
        if not segs and gone:
            return
        if not segs:  # an empty table of headers said nothing
            where = "at the time given" if moment is not None else "in the range asked"
            if moment is None and lo is None and hi is None:
                where = "in the store"
            nodes = f" on {', '.join(node)}" if node else ""
            print(
                f"no lanes of {svc.key}, cluster {svc.cluster}{nodes}, {where}: nothing recorded "
                "places its endpoints, pods, kube-proxy or load balancer on a node"
            )
            return
        cli_tables.print_segments(segs, f"lanes of {svc.key}", wide=wide)
        return
    rows = [_segment_row(s) for s in segs]
    columns = ["node", "lane", "state", "start", "end", "start_earliest", "provenance", "event_id"]
    emit_rows(rows, columns, pick_format(fmt, as_json, as_csv), title=svc.key)


def advise(
    db: DbOption = DEFAULT_URL,
    cluster: ClusterOption = None,
    service: ServiceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the advice as JSON.")] = False,
    wide: WideFlag = False,
) -> None:
    """Measured lags and the smallest settings that would have closed every observed window."""
    from dataclasses import asdict

    import orjson

    from gapwatch.replay import api, cli_checks, cli_tables

    engine = open_store(db)
    cli_checks.check_filters(engine, cluster=cluster, service=service)
    svc = service_named(engine, service, cluster)
    advice = api.advise(engine, svc)
    proof = api.whatif(engine, svc, advice.settings)
    settings = {k: v for k, v in asdict(advice.settings).items() if v is not None}
    notes = list(advice.notes)
    blind = cli_checks.blind_note(
        engine, cluster=svc.cluster, service=svc.key, windows=advice.windows_before
    )
    if blind:
        notes.insert(0, blind)
    # after a retention the projections keep windows the replay that advises no longer holds
    held = api.windows(engine, service=svc)
    for said in (
        api.retention_advice_note(engine, svc, held),
        api.retention_kept_note(engine, held),
    ):
        if said:
            notes.insert(0, said)
    doc = {
        "cluster": svc.cluster,
        "service": svc.key,
        "lags": [asdict(lag) for lag in advice.lags],
        "settings": settings,
        "windows_before": advice.windows_before,
        "windows_after": advice.windows_after,
        "whatif_windows": [window_dict(w) for w in proof],
        "notes": notes,
        "knobs": list(advice.knobs),
    }
    if as_json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    cli_tables.print_lags(
        advice.lags, f"measured lags, cluster {svc.cluster}, {svc.key}", wide=wide
    )
    print(f"windows observed: {advice.windows_before}" + (" (none could be seen)" if blind else ""))
    print("recommended: " + (", ".join(f"{k}={v}" for k, v in settings.items()) or "nothing"))
    print(f"windows under the recommendation (what-if): {advice.windows_after}")
    for knob in advice.knobs:
        print(f"knob: {knob}")
    for note in notes:
        print(f"note: {note}")


def replay(
    db: DbOption = DEFAULT_URL,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute every projection from scratch.")
    ] = False,
    rederive: Annotated[
        bool, typer.Option("--rederive", help="With --rebuild: re-derive facts from events too.")
    ] = False,
    forget_dropped: Annotated[
        bool,
        typer.Option(
            "--forget-dropped",
            help="With --rebuild: also delete the windows, rollouts and lag samples that lie "
            "before the first event the store still holds of their cluster (an earlier build "
            "computed them from events retention (`gapwatch db maintain`) dropped since; "
            "nothing can compute them again). Without it a rebuild keeps them.",
        ),
    ] = False,
) -> None:
    """Update the window/rollout projections (incrementally, or from scratch with --rebuild).

    Each step runs in one transaction: Ctrl-C rolls it back, leaves the projections as they were
    and says so; running the same command again starts it over. An incremental run continues
    from the fold state the last one saved (beside a SQLite store, else under
    ~/.cache/gapwatch/checkpoints): it folds only the new facts; --rebuild drops that state.
    Each step shows its progress on stderr (a bar in a terminal; in a log, a line at most
    every 10 s, none for a step that ends sooner).
    """
    from gapwatch.recorder.interrupt import rolled_back_on_interrupt
    from gapwatch.replay import checkpoint_file, cli_checks, projections
    from gapwatch.replay.catchup import catch_up

    if forget_dropped and not rebuild:
        raise typer.BadParameter("only with --rebuild", param_hint="--forget-dropped")
    engine = open_store(db)
    command = (
        "gapwatch replay"
        + (" --rebuild" if rebuild else "")
        + (" --rederive" if rederive else "")
        + (" --forget-dropped" if forget_dropped else "")
    )

    if rederive and rebuild:  # two transactions: the facts first, then the projections
        what = "the step in flight (re-deriving the facts, or rebuilding the projections)"
    else:
        what = "the rebuild" if rebuild else "the refresh"

    def holds() -> str:
        from sqlalchemy import func, select

        from gapwatch.recorder.store import translate_errors
        from gapwatch.replay.tables import replay_windows

        query = select(func.count()).select_from(replay_windows)
        with translate_errors(engine), engine.connect() as conn:
            return f"the projections hold {conn.execute(query).scalar_one()} windows"

    with rolled_back_on_interrupt(engine, what, holds, f"run `{command}` again"):
        catch_up(engine, track=step_progress)
        if rebuild:
            checkpoint_file.forget(engine)
            count = projections.rebuild(
                engine, rederive=rederive, track=step_progress, forget_dropped=forget_dropped
            )
            stderr.print(f"rebuilt: {count} windows")
        else:
            done = checkpoint_file.refresh(engine, persist=True, track=step_progress)
            stderr.print(f"processed {done} new events")
    if not rederive:
        cli_checks.say_derived_by_other_code(engine)
