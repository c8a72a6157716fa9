"""Honest CLI answers (issue 16): a typo is an error that names the closest real thing, never an
empty table; a read command never creates a store; unknown revisions are one line; Ctrl-C during
an import says what was committed and how to resume.

Filters run in-process against the demo store (the seed and the aws clusters, simulated and
replayed); what the user meets at the console (one line, exit code, no file created, SIGINT) runs
the real entry point in a subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.dashboard.demo import DemoStore, build_demo_store
from gapwatch.recorder import progresslines
from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.store import head_revision, make_engine, upgrade
from gapwatch.recorder.tables import events
from gapwatch.replay import api
from tests.store.samples import real_observations
from tests.test_cli import gapwatch

SERVICE = "istio-system/istio-ingressgateway"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return build_demo_store(tmp_path_factory.mktemp("honest") / "demo.db")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["gaps", "--service", "foo/bar"], ["no LB-facing Service 'foo/bar'", SERVICE]),
        (["gaps", "--service", "istio-ingressgateway"], ["NAMESPACE/NAME", SERVICE]),
        (["gaps", "--service", "istio-system/istio-ingresgateway"], ["close matches", SERVICE]),
        (["gaps", "--cluster", "nope"], ["no cluster 'nope'", "aws", "seed"]),
        (["rollouts", "--cluster", "sed"], ["no cluster 'sed'", "close matches: seed"]),
        (["timeline", "--cluster", "seed", "--node", "NODE9"], ["no node 'NODE9'", "NODE1"]),
        (["advise", "--cluster", "awz"], ["no cluster 'awz'", "aws"]),
        (
            ["gaps", "--since", "2026-01-01T01:00:00Z", "--until", "2026-01-01T00:00:00Z"],
            ["--since", "is not before --until"],
        ),
        (
            ["rollouts", "--since", "2026-01-01T01:00:00Z", "--until", "2026-01-01T01:00:00Z"],
            ["is not before --until"],
        ),
        # a range wholly outside the data once answered "the LB never routed to a node that
        # did not serve" (gaps), an empty table (rollouts) or nothing (export)
        (
            ["gaps", "--since", "2030-01-01T00:00:00Z"],
            [
                "nothing recorded in the range asked (--since 2030-01-01T00:00:00.000000Z): "
                "the store holds events from 2026-01-01T00:00:00.000000Z to 2026-01-01T00:"
            ],
        ),
        (
            ["gaps", "--json", "--until", "2025-12-31T00:00:00Z"],
            ["nothing recorded in the range asked (--until 2025-12-31T00:00:00.000000Z)"],
        ),
        (
            ["rollouts", "--cluster", "seed", "--since", "2026-01-01T00:30:00Z"],
            ["nothing recorded", "cluster 'seed' holds events from 2026-01-01T00:00:00"],
        ),
        (
            ["timeline", "--cluster", "seed", "--at", "2025-06-01T00:00:00Z"],
            ["nothing recorded in the range asked (--at 2025-06-01T00:00:00.000000Z)"],
        ),
        (
            ["timeline", "--cluster", "seed", "--until", "2025-06-01T00:00:00Z"],
            ["nothing recorded", "cluster 'seed' holds events from 2026-01-01T00:00:00"],
        ),
        (["export", "events", "--cluster", "sed"], ["no cluster 'sed'", "close matches: seed"]),
        (["export", "events", "--since", "2031-01-01T00:00:00Z"], ["nothing recorded"]),
        (
            [
                "export",
                "events",
                "--since",
                "2026-01-02T00:00:00Z",
                "--until",
                "2026-01-01T00:00:00Z",
            ],
            ["is not before --until"],
        ),
    ],
)
def test_a_filter_that_names_nothing_is_an_error(
    demo: DemoStore, args: list[str], says: list[str]
) -> None:
    code, out, err = run(*args, "--db", demo.url)
    assert code == 2, (out, err)
    assert out == ""
    for text in says:
        assert text in err
    assert len(err.strip().splitlines()) == 1, err


def test_a_bad_time_is_named_before_anything_else(demo: DemoStore) -> None:
    """With two Services in the store and no --service, `timeline --at garbage` said to choose
    a Service; fixed that, the user met the time error next."""
    code, out, err = run("timeline", "--db", demo.url, "--at", "garbage")
    assert code == 2 and out == ""
    assert "Invalid value for --at: 'garbage' is not an RFC 3339 timestamp" in err


def test_an_empty_range_inside_the_data_still_answers(demo: DemoStore) -> None:
    code, out, err = run("gaps", "--db", demo.url, "--since", "2026-01-01T00:20:00Z",
                         "--until", "2026-01-01T00:21:00Z")  # fmt: skip
    assert code == 0, err
    assert out.startswith("no gap windows: in this range")


def test_real_filters_still_answer(demo: DemoStore) -> None:
    engine = make_engine(demo.url)
    seed_nodes = sorted({w.node for w in api.windows(engine, cluster="seed")})
    engine.dispose()
    code, out, err = run("gaps", "--db", demo.url, "--cluster", "seed", "--service", SERVICE,
                         "--json")  # fmt: skip
    assert code == 0, err
    assert sorted({w["node"] for w in __import__("json").loads(out)}) == seed_nodes
    code, _, err = run("timeline", "--db", demo.url, "--cluster", "seed", "--node",
                       seed_nodes[0], "--json")  # fmt: skip
    assert code == 0, err


def test_a_read_command_never_creates_a_sqlite_store(tmp_path: Path) -> None:
    for command in (["gaps"], ["rollouts"], ["db", "current"], ["db", "stats"], ["report"]):
        done = gapwatch(*command, "--db", "sqlite:///nothere.db", cwd=tmp_path)
        assert done.returncode != 0, command
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "nothere.db" in lines[0] and "no store" in lines[0], (
            command,
            done.stderr,
        )
        assert "db upgrade" in lines[0]
        assert not (tmp_path / "nothere.db").exists(), command


def test_a_missing_store_names_the_stores_beside_it(tmp_path: Path) -> None:
    """After `gapwatch demo`, `gapwatch gaps` reads the default gapwatch.db, which is not there:
    the error pointed only at `db upgrade` (an empty store), not at the demo's file."""
    upgrade(make_engine(f"sqlite:///{tmp_path / 'gapwatch-demo.db'}"))
    done = gapwatch("gaps", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        f"error: no store at {(tmp_path / 'gapwatch.db').resolve()} (sqlite:///gapwatch.db): "
        "check the path (beside it: gapwatch-demo.db), or run `gapwatch db upgrade` with the "
        "same --db to create it\n"
    )


def test_record_without_a_cluster_name_is_one_line_naming_the_three_ways(tmp_path: Path) -> None:
    """It used to record as `default`, which a second cluster would share."""
    (tmp_path / "record.yaml").write_text("listen: 127.0.0.1:0\nsources: {}\n")
    args = ("record", "--config", "record.yaml", "--db", "sqlite:///rec.db")
    done = gapwatch(*args, cwd=tmp_path)  # GAPWATCH_* are cleared
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert all(
        way in lines[0] for way in ("record.yaml", "`cluster:`", "--cluster", "GAPWATCH_CLUSTER")
    )
    assert not (tmp_path / "rec.db").exists()
    # Named any of the three ways, it gets past that check to the next one (no store there).
    for extra, env in (([], {"GAPWATCH_CLUSTER": "eu-1"}), (["--cluster", "eu-1"], {})):
        other = gapwatch(*args, *extra, cwd=tmp_path, **env)
        assert "no cluster name" not in other.stderr and "no store" in other.stderr, other.stderr


def test_record_help_names_the_defaults_it_falls_back_to() -> None:
    """`--listen` and `--db` come from the config when not given; --help showed no default, and
    the fallback listen address is every interface."""
    from gapwatch.recorder.config import RecorderConfig
    from gapwatch.recorder.defaults import DEFAULT_URL

    said = " ".join(
        CliRunner().invoke(app, ["record", "--help"], env={"COLUMNS": "300"}).output.split()
    )
    fallback = RecorderConfig(cluster="x")
    assert f"else {fallback.listen}: every interface" in said
    assert f"else {DEFAULT_URL})" in said and fallback.db == DEFAULT_URL


def test_a_record_config_that_is_not_yaml_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    """PyYAML's message spans six lines with a caret and no file name; simulate -c and
    assumptions --file already said FILE:LINE."""
    (tmp_path / "record.yaml").write_text("cluster: eu-1\nsources:\n  k8s: {kinds: [Pod\n")
    done = gapwatch("record", "--config", "record.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        "error: record.yaml:4: not valid YAML: expected ',' or ']', but got '<stream end>'\n"
    )


def test_db_upgrade_still_creates_the_store(tmp_path: Path) -> None:
    done = gapwatch("db", "upgrade", "--db", "sqlite:///new.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new.db").exists()


def test_db_history_lists_every_revision_and_marks_the_current_one(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from gapwatch.recorder.store import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    revisions = [s.revision for s in reversed(list(script.walk_revisions()))]  # oldest first
    url = f"sqlite:///{tmp_path / 's.db'}"
    upgrade(make_engine(url), revisions[0])  # the first revision only
    code, out, err = run("db", "history", "--db", url)
    assert code == 0, err
    listed = [line.split()[0] for line in out.splitlines() if line[:1].isdigit()]
    assert listed == revisions
    current = [line for line in out.splitlines() if "(current)" in line]
    assert len(current) == 1 and current[0].startswith(revisions[0])


@pytest.mark.parametrize("command", [["downgrade", "0003", "--yes"], ["upgrade", "--revision",
                                                                         "0003"]])  # fmt: skip
def test_an_unknown_revision_is_one_clean_line(tmp_path: Path, command: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    upgrade(make_engine(url))
    done = gapwatch("db", *command, "--db", url, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "unknown revision '0003'" in lines[0] and "0001" in lines[0]


def test_ctrl_c_during_import_says_what_was_committed_and_how_to_resume(tmp_path: Path) -> None:
    """The input is a pipe on standard input: two batches are written and committed, then the
    import waits for more input; SIGINT arrives while it waits (we poll the store for the
    commits, no sleeps that a slow machine could outrun)."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    engine = make_engine(url)
    upgrade(engine)
    lines = [dumps(o) for o in real_observations()]
    assert len(lines) >= 4
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAPWATCH_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    env["PYTHONFAULTHANDLER"] = "1"  # a hang is answered with SIGABRT: every thread's stack
    proc = subprocess.Popen(
        [sys.executable, "-m", "gapwatch.dashboard.cli", "import", "events", "-",
         "--db", url, "--batch-size", "2"],
        cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_as_in_a_terminal,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stderr is not None
    writer = proc.stdin
    try:
        writer.write("".join(line + "\n" for line in lines[:4]))
        writer.flush()
        deadline = time.monotonic() + 60
        stored = 0
        while stored < 4 and time.monotonic() < deadline:  # both batches: it waits for input
            with engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
            time.sleep(0.1)
        assert stored == 4, "the two batches were never committed"
        proc.send_signal(signal.SIGINT)
        _exited_or_stacks(proc)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        writer.close()
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
    engine.dispose()
    assert proc.returncode == 130
    assert f"{stored} new events committed" in err
    assert "run the same command again" in err
    assert "Traceback" not in err


def _sigint_as_in_a_terminal() -> None:
    """In the child, before exec: SIGINT delivered and at its default, as a shell in a terminal
    starts a command. A blocked or ignored SIGINT survives exec, and Python then leaves it so: two
    clean-clone CI runs (0a377f1, 12592ff) hung here, SIGINT never handled, on the xdist worker
    that ran this test after other files; the same hang follows from running this test under a
    parent that blocks or ignores SIGINT (a test-harness state, not a user's Ctrl-C)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _exited_or_stacks(proc: subprocess.Popen[str]) -> None:
    """Wait for `proc` to exit; one that does not within a minute (seen at high load, not
    reproduced in 50 runs at load 10-13, two CPU hogs running in 20 of them) fails with where
    each of its threads stood, from faulthandler's dump on SIGABRT."""
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        raise AssertionError("no exit after SIGINT; its stacks:\n" + proc.stderr.read()) from None


def _import_in_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Callable[[], float]
) -> list[str]:
    """`gapwatch import events` into a fresh store, stderr not a terminal (the runner's), with
    progresslines reading `clock`: its stderr lines."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    upgrade(make_engine(url))
    data = tmp_path / "in.ndjson"
    data.write_text("".join(dumps(o) + "\n" for o in real_observations()))
    monkeypatch.setattr(progresslines, "monotonic", clock)
    done = CliRunner().invoke(app, ["import", "events", str(data), "--db", url])
    assert done.exit_code == 0, done.output
    return done.stderr.splitlines()


def test_a_long_import_reports_progress_when_stderr_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Piped to a log, a long import shows that it moves: here each reading of the clock is
    LOG_EVERY_S later than the one before, as if every chunk took that long."""
    ticks = iter(range(0, 10**6, int(progresslines.LOG_EVERY_S)))
    lines = _import_in_a_log(tmp_path, monkeypatch, lambda: float(next(ticks)))
    steps = [line for line in lines if line.startswith("importing: ")]
    assert steps[-1].startswith("importing: 100% (")
    assert len(steps) >= 2
    percents = [int(line.split()[1].rstrip("%")) for line in steps]
    assert percents == sorted(percents)
    assert "already stored" in lines[-1], lines  # the summary, as before


def test_a_short_import_in_a_log_prints_only_its_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 17 kB file printed ten `importing: N%` lines at each tenth in a log; work that ends
    within LOG_EVERY_S prints none (here the clock does not move), the summary as before."""
    lines = _import_in_a_log(tmp_path, monkeypatch, lambda: 0.0)
    assert not [line for line in lines if line.startswith("importing")], lines
    assert len(lines) == 1 and "new, 0 already stored" in lines[0], lines


def test_the_upgrade_a_behind_store_asks_for_acts_on_that_store(tmp_path: Path) -> None:
    """A store behind the code said `run \\`gapwatch db upgrade\\``: pasted as said, without the
    --db it was opened with, that created the default gapwatch.db beside it and the store named
    stayed behind."""
    old = f"sqlite:///{tmp_path / 'old.db'}"
    assert run("db", "upgrade", "--db", old)[0] == 0
    assert run("db", "downgrade", "0006_projector", "--yes", "--db", old)[0] == 0
    done = gapwatch("gaps", "--db", old, cwd=tmp_path)
    assert done.returncode == 1
    assert not (tmp_path / "gapwatch.db").exists()
    assert done.stderr.strip() == (
        f"error: the store {old} is at revision 0006_projector, the code wants "
        f"{head_revision()}: run `gapwatch db upgrade` with the same --db (or GAPWATCH_DB)"
    )
