"""A command that needs one Service and was given none lists the candidates as `--service`
takes them. It listed `default:kubelb/kubelb-ingress-nginx-controller` (cluster:namespace/name),
which `--service` refused: a new user pasting the name from the error got another error."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from tests.importers.helpers import FIXTURES

SERVICES = FIXTURES / "kubelb-kind-services-lb-local-healthchecknodeport.json"


def _store(tmp_path: Path, *clusters: str) -> str:
    url = f"sqlite:///{tmp_path / 'k8s.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--db", url]).exit_code == 0
    for cluster in clusters:
        done = runner.invoke(
            app, ["import", "k8s-watch", "--db", url, "--cluster", cluster, str(SERVICES)]
        )
        assert done.exit_code == 0, done.output
    return url


def _listed(output: str) -> list[str]:
    """The candidates the usage error lists (the box's borders and line breaks taken out)."""
    flat = " ".join(line.strip(" │╭╮╰╯─") for line in output.splitlines())
    found = re.search(r"\(found: (.*?)\)\s*$", flat.strip())
    assert found, output
    return [name.strip() for name in re.split(r",(?![^(]*\))", found.group(1))]


def test_a_listed_service_can_be_pasted_into_service(tmp_path: Path) -> None:
    url = _store(tmp_path, "default")
    runner = CliRunner()
    for command in ("advise", "timeline", "whatif"):
        refused = runner.invoke(app, [command, "--db", url], env={"COLUMNS": "400"})
        assert refused.exit_code == 2, refused.output
        names = _listed(refused.output)
        assert "kubelb/kubelb-ingress-nginx-controller" in names, names
        done = runner.invoke(app, [command, "--db", url, "--service", names[0]])
        assert done.exit_code == 0, (command, names[0], done.output)


def test_with_several_clusters_each_name_says_its_cluster(tmp_path: Path) -> None:
    url = _store(tmp_path, "east", "west")
    runner = CliRunner()
    refused = runner.invoke(
        app,
        ["advise", "--db", url, "--service", "kubelb/kubelb-ingress-nginx-controller"],
        env={"COLUMNS": "400"},
    )
    assert refused.exit_code == 2, refused.output
    names = _listed(refused.output)
    assert names == [
        "kubelb/kubelb-ingress-nginx-controller (--cluster east)",
        "kubelb/kubelb-ingress-nginx-controller (--cluster west)",
    ], names
    service, cluster = re.fullmatch(r"(\S+) \(--cluster (\S+)\)", names[1]).groups()  # type: ignore[union-attr]
    done = runner.invoke(app, ["advise", "--db", url, "--service", service, "--cluster", cluster])
    assert done.exit_code == 0, done.output
