"""`gapwatch report` on the seed demo store: a Markdown and an HTML postmortem a person can read
without gapwatch.

Both files are parsed with the standard library only (Markdown tables split on `|`, HTML with
html.parser), as a reader with no gapwatch installed would see them. Expected values come from the
replay API on the same store, never from the report itself.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.dashboard.demo import DemoStore, build_demo_store
from gapwatch.dashboard.report_render import KNOBS_HEAD
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.timefmt import format_time, from_micros
from gapwatch.replay import api
from gapwatch.replay.model import Rollout, ServiceRef, Window
from gapwatch.replay.rollout_range import rollout_range


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return build_demo_store(tmp_path_factory.mktemp("report") / "demo.db")


@pytest.fixture(scope="module")
def store(demo: DemoStore) -> Iterator[Engine]:
    engine = make_engine(demo.url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def seed_rollout(store: Engine) -> Rollout:
    found = [r for r in api.rollouts(store, cluster="seed") if r.kind == "rollout"]
    assert len(found) == 1, "the seed scenario has one rollout"
    assert found[0].windows, "and it has gap windows"
    return found[0]


def to_text(us: int) -> str:
    """A time as the report writes it."""
    return format_time(from_micros(us)).replace("T", " ")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def md_tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table as a list of {header: cell} rows."""
    tables: list[list[dict[str, str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            head = [c.strip() for c in lines[i].strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("| "):
                rows.append(
                    dict(
                        zip(head, (c.strip() for c in lines[i].strip("|").split("|")), strict=False)
                    )
                )
                i += 1
            tables.append(rows)
        else:
            i += 1
    return tables


def expected_row(w: Window) -> dict[str, str]:
    return {
        "node": w.node,
        "class": w.class_text,
        "range": f"{w.duration_min_s:.1f}-{w.duration_max_s:.1f} s",
        "evidence": "proven" if w.certain else "possible",
        "failed requests": (
            "no access-log data" if w.failed_requests is None else str(w.failed_requests)
        ),
    }


def test_markdown_report_of_the_seed_rollout(
    demo: DemoStore, store: Engine, seed_rollout: Rollout, tmp_path: Path
) -> None:
    out = tmp_path / "postmortem.md"
    code, _, err = run(
        "report", "--db", demo.url, "--rollout", seed_rollout.id, "--format", "md", "-o", str(out)
    )
    assert code == 0, err
    text = out.read_text()
    assert seed_rollout.id in text and "cluster seed" in text
    windows_table, lags_table, advice_table = md_tables(text)
    # what happened: one row per window, with class, duration range, proven/possible, impact
    mine = api.windows(
        store,
        service=seed_rollout.service,
        since=from_micros(seed_rollout.start_us),
        until=from_micros(seed_rollout.end_us),
    )
    assert {w.rollout for w in mine} == {seed_rollout.id}
    got = [{k: row[k] for k in expected_row(mine[0])} for row in windows_table]
    assert sorted(got, key=str) == sorted((expected_row(w) for w in mine), key=str)
    assert any(r["evidence"] == "proven" for r in windows_table)
    assert any(r["evidence"] == "possible" for r in windows_table)
    # an undecided class is worded as everywhere else, never as one confident class
    undecided = [w for w in mine if w.also]
    assert undecided
    assert sum(": undecided)" in r["class"] for r in windows_table) == len(undecided)
    # measured lags with their sample counts (the Service's, over everything recorded)
    # (the advice over the range the What-if page reads: replay.rollout_range)
    lo_us, hi_us = rollout_range(seed_rollout, api.assumptions(store))
    lo, hi = from_micros(lo_us), from_micros(hi_us)
    advice = api.advise(store, seed_rollout.service, since=lo, until=hi)
    history = api.advise(store, seed_rollout.service)
    assert advice.lags == history.lags
    assert {r["lag"]: int(r["measurements"]) for r in lags_table} == {
        lag.name: lag.samples for lag in advice.lags
    }
    # the advice names how many measurements each figure rests on
    samples = {lag.name: lag.samples for lag in advice.lags}
    prestop = next(r for r in advice_table if r["setting"] == "preStop sleep")
    assert prestop["value"] == f"{advice.settings.prestop_s:g} s"
    assert f"ccm-deregister ({samples['ccm-deregister']} measurement" in prestop["rests on"]
    delay = next(r for r in advice_table if r["setting"].startswith("CCM registration delay"))
    assert (
        f"kube-proxy-programming ({samples['kube-proxy-programming']} measurements"
        in (delay["rests on"])
    )
    # the advice answers for this rollout's windows, as the dashboard's rollout page does
    assert advice.windows_before == len(mine)
    start = to_text(seed_rollout.start_us)
    assert f"For the windows of this rollout, over its range ({start} to " in text
    assert f"{advice.windows_before} windows observed, {advice.windows_after} left" in text
    # and says where each setting is set on this platform (the knobs `gapwatch advise` prints)
    assert advice.knobs
    after_head = text.split(KNOBS_HEAD, 1)[1]
    for knob in advice.knobs:
        assert f"- {knob}" in after_head
    # the link opens the same view in the dashboard
    assert f"rollout={seed_rollout.id}" in text and "cluster=seed" in text


def test_advice_over_the_whole_history_on_request(
    demo: DemoStore, store: Engine, tmp_path: Path
) -> None:
    """`--advice-over history`: the settings that close every window recorded for the Service
    (what the report gave for a rollout before the span became the default). The aws cluster's
    rollout leaves one of its Service's windows outside its span."""
    (rollout,) = [r for r in api.rollouts(store, cluster="aws") if r.kind == "rollout"]
    history = api.advise(store, rollout.service)
    lo_us, hi_us = rollout_range(rollout, api.assumptions(store))  # what the span's advice reads
    lo, hi = from_micros(lo_us), from_micros(hi_us)
    span = api.advise(store, rollout.service, since=lo, until=hi)
    assert history.windows_before > span.windows_before > 0
    for over, advice in (("history", history), ("span", span)):
        out = tmp_path / f"{over}.md"
        args = ("report", "--db", demo.url, "--rollout", rollout.id, "-o", str(out))
        code, _, err = run(*args, "--advice-over", over)
        assert code == 0, err
        text = out.read_text()
        counts = f"{advice.windows_before} windows observed, {advice.windows_after} left"
        assert counts in text
        assert ("Folded over everything recorded for this Service" in text) is (over == "history")
        table = md_tables(text)[2]
        prestop = next(r for r in table if r["setting"] == "preStop sleep")
        assert prestop["value"] == f"{advice.settings.prestop_s:g} s"
    # the HTML shows the commands it names as code, not between backticks
    out = tmp_path / "span.html"
    code, _, err = run("report", "--db", demo.url, "--rollout", rollout.id, "-f", "html",
                       "-o", str(out))  # fmt: skip
    assert code == 0, err
    page = out.read_text()
    assert "<code>--advice-over history</code>" in page and "`--advice-over" not in page
    code, _, err = run("report", "--db", demo.url, "--rollout", rollout.id,
                       "--advice-over", "ever")  # fmt: skip
    assert code == 2 and "ever" in err


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.scripts_src: list[str] = []
        self.script_bytes = 0
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in = tag
        if tag == "script":
            self.scripts_src += [v or "" for k, v in attrs if k == "src"]

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in in ("td", "th"):
            self.cells.append(data.strip())
        elif self._in == "script":
            self.script_bytes += len(data)


def test_html_report_is_one_self_contained_file(
    demo: DemoStore, store: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "postmortem.html"
    code, _, err = run(
        "report", "--db", demo.url, "--since", "2026-01-01T00:00:00Z",
        "--until", "2026-01-02T00:00:00Z", "--format", "html", "-o", str(out),
    )  # fmt: skip
    assert code == 0, err
    page = _Html()
    text = out.read_text()
    page.feed(text)
    assert page.scripts_src == [], "nothing is fetched from elsewhere"
    assert page.script_bytes > 1_000_000, "plotly.js is inlined"
    assert text.count("Plotly.newPlot") == len(api.services(store))
    for w in api.windows(store):
        assert w.node in page.cells
        assert f"{w.duration_min_s:.1f}-{w.duration_max_s:.1f} s" in page.cells
    for svc in api.services(store):
        assert f"in cluster {svc.cluster}</h2>" in text
    # each possible window's reason, as the Markdown report gives it (escaped for HTML)
    found = api.windows(store)
    assert any(not w.certain for w in found)
    assert text.count("<h3>Why the possible windows are possible</h3>") == len(
        {w.service for w in found if not w.certain}
    )
    for svc in {w.service for w in found if not w.certain}:
        for o in api.openness(store, svc, found).values():
            assert html.escape(o.why) in text and html.escape(o.denser) in text
    # where each advised setting is set on the platform, per Service (the span's advice)
    lo, hi = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    for svc in api.services(store):
        for knob in api.advise(store, svc, since=lo, until=hi).knobs:
            assert f"<li>{html.escape(knob)}</li>" in text
    assert text.count(f"<p>{html.escape(KNOBS_HEAD)}</p>") == len(api.services(store))


def test_report_range_outside_the_data_says_so(demo: DemoStore) -> None:
    code, out, err = run(
        "report", "--db", demo.url, "--since", "2030-01-01T00:00:00Z",
        "--until", "2030-01-02T00:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    assert "No LB-facing Service had a gap window or a rollout in this span." in out
    # and why: nothing was recorded then (it read as "nothing went wrong")
    assert "Nothing was recorded in this span: the store holds events from 2026-01-01T00:00:00" in (
        out
    )
    code, out, err = run(
        "report", "--db", demo.url, "--since", "2026-01-01T00:20:00Z",
        "--until", "2026-01-01T00:21:00Z",
    )  # fmt: skip
    assert code == 0, err
    assert "No LB-facing Service had" in out and "Nothing was recorded" not in out


@pytest.mark.parametrize(
    ("args", "scope"),
    [
        (["--since", "2026-01-01T00:20:00Z"], "from 2026-01-01 00:20:00.000000Z UTC on"),
        (["--until", "2026-01-01T00:20:00Z"], "up to 2026-01-01 00:20:00.000000Z UTC"),
        ([], "everything recorded"),
    ],
)
def test_an_open_range_reads_as_one(demo: DemoStore, args: list[str], scope: str) -> None:
    """A range open at one end was shown as `X to - UTC`."""
    code, out, err = run("report", "--db", demo.url, *args)
    assert code == 0, err
    assert f"Scope: {scope}." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rollout", "ro-nothere"], "no rollout 'ro-nothere'"),
        (["--cluster", "sede"], "close matches: seed"),
        (["--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"], "not before"),
        (["--rollout", "x", "--since", "2026-01-01T00:00:00Z"], "exclude each other"),
    ],
)
def test_report_refuses_what_does_not_exist(demo: DemoStore, args: list[str], message: str) -> None:
    code, out, err = run("report", "--db", demo.url, *args)
    assert code == 2
    assert message in err
    assert out == ""


def test_a_close_rollout_id_is_suggested(demo: DemoStore, seed_rollout: Rollout) -> None:
    typo = seed_rollout.id[:-1] + ("x" if seed_rollout.id[-1] != "x" else "y")
    code, _, err = run("report", "--db", demo.url, "--rollout", typo)
    assert code == 2
    assert f"close matches: {seed_rollout.id}" in err
    code, out, err = run("report", "--db", demo.url, "--rollout", seed_rollout.id[:8])
    assert code == 0, err
    assert seed_rollout.id in out


def test_service_scope(demo: DemoStore, store: Engine) -> None:
    svc = ServiceRef("aws", "istio-system", "istio-ingressgateway")
    code, out, err = run(
        "report", "--db", demo.url, "--cluster", "aws", "--service", svc.key,
        "--since", "2026-01-01T00:00:00Z", "--until", "2026-01-02T00:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    assert "in cluster aws" in out and "in cluster seed" not in out
    assert len(md_tables(out)[0]) == len(api.windows(store, service=svc))


WHY = "### Why the possible windows are possible"


def test_each_possible_window_says_why_and_what_would_decide_it(
    demo: DemoStore, store: Engine
) -> None:
    """Every possible window of the span gets one line: which side the samples left open, each
    lane's change, and the observations that would have decided it (replay.openness, asked
    through the API here); proven windows get none."""
    code, out, err = run(
        "report", "--db", demo.url, "--since", "2026-01-01T00:00:00Z",
        "--until", "2026-01-02T00:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    seen = 0
    for svc in api.services(store):
        mine = api.windows(store, service=svc)
        why = api.openness(store, svc, mine)
        possible = [w for w in mine if not w.certain]
        assert set(why) == set(possible)
        part = out.split(f"in cluster {svc.cluster}")[1].split("### Measured lags")[0]
        if not possible:
            assert WHY not in part
            continue
        lines = [x for x in part.split(WHY)[1].splitlines() if x.startswith("- ")]
        assert len(lines) == len(possible)
        for w in possible:
            (line,) = [x for x in lines if x.startswith(f"- {w.node}, ")]
            o = why[w]
            assert o.why in line and f"kube-proxy: {o.kube_proxy}." in line
            assert f"LB: {o.lb}." in line
            assert all(text in line for _kind, text in o.decide)
            seen += 1
    assert seen >= 2, "the demo has possible windows in both clusters"
    # a span with proven windows only (aws, 00:16:40) says nothing of the kind
    code, out, err = run(
        "report", "--db", demo.url, "--cluster", "aws", "--since", "2026-01-01T00:16:00Z",
        "--until", "2026-01-01T00:17:30Z",
    )  # fmt: skip
    assert code == 0, err
    rows = md_tables(out)[0]
    assert rows and all(r["evidence"] == "proven" for r in rows)
    assert WHY not in out


def test_the_summary_counts_what_denser_sampling_would_reach() -> None:
    """The summary line counts the windows a denser look would reach, by which, those looks
    already fell inside and those narrower than any look."""
    from gapwatch.dashboard.report import ServiceReport
    from gapwatch.dashboard.report_render import open_summary
    from gapwatch.replay.openness import Openness

    svc = ServiceRef("c1", "ns", "svc")

    def window(node: str) -> Window:
        return Window(svc, node, "pod-gone-before-deregistered", 0, 1, 0, 0, 1, 1, "measured",
                      certain=False)  # fmt: skip

    poll = (("poll", "target-health polls every 2.0 s or less would put one inside it"),)
    probe = (("probe", "kube-proxy looks every 2.0 s or less would put one inside it"),)
    why = {
        window("a"): Openness("lb", "", "", poll, 2.0),
        window("b"): Openness("order", "", "", (*probe, *poll), 2.0),
        window("c"): Openness("order", "", "", (), 3.0),
        window("d"): Openness("order", "", "", (), 0.05),
    }
    section = ServiceReport(svc, (), (), (), None, (), why)  # type: ignore[arg-type]
    assert open_summary(section) == (
        "4 possible windows: the samples allow them, not prove them. Of them: denser sampling "
        "would have put a look inside 2 (target-health polls inside it (a shorter poll "
        "interval): 2, kube-proxy looks inside it (a shorter probe interval): 1); looks already "
        "fell inside 1; 1 is narrower than any look."
    )
    alone = ServiceReport(svc, (), (), (), None, (), {window("d"): why[window("d")]})  # type: ignore[arg-type]
    assert open_summary(alone).endswith("It is narrower than any look.")
    assert open_summary(ServiceReport(svc, (), (), (), None, ())) == ""  # type: ignore[arg-type]
