"""Tables for people fit 80 columns without cutting cells, show the cluster when the rows come
from more than one, round numbers for people, and `--wide` shows everything (issue 16).

Runs the commands in-process on the demo store (two clusters with the same Service name) with
COLUMNS=80; expected values come from the replay API on the same store.
"""

from __future__ import annotations

import re

import pytest
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.dashboard.demo import DemoStore, build_demo_store
from gapwatch.recorder.humantable import seconds, short_ids
from gapwatch.recorder.store import make_engine
from gapwatch.replay import api
from gapwatch.replay.cli_tables import FAILED_NOTE, OUTSIDE_MARK, UNDECIDED_MARK, UNDECIDED_NOTE
from gapwatch.replay.model import ServiceRef
from tests.test_cli import all_commands, root_command


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return build_demo_store(tmp_path_factory.mktemp("tables") / "demo.db")


def table(*args: str, width: int = 80) -> list[str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def body(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of a printed table: the line above the rule is the header."""
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    headers = lines[rule - 1].split()
    notes = ("--", UNDECIDED_NOTE, OUTSIDE_MARK, FAILED_NOTE)
    rows = [line.split("  ") for line in lines[rule + 1 :] if line and not line.startswith(notes)]
    return headers, [[c.strip() for c in r if c.strip()] for r in rows]


@pytest.mark.parametrize(
    "args",
    [
        ["gaps"],
        ["rollouts"],
        ["gaps", "--cluster", "aws"],
        ["timeline", "--cluster", "aws"],
        ["advise", "--cluster", "seed"],
    ],
    ids=" ".join,
)
def test_tables_fit_80_columns_without_cutting_cells(demo: DemoStore, args: list[str]) -> None:
    lines = table(*args, "--db", demo.url)
    table_lines = lines if args[0] != "advise" else lines[: lines.index("") if "" in lines else 8]
    assert max(len(line.rstrip()) for line in table_lines) <= 80, "\n".join(lines)
    assert "…" not in "\n".join(lines)
    # numbers for people: no seconds with more than one decimal
    assert not re.search(r"\d\.\d{2,} s\b|\d\.\d{4,}", "\n".join(table_lines)), "\n".join(lines)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.5012, "501 ms"), (2.84, "2.8 s"), (9.94, "9.9 s"), (9.96, "10 s"), (17.04, "17 s"),
     (95.2, "95 s"), (None, "-")],
)  # fmt: skip
def test_durations_keep_two_or_three_figures(value: float | None, shown: str) -> None:
    assert seconds(value) == shown


def test_gaps_shows_cluster_and_the_important_columns(demo: DemoStore) -> None:
    engine = make_engine(demo.url)
    windows = api.windows(engine)
    engine.dispose()
    assert len({w.service.cluster for w in windows}) > 1
    assert len({w.service.key for w in windows}) == 1, "same Service name in both clusters"
    headers, rows = body(table("gaps", "--db", demo.url))
    assert headers[:6] == ["cluster", "node", "class", "start", "duration", "evidence"]
    assert len(rows) == len(windows)
    for row, w in zip(rows, windows, strict=True):
        assert row[0] == w.service.cluster
        assert w.node.startswith(row[1])
        assert row[5] == ("proven" if w.certain else "possible")


def test_an_undecided_class_is_marked_and_wide_names_the_others(demo: DemoStore) -> None:
    """The seed rollout's NODE2 window may be either reading (docs/semantics.md, "Undecided
    classes"): the narrow table marks it and says so, `--wide` gives the full wording."""
    engine = make_engine(demo.url)
    windows = api.windows(engine, cluster="seed")
    engine.dispose()
    undecided = [w for w in windows if w.also]
    assert undecided and len(undecided) < len(windows)
    lines = table("gaps", "--db", demo.url, "--cluster", "seed")
    _, rows = body(lines)
    marked = {row[0] for row in rows if row[1].endswith(UNDECIDED_MARK)}
    assert marked == {w.node for w in undecided}
    assert lines[-1] == UNDECIDED_NOTE
    wide = "\n".join(table("gaps", "--db", demo.url, "--cluster", "seed", "--wide"))
    for w in undecided:
        assert f"{w.cls} (or {' or '.join(w.also)}: undecided)" in wide
    assert UNDECIDED_NOTE not in wide


def test_advise_lists_the_percentiles_in_order_then_max(demo: DemoStore) -> None:
    """`gapwatch advise` printed p50, p90, max, p99: a reader takes the fourth column for the
    highest. A narrow terminal drops p99 and p90, never max, the worst case the advice covers."""
    headers, rows = body(table("advise", "--cluster", "seed", "--db", demo.url))
    assert headers == ["lag", "samples", "p50", "p90", "p99", "max"]
    svc = ServiceRef("seed", "istio-system", "istio-ingressgateway")
    lag = next(x for x in api.advise(make_engine(demo.url), svc).lags if x.samples)
    row = next(r for r in rows if r[0] == lag.name)
    assert row[2:] == [seconds(lag.p50), seconds(lag.p90), seconds(lag.p99), seconds(lag.max)]
    narrow, _ = body(table("advise", "--cluster", "seed", "--db", demo.url, width=40))
    assert narrow == ["lag", "samples", "p50", "max"]


def test_one_cluster_goes_to_the_title(demo: DemoStore) -> None:
    lines = table("gaps", "--db", demo.url, "--cluster", "seed")
    assert "cluster seed" in lines[0]
    headers, _ = body(lines)
    assert "cluster" not in headers


def test_wide_shows_every_column_in_full(demo: DemoStore) -> None:
    engine = make_engine(demo.url)
    windows = api.windows(engine)
    rollouts = api.rollouts(engine)
    engine.dispose()
    text = "\n".join(table("gaps", "--db", demo.url, "--wide"))
    for header in ("evidence", "failed", "end", "rollout", "service"):
        assert header in text
    for w in windows:
        assert w.cls in text and w.node in text
        assert w.rollout is None or w.rollout in text
    text = "\n".join(table("rollouts", "--db", demo.url, "--wide"))
    for r in rollouts:
        assert r.id in text and r.workload in text


def test_short_rollout_ids_are_unique_and_accepted_by_report(demo: DemoStore) -> None:
    engine = make_engine(demo.url)
    ids = [r.id for r in api.rollouts(engine)]
    engine.dispose()
    short = short_ids(ids)
    assert len(set(short.values())) == len(ids)
    _, rows = body(table("rollouts", "--db", demo.url))
    shown = {row[1] for row in rows}
    assert shown == set(short.values())
    for full, prefix in short.items():
        result = CliRunner().invoke(app, ["report", "--db", demo.url, "--rollout", prefix])
        assert result.exit_code == 0, result.output
        assert full in result.stdout


def test_rollouts_counts_the_windows_no_row_holds(demo: DemoStore) -> None:
    """The aws preset's crash window after its last disruption is in no rollout: the table's
    rows alone read as the whole damage."""
    engine = make_engine(demo.url)
    alone = [w for w in api.windows(engine, cluster="aws") if w.rollout is None]
    seed = [w for w in api.windows(engine, cluster="seed") if w.rollout is None]
    engine.dispose()
    assert alone and not seed
    total = seconds(sum(w.duration_s for w in alone))
    lines = table("rollouts", "--db", demo.url, "--cluster", "aws")
    assert lines[-1] == (
        f"{OUTSIDE_MARK}{len(alone)} window{'s' if len(alone) > 1 else ''} ({total}) in no "
        "rollout or disruption: `gapwatch gaps`"
    )
    assert not any(
        line.startswith(OUTSIDE_MARK)
        for line in table("rollouts", "--db", demo.url, "--cluster", "seed")
    )


def test_a_blank_failed_cell_is_said_to_be_unknown(demo: DemoStore) -> None:
    """The aws cluster's rollout (3 windows, 19 s of gap, an NLB: no access log) showed an
    empty failed cell beside the seed rollout's 143, read as no failed request."""
    lines = table("rollouts", "--db", demo.url)
    headers, _rows = body(lines)
    assert "failed" in headers and FAILED_NOTE in lines
    assert FAILED_NOTE not in table("rollouts", "--db", demo.url, "--cluster", "seed")
    assert FAILED_NOTE in table("gaps", "--db", demo.url, "--cluster", "aws")
    assert FAILED_NOTE not in table("gaps", "--db", demo.url, "--cluster", "seed")


def _command(path: list[str]) -> TyperCommand | TyperGroup:
    command: object = root_command()
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    assert isinstance(command, TyperGroup | TyperCommand)
    return command


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "gapwatch")
def test_help_never_advertises_an_option_the_command_lacks(path: list[str]) -> None:
    """`advise --help` once said `--json` was "shorthand for --format json"; advise has no
    --format. Every --option an option's help names must be an option of the same command."""
    command = _command(path)
    own = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for p in command.params:
        text = getattr(p, "help", None) or ""
        for named in re.findall(r"(?<![\w`])--[a-z][a-z-]+", text):
            assert named in own, f"{' '.join(path)}: {p.name}'s help names {named}"
