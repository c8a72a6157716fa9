"""Commands that find nothing say what they looked at. A store of Kubernetes objects alone (no
LB poller, CloudTrail, push API or service-controller Event) once answered `gaps` with "no gap
windows: in this range the load balancer never routed to a node that did not serve", a claim
about an LB nothing recorded; `rollouts` printed an empty table of eleven headers; `db downgrade`
answered "n" exited 1 without a word."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.dashboard.demo import build_demo_store
from gapwatch.replay.cli_tables import NO_LB_LANE, NO_ROLLOUTS
from tests.importers.helpers import FIXTURES
from tests.test_cli import gapwatch


def gaps(*args: str) -> str:
    result = CliRunner().invoke(app, ["gaps", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


SERVICE = "kubelb/kubelb-ingress-nginx-controller"


def objects_only(tmp_path: Path) -> str:
    """A postmortem store of the kubelb Services and a NodeList: no LB lane, no lane at all."""
    url = f"sqlite:///{tmp_path / 'k8s.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--db", url]).exit_code == 0
    objects = [
        str(FIXTURES / f)
        for f in (
            "kubelb-kind-services-lb-local-healthchecknodeport.json",
            "aws-kops-nodelist-2nodes.json",
        )
    ]
    done = runner.invoke(app, ["import", "k8s-watch", "--db", url, *objects])
    assert done.exit_code == 0, done.output
    return url


def test_no_lb_lane_is_not_reported_as_no_gaps(tmp_path: Path) -> None:
    url = objects_only(tmp_path)
    runner = CliRunner()
    assert gaps("--db", url).strip() == NO_LB_LANE
    result = runner.invoke(app, ["rollouts", "--db", url])
    assert result.exit_code == 0 and result.stdout.strip() == NO_ROLLOUTS


def test_a_quiet_range_with_lb_lanes_still_says_no_gaps(tmp_path: Path) -> None:
    store = build_demo_store(tmp_path / "demo.db")
    out = gaps("--db", store.url, "--cluster", "seed", "--since", "2026-01-01T00:05:00Z")
    assert out.startswith("no gap windows: in this range the load balancer never routed")


def test_a_downgrade_declined_says_nothing_changed(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    migrated_sqlite(tmp_path / "gapwatch.db")  # the default store, as `db upgrade` leaves it
    done = gapwatch("db", "downgrade", "0009_views_also", cwd=tmp_path, stdin="n\n")
    assert done.returncode == 1
    assert "not downgraded: the store is unchanged" in done.stderr + done.stdout
    current = gapwatch("db", "current", cwd=tmp_path)
    assert "up to date" in current.stdout + current.stderr


def test_a_downgrade_nobody_answered_says_so_and_how_to_skip_the_question(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    """With standard input closed (a script, a CI job) the question got no answer and Click said
    `Aborted.`: neither what happened to the store nor that --yes exists."""
    migrated_sqlite(tmp_path / "gapwatch.db")
    done = gapwatch("db", "downgrade", "0009_views_also", cwd=tmp_path, stdin="")
    assert done.returncode == 1
    assert "Aborted" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "not downgraded: no answer to the question (--yes downgrades without asking)"
    ), done.stderr
    current = gapwatch("db", "current", cwd=tmp_path)
    assert "up to date" in current.stdout + current.stderr


def test_the_report_claims_no_gap_only_where_an_lb_lane_was_recorded() -> None:
    """A report section (a Service with a rollout) without an LB lane said the load balancer
    never routed to a node that did not serve."""
    from types import SimpleNamespace

    from gapwatch.dashboard.report_render import summary

    blind = SimpleNamespace(
        windows=(), neighbours=(), segments=(SimpleNamespace(lane="endpoints"),)
    )
    assert summary(blind).startswith("No gap windows could be seen: nothing recorded")  # type: ignore[arg-type]
    seen = SimpleNamespace(windows=(), neighbours=(), segments=(SimpleNamespace(lane="lb"),))
    assert summary(seen).startswith("No gap windows: the load balancer never routed")  # type: ignore[arg-type]


def test_advise_and_whatif_without_an_lb_lane_say_nothing_could_be_seen(tmp_path: Path) -> None:
    """`advise` answered 'windows observed: 0 / recommended: nothing' and `whatif` '0 window(s)
    left, against 0 recorded' for a Service no LB lane was recorded for, where `gaps` says none
    could be seen: read as settings proven safe."""
    import orjson

    url = objects_only(tmp_path)
    runner = CliRunner()
    advise = runner.invoke(app, ["advise", "--db", url, "--service", SERVICE])
    assert advise.exit_code == 0, advise.output
    assert "windows observed: 0 (none could be seen)" in advise.stdout, advise.stdout
    from gapwatch.replay.cli_tables import no_lb_lane_for

    said = no_lb_lane_for(SERVICE, "default")
    assert f"note: {said}" in advise.stdout, advise.stdout
    doc = orjson.loads(
        runner.invoke(app, ["advise", "--db", url, "--service", SERVICE, "--json"]).stdout
    )
    assert doc["notes"][0] == said
    whatif = runner.invoke(app, ["whatif", "--db", url, "--service", SERVICE, "--prestop", "10"])
    assert whatif.exit_code == 0, whatif.output
    assert whatif.stdout.splitlines()[1:] == [f"note: {said}"], whatif.stdout
    doc = orjson.loads(
        runner.invoke(app, ["whatif", "--db", url, "--service", SERVICE, "--json"]).stdout
    )
    assert doc["notes"] == [said]


def test_advise_and_whatif_with_an_lb_lane_add_no_such_note(tmp_path: Path) -> None:
    import orjson

    store = build_demo_store(tmp_path / "demo.db")
    runner = CliRunner()
    args = [
        "--db",
        store.url,
        "--cluster",
        "seed",
        "--service",
        "istio-system/istio-ingressgateway",
    ]
    for command in ("advise", "whatif"):
        doc = orjson.loads(runner.invoke(app, [command, *args, "--json"]).stdout)
        assert not any("could be seen" in note for note in doc.get("notes", [])), doc


def test_a_timeline_with_no_lane_says_so_rather_than_print_bare_headers(tmp_path: Path) -> None:
    """It printed 'lanes of NS/NAME' and a header row over nothing."""
    url = objects_only(tmp_path)
    done = CliRunner().invoke(app, ["timeline", "--db", url, "--service", SERVICE])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == (
        f"no lanes of {SERVICE}, cluster default, in the store: nothing recorded places its "
        "endpoints, pods, kube-proxy or load balancer on a node"
    )


def test_a_query_that_selects_no_row_says_so(tmp_path: Path) -> None:
    """`gapwatch sql`'s own --help example on a store with no window printed a header row and
    nothing under it; psql says `(0 rows)`. --csv and --json stay as they were."""
    url = objects_only(tmp_path)
    query = "SELECT class, count(*) AS n FROM v_windows GROUP BY class"
    runner = CliRunner()
    done = runner.invoke(app, ["sql", "--db", url, query])
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[-1] == "(0 rows)", done.stdout
    assert runner.invoke(app, ["sql", "--db", url, query, "--csv"]).stdout == "class,n\n"
    assert runner.invoke(app, ["sql", "--db", url, query, "--json"]).stdout == "[\n]\n"
    some = runner.invoke(app, ["sql", "--db", url, "SELECT kind FROM events LIMIT 1"])
    assert "(0 rows)" not in some.stdout, some.stdout


def test_db_stats_of_an_empty_store_says_so(store_url: str) -> None:
    """`db stats` on a new store printed the table's frame and six headers with nothing under
    them, as an output cut short would; --json stays an empty list."""
    runner = CliRunner()
    done = runner.invoke(app, ["db", "stats", "--db", store_url])
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("no events in "), done.stdout
    assert "cluster" not in done.stdout
    as_json = runner.invoke(app, ["db", "stats", "--db", store_url, "--json"])
    assert as_json.exit_code == 0 and as_json.stdout.strip() == "[]", as_json.output


def test_advise_and_whatif_of_an_lb_recorded_with_no_node_say_so(tmp_path: Path) -> None:
    """An LB poller that found no Node to map its targets to recorded the LB, but no lane:
    `gaps` said how many observations named no node (s27-newuser2), while `advise` and `whatif`
    still said no LB lane was recorded, sending the user after a poller that had run."""
    import dataclasses

    import orjson

    from gapwatch.recorder.store import make_engine
    from gapwatch.recorder.writer import EventWriter
    from gapwatch.replay.facts import write_facts
    from tests.replay import builders as b

    url = f"sqlite:///{tmp_path / 'unplaced.db'}"
    assert CliRunner().invoke(app, ["db", "upgrade", "--db", url]).exit_code == 0
    looks = [
        dataclasses.replace(obs, node=None)
        for obs in b.polled("n1", [0, 10, 20], lambda _t: "healthy", check_port=32999)
    ]
    engine = make_engine(url)
    try:
        EventWriter(engine, derive=write_facts).write([b.service(0), *looks])
    finally:
        engine.dispose()
    service = f"{b.NS}/{b.SVC}"
    for command in ("advise", "whatif"):
        done = CliRunner().invoke(app, [command, "--db", url, "--service", service, "--json"])
        assert done.exit_code == 0, done.output
        [note] = orjson.loads(done.stdout)["notes"][:1]
        assert "2 target-health observation(s) were recorded with no node" in note, note
        assert "no LB lane was recorded" not in note


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_report_with_no_lb_lane_says_none_could_be_seen(tmp_path: Path, fmt: str) -> None:
    """The postmortem file of a store with no LB lane said only "No LB-facing Service had a gap
    window or a rollout in this span": attached to a postmortem, that read as the LB never
    misrouting, where `gaps` and the Overview say none could be seen."""
    url = objects_only(tmp_path)
    out = tmp_path / f"postmortem.{fmt}"
    done = CliRunner().invoke(app, ["report", "--db", url, "--format", fmt, "-o", str(out)])
    assert done.exit_code == 0, done.output
    text = " ".join(out.read_text().split())
    said = html.escape(NO_LB_LANE[0].upper() + NO_LB_LANE[1:]) if fmt == "html" else NO_LB_LANE[1:]
    assert said in text and "0 windows here says nothing about the load balancer" in text


@pytest.mark.parametrize("flag", ["--json", "--csv"])
def test_machine_output_with_no_lb_lane_says_so_on_stderr(tmp_path: Path, flag: str) -> None:
    """`gaps --json` of a store with no LB lane printed `[]` and nothing else: a script read an
    LB that never misrouted. stdout stays the answer; stderr says none could be seen."""
    url = objects_only(tmp_path)
    done = gapwatch("gaps", "--db", url, flag, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]" if flag == "--json" else "," in done.stdout
    assert f"note: {NO_LB_LANE}" in " ".join(done.stderr.split())
