"""Render a `dashboard.report.Postmortem` as Markdown or as one self-contained HTML file.

Both read without gapwatch: Markdown is plain GitHub-flavoured tables with a link to the
dashboard's view of the same span; HTML carries the lanes figure with plotly.js inlined (no
network, no CDN), so it opens from a mail attachment or an incident channel. Pure: data in, text
out; the figure comes from the dashboard's own builder (dashboard.lanes), so the report and the
dashboard draw the same picture.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from urllib.parse import urlencode

from gapwatch.dashboard.inert import html_text, md, md_sentence, plotly_text
from gapwatch.dashboard.report import Postmortem, Recommendation, ServiceReport
from gapwatch.dashboard.style import format_seconds
from gapwatch.recorder.timefmt import format_time, from_micros
from gapwatch.replay.model import LagStats, Window
from gapwatch.replay.openness import DECIDERS, SHORTEST_LOOK_S

WINDOW_HEAD = ("node", "class", "start (UTC)", "end (UTC)", "duration", "range", "evidence",
               "lanes", "failed requests")  # fmt: skip
LAG_HEAD = ("lag", "measurements", "p50", "p90", "max")
ADVICE_HEAD = ("setting", "value", "rests on")
#: what introduces `Advice.knobs`: where each advised setting is set on this platform
KNOBS_HEAD = "Where to set them on this platform, and what each number rests on:"


def _t(us: int | None) -> str:
    return "-" if us is None else format_time(from_micros(us)).replace("T", " ")


def _short_t(us: int) -> str:
    """`00:01:03.1`: the time of day to a tenth of a second (the date is in the heading)."""
    return format_time(from_micros(us))[11:21]


def evidence(win: Window) -> str:
    """`proven` when the samples leave no doubt the window happened, else `possible`."""
    return "proven" if win.certain else "possible"


def impact(win: Window) -> str:
    return "no access-log data" if win.failed_requests is None else str(win.failed_requests)


def window_cells(win: Window) -> tuple[str, ...]:
    """One window as the report's table shows it, numbers rounded for people."""
    return (
        win.node,
        win.class_text,
        _short_t(win.start_us),
        _short_t(win.end_us),
        format_seconds(win.duration_s),
        f"{win.duration_min_s:.1f}-{win.duration_max_s:.1f} s",
        evidence(win),
        win.provenance,
        impact(win),
    )


#: possible windows the report explains one by one (in time order); the others are counted
OPEN_SHOWN = 10


def open_summary(section: ServiceReport) -> str:
    """How many possible windows a shorter probe or poll interval would have put a look
    inside, by which; empty without a possible window."""
    why = section.openness
    if not why:
        return ""
    n = len(why)
    them = "them" if n != 1 else "it"
    head = (
        f"{n} possible window{'s' if n != 1 else ''}: the samples allow {them}, not prove {them}."
    )
    counts = Counter(kind for o in why.values() for kind, _text in o.decide)
    helped = sum(1 for o in why.values() if o.decide)
    narrow = sum(1 for o in why.values() if not o.decide and o.width_s < SHORTEST_LOOK_S)
    parts = []
    kinds = ", ".join(f"{DECIDERS[k]}: {c}" for k, c in counts.most_common())
    if helped:
        parts.append(f"denser sampling would have put a look inside {helped} ({kinds})")
    if n - helped - narrow:
        parts.append(f"looks already fell inside {n - helped - narrow}")
    if narrow:
        parts.append(f"{narrow} {'are' if narrow != 1 else 'is'} narrower than any look")
    if n != 1:
        return f"{head} Of them: {'; '.join(parts)}."
    if helped:
        return f"{head} Denser sampling would have put a look inside it ({kinds})."
    if narrow:
        return f"{head} It is narrower than any look."
    return (
        f"{head} Looks already fell inside it: only the two reactions' own times would decide it."
    )


def open_lines(section: ServiceReport) -> list[str]:
    """One sentence per possible window (the first `OPEN_SHOWN` in time order), then how many
    more there are."""
    why = section.openness
    shown = sorted(why, key=lambda w: (w.start_us, w.node))
    out = []
    for w in shown[:OPEN_SHOWN]:
        o = why[w]
        out.append(
            f"{w.node}, {_short_t(w.start_earliest_us)}-{_short_t(w.end_latest_us)}, "
            f"{w.class_text}: {o.sentence}"
        )
    if len(shown) > OPEN_SHOWN:
        out.append(f"... and {len(shown) - OPEN_SHOWN} more possible windows.")
    return out


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def lag_cells(lag: LagStats) -> tuple[str, ...]:
    return (lag.name, str(lag.samples), _num(lag.p50), _num(lag.p90), _num(lag.max))


def advice_cells(rec: Recommendation) -> tuple[str, ...]:
    value = ("on" if rec.value else "off") if isinstance(rec.value, bool) else f"{rec.value:g} s"
    if rec.basis:
        rests = ", ".join(
            f"{name} ({n} measurement{'s' if n != 1 else ''})" for name, n in rec.basis
        )
    else:
        rests = "the closing-side windows observed"
    return (rec.label, value, rests)


def advice_intro(sec: ServiceReport) -> str:
    """What the advice answers for (the span's windows, or every recorded one) and its counts."""
    advice = sec.advice
    counts = f"{advice.windows_before} windows observed, {advice.windows_after} left when the"
    if sec.advice_span is None:
        return (
            f"Folded over everything recorded for this Service: {counts} recorded timeline is "
            "replayed under the settings below."
        )
    lo, hi = sec.advice_span
    svc = sec.service
    scope = f"the windows of this span ({_t(lo)} to {_t(hi)})"
    if sec.owner is not None:  # replay's grouping, as the listed windows (replay.owned)
        scope = (
            f"the windows of this {sec.owner.kind.replace('-', ' ')}, over its range ({_t(lo)} "
            f"to {_t(hi)}: to its end plus settle_s, as the What-if page reads it)"
        )
    return (
        f"For {scope}: {counts} span's recorded "
        "timeline is replayed under the settings below. The lags it rests on are the "
        "Service's, measured over everything recorded. For every window ever recorded, "
        "render with `--advice-over history`, or run `gapwatch advise --service "
        f"{svc.namespace}/{svc.name} --cluster {svc.cluster}`."
    )


def dashboard_link(base: str, report: Postmortem, section: ServiceReport) -> str:
    """A deep link to the dashboard's rollout page showing the same Service and span."""
    params = {"page": "rollout", "cluster": section.service.cluster,
              "service": section.service.key}  # fmt: skip
    if report.rollout is not None:
        params["rollout"] = report.rollout.id
    if report.since_us is not None:
        params["since"] = format_time(from_micros(report.since_us))
    if report.until_us is not None:
        params["until"] = format_time(from_micros(report.until_us))
    return base.rstrip("/") + "/?" + urlencode(params)


def summary(section: ServiceReport) -> str:
    """One sentence: how many windows, how many proven, how long in total, what they cost."""
    wins = section.windows
    if not wins and not any(s.lane == "lb" for s in section.segments):
        # a Service with a rollout and no LB lane: the line below claimed what nothing recorded
        return (
            "No gap windows could be seen: nothing recorded which nodes the load balancer routed "
            "to (no LB poller, CloudTrail, push API or service-controller Event)."
        )
    if not wins and section.neighbours:
        # "the LB never routed to a node that did not serve" is false: other groups' windows did
        n = sum(g.windows for g in section.neighbours)
        return (
            f"No gap window of its own: replay gave the {n} in this span to other groups (below)."
        )
    if not wins:
        return "No gap windows: the load balancer never routed to a node that did not serve."
    proven = sum(1 for w in wins if w.certain)
    lo = sum(w.duration_min_s for w in wins)
    hi = sum(w.duration_max_s for w in wins)
    nodes = len({w.node for w in wins})
    failed = [w.failed_requests for w in wins if w.failed_requests is not None]
    cost = f"; {sum(failed)} failed requests in the access logs" if failed else ""
    return (
        f"{len(wins)} gap window{'s' if len(wins) != 1 else ''} on {nodes} "
        f"node{'s' if nodes != 1 else ''} ({proven} proven, {len(wins) - proven} possible), "
        f"{format_seconds(sum(w.duration_s for w in wins))} in total "
        f"(between {lo:.1f} and {hi:.1f} s given the sampling){cost}."
    )


def neighbours_line(section: ServiceReport) -> str:
    """How many windows of other groups overlap a rollout's span, and whose; empty without
    one. The report lists and advises on the rollout's own windows only (replay.owned)."""
    groups = section.neighbours
    if not groups:
        return ""
    n = sum(g.windows for g in groups)
    parts = [
        f"{g.windows} to no rollout or disruption"
        if g.group is None
        else f"{g.windows} to {g.group}"
        + (f" ({g.label}: `gapwatch report --rollout {g.group}`)" if g.label else "")
        for g in groups
    ]
    return (
        f"{n} other gap window{'s' if n != 1 else ''} of this Service overlap this span, not "
        f"listed here nor counted by the advice: replay gave {_and(parts)}."
    )


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _scope(report: Postmortem) -> str:
    if report.rollout is not None:
        r = report.rollout
        change = (
            f"{r.revision_from or '?'} to {r.revision_to or '?'}"
            if r.kind == "rollout"
            else ("nodes " + ", ".join(r.nodes))
        )
        return f"{r.kind} of {r.workload} ({change}), {_t(r.start_us)} to {_t(r.end_us)} UTC"
    since, until = report.since_us, report.until_us
    if since is None and until is None:
        return "everything recorded"
    if until is None:  # not "X to -": an open end says so
        return f"from {_t(since)} UTC on"
    if since is None:
        return f"up to {_t(until)} UTC"
    return f"{_t(since)} to {_t(until)} UTC"


# ---- Markdown ---------------------------------------------------------------------------------


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return lines


def to_markdown(report: Postmortem, *, dashboard_url: str = "http://127.0.0.1:8501") -> str:
    """The report as GitHub-flavoured Markdown."""
    out = [f"# {md(report.title)}", "", f"Scope: {md(_scope(report))}.", ""]
    if not report.sections:
        out += ["No LB-facing Service had a gap window or a rollout in this span.", ""]
        out += [md_sentence(report.note), ""] if report.note else []  # it may name targets
    for sec in report.sections:
        svc = sec.service
        out += [f"## {md(svc.key)} in cluster {md(svc.cluster)}", "", summary(sec), ""]
        out += ["### What happened", ""]
        if sec.windows:
            out += [*_md_table(WINDOW_HEAD, [window_cells(w) for w in sec.windows]), ""]
            out += [
                "*proven*: the samples show the load balancer routing while the node did not "
                "serve; *possible*: the samples allow it but do not prove it (shortest 0 s).",
                "",
            ]
        out += [md_sentence(neighbours_line(sec)), ""] if sec.neighbours else []
        out += [f"**Note: {md_sentence(sec.kept_note)}.**", ""] if sec.kept_note else []
        if sec.openness or sec.dropped_note:
            out += ["### Why the possible windows are possible", ""]
            for said in (open_summary(sec), sec.dropped_note):
                out += [md_sentence(said), ""] if said else []
            out += [f"- {md(line)}" for line in open_lines(sec)] + [""]
        link = dashboard_link(dashboard_url, report, sec)
        out += [
            f"Lanes per node (endpoints, proxy, lb, pod): [open in the dashboard]({link}), "
            "or render this report with `--format html` for the figure.",
            "",
            "### Measured lags",
            "",
        ]
        out += [*_md_table(LAG_HEAD, [lag_cells(lag) for lag in sec.lags]), ""]
        out += ["### Advice", ""]
        out += _advice_md(sec)
    return "\n".join(out).rstrip() + "\n"


def _advice_md(sec: ServiceReport) -> list[str]:
    advice = sec.advice
    out = [md_sentence(advice_intro(sec)), ""]
    out += [f"**{md_sentence(sec.advice_note)}.**", ""] if sec.advice_note else []
    if sec.recommendations:
        out += [*_md_table(ADVICE_HEAD, [advice_cells(r) for r in sec.recommendations]), ""]
    else:
        out += ["Nothing to change.", ""]
    if advice.knobs:
        out += [KNOBS_HEAD, "", *(f"- {knob}" for knob in advice.knobs), ""]
    out += [f"- {note}" for note in advice.notes]
    return [*out, ""]


# ---- HTML -------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}
th{background:#f2f2f2}
td.proven{font-weight:600;color:#b00020}
td.possible{color:#555;font-style:italic}
.note{color:#555;font-size:.9em}
"""


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], classes: bool = False) -> str:
    parts = ["<table><thead><tr>"]
    parts += [f"<th>{html_text(h)}</th>" for h in head]
    parts.append("</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>")
        for cell in row:
            cls = f' class="{cell}"' if classes and cell in ("proven", "possible") else ""
            parts.append(f"<td{cls}>{html_text(cell)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


#: Seen around the reported span in the figure, so the lanes show what led in and out.
FIGURE_MARGIN_US = 15_000_000


def _code_html(text: str) -> str:
    """Escaped HTML of a sentence, its `commands` as <code> (as Markdown would show them)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html_text(text))


def _figure_html(report: Postmortem, sec: ServiceReport, first: bool) -> str:
    from gapwatch.dashboard.lanes import lane_timeline
    from gapwatch.dashboard.style import us_to_iso

    if not sec.segments and not sec.windows:
        return "<p>No lane data in this span.</p>"
    fig = lane_timeline(
        sec.segments,
        sec.windows,
        title=plotly_text(f"{sec.service.cluster} · {sec.service.key}: lanes per node (UTC)"),
    )
    stamps = [w.start_us for w in sec.windows] + [w.end_us for w in sec.windows]
    lo = report.since_us if report.since_us is not None else min(stamps, default=None)
    hi = report.until_us if report.until_us is not None else max(stamps, default=None)
    if lo is not None and hi is not None and hi - lo < 6 * 3600 * 1_000_000:
        # a rollout (or a short range): zoom to it; the segments reach beyond it
        fig.update_xaxes(range=[us_to_iso(lo - FIGURE_MARGIN_US), us_to_iso(hi + FIGURE_MARGIN_US)])
    # plotly.js is inlined once (the first figure); later figures reuse it
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=bool(first),
            config={"displaylogo": False},
        )
    )


def to_html(report: Postmortem, *, dashboard_url: str = "http://127.0.0.1:8501") -> str:
    """The report as one HTML file with the lanes figure and plotly.js embedded."""
    e = html_text
    body = [f"<h1>{e(report.title)}</h1>", f"<p>Scope: {e(_scope(report))}.</p>"]
    if not report.sections:
        body.append("<p>No LB-facing Service had a gap window or a rollout in this span.</p>")
        body += [f"<p>{e(report.note)}</p>"] if report.note else []
    for i, sec in enumerate(report.sections):
        svc = sec.service
        link = dashboard_link(dashboard_url, report, sec)
        body += [
            f"<h2>{e(svc.key)} in cluster {e(svc.cluster)}</h2>",
            f"<p>{e(summary(sec))}</p>",
            "<h3>What happened</h3>",
        ]
        if sec.windows:
            body.append(_html_table(WINDOW_HEAD, [window_cells(w) for w in sec.windows], True))
            body.append(
                '<p class="note"><b>proven</b>: the samples show the load balancer routing while '
                "the node did not serve; <i>possible</i>: the samples allow it but do not prove "
                "it (shortest 0 s). In the figure, proven windows are solid, possible ones "
                "hatched.</p>"
            )
        if sec.neighbours:
            body.append(f'<p class="note">{_code_html(neighbours_line(sec))}</p>')
        if sec.kept_note:
            body.append(f"<p><b>Note: {e(sec.kept_note)}.</b></p>")
        if sec.openness or sec.dropped_note:
            items = "".join(f"<li>{e(x)}</li>" for x in open_lines(sec))
            said = "".join(f"<p>{e(x)}</p>" for x in (open_summary(sec), sec.dropped_note) if x)
            body += ["<h3>Why the possible windows are possible</h3>", said,
                     f"<ul>{items}</ul>" if items else ""]  # fmt: skip
        body.append(_figure_html(report, sec, i == 0))
        body.append(f'<p class="note"><a href="{e(link)}">Open this in the dashboard</a></p>')
        body += ["<h3>Measured lags</h3>",
                 _html_table(LAG_HEAD, [lag_cells(lag) for lag in sec.lags]),
                 "<h3>Advice</h3>"]  # fmt: skip
        advice = sec.advice
        body.append(f"<p>{_code_html(advice_intro(sec))}</p>")
        if sec.advice_note:
            body.append(f"<p><b>{e(sec.advice_note)}.</b></p>")
        if sec.recommendations:
            body.append(_html_table(ADVICE_HEAD, [advice_cells(r) for r in sec.recommendations]))
        else:
            body.append("<p>Nothing to change.</p>")
        if advice.knobs:
            knobs = "".join(f"<li>{e(k)}</li>" for k in advice.knobs)
            body += [f"<p>{e(KNOBS_HEAD)}</p>", f"<ul>{knobs}</ul>"]
        if advice.notes:
            body.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in advice.notes) + "</ul>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
