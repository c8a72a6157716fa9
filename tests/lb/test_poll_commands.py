"""`gapwatch poll CLOUD`: each cloud's own options, then the options every cloud shares, reach
the poller as one PollJob and the cloud's settings (recorder/sources/lb/cli.py `_poll_command`).
The poller itself is replaced by a recorder of its arguments: these tests are about the CLI."""

from __future__ import annotations

from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from gapwatch.dashboard.cli import app
from gapwatch.recorder.sources.lb import cli, runpoll

SHARED = ["endpoint_url", "interval", "duration", "heartbeat", "service", "cluster", "db"]


def test_every_poll_command_ends_with_the_shared_options_in_one_order() -> None:
    group: Any = get_command(cli.poll_app)
    assert sorted(group.commands) == ["clb", "elbv2", "huawei-elb", "slb"]
    for name, command in group.commands.items():
        names = [p.name for p in command.params]
        assert names[-len(SHARED) :] == SHARED, name
        assert not set(names[: -len(SHARED)]) & set(SHARED), name


def test_a_cloud_function_stays_a_plain_function_returning_its_settings() -> None:
    assert cli.poll_huawei(pool_id="p-1", region=None) == {"pool_id": "p-1", "region": None}
    assert cli.poll_clb(load_balancer_id="lb-1", region="ap-guangzhou") == {
        "load_balancer_id": "lb-1",
        "region": "ap-guangzhou",
        "listener_ids": [],
    }


@pytest.mark.parametrize(
    ("argv", "key", "settings"),
    [
        (
            ["slb", "--load-balancer-id", "lb-1", "--vserver-group-id", "rsp-1", "--region", "r"],
            "alibaba-slb",
            {"load_balancer_id": "lb-1", "vserver_group_id": "rsp-1", "region": "r"},
        ),
        (
            ["clb", "--load-balancer-id", "lb-2", "--region", "r", "--listener-id", "l-1"],
            "tencent-clb",
            {"load_balancer_id": "lb-2", "region": "r", "listener_ids": ["l-1"]},
        ),
        (["huawei-elb", "--pool-id", "p-1"], "huawei-elb", {"pool_id": "p-1", "region": None}),
        (
            ["elbv2", "--target-group", "arn:1", "--region", "eu-west-1"],
            "elbv2",
            {
                "target_groups": [{"arn": "arn:1"}],
                "region": "eu-west-1",
                "target_group_bindings": False,
                "api_server": None,
            },
        ),
    ],
)
def test_shared_and_own_options_reach_the_poller(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], key: str, settings: dict[str, Any]
) -> None:
    calls: list[tuple[runpoll.PollJob, str, dict[str, Any]]] = []
    monkeypatch.setattr(runpoll, "run_poll", lambda job, k, o: calls.append((job, k, o)))
    shared = ["--endpoint-url", "http://127.0.0.1:9", "--interval", "2.5", "--duration", "7"]
    shared += ["--heartbeat", "30", "--service", "ns/svc", "--cluster", "c1", "--db", "sqlite://"]
    result = CliRunner().invoke(app, ["poll", *argv, *shared])
    assert result.exit_code == 0, result.output
    [(job, got_key, got_settings)] = calls
    assert (got_key, got_settings) == (key, settings)
    assert (job.db, job.cluster, job.service) == ("sqlite://", "c1", "ns/svc")
    assert (job.interval, job.duration, job.heartbeat) == (2.5, 7.0, 30.0)
    assert job.endpoint == "http://127.0.0.1:9" and callable(job.derive)


def test_shared_options_keep_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[runpoll.PollJob] = []
    monkeypatch.setattr(runpoll, "run_poll", lambda job, k, o: calls.append(job))
    monkeypatch.delenv("GAPWATCH_CLUSTER", raising=False)
    monkeypatch.delenv("GAPWATCH_DB", raising=False)
    result = CliRunner().invoke(app, ["poll", "huawei-elb", "--pool-id", "p-1"])
    assert result.exit_code == 0, result.output
    [job] = calls
    assert (job.cluster, job.service, job.endpoint) == ("default", None, None)
    assert (job.interval, job.duration, job.heartbeat) == (5.0, None, 60.0)
    assert job.db == "sqlite:///gapwatch.db"
