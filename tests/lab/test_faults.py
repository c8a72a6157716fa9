"""The fault catalogue's settings (recorder/lab/faults.py): what each fault changes in the lab
before it runs. The faults themselves run in test_lab_row_*.py (short table) and
`lab table --long`."""

from __future__ import annotations

import pytest

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.lab.faults import FAULTS, PG_STOP_SPOOL_BYTES, describe, make_fault
from gapwatch.recorder.lab.table import LONG_PLAN, SHORT_PLAN


def test_pg_stop_runs_with_a_spool_the_outage_fills_and_others_with_the_default() -> None:
    assert make_fault("pg-stop", 1, long=True).spool_bytes == PG_STOP_SPOOL_BYTES == 256 * 1024
    assert make_fault("sigkill", 1).spool_bytes is None


def test_every_fault_is_in_the_long_plan_and_described() -> None:
    assert set(FAULTS) | {"none"} == set(LONG_PLAN)
    assert set(SHORT_PLAN) <= set(LONG_PLAN)
    assert LONG_PLAN["sigkill"] >= 20
    assert all(text for text in describe().values())
    with pytest.raises(ConfigError, match="unknown fault 'sigkil'"):
        make_fault("sigkil", 1)


def test_faults_of_one_kind_do_not_share_state() -> None:
    a, b = make_fault("sigkill-all", 1), make_fault("sigkill-all", 2)
    a.blind.append((1.0, 2.0))
    a.problems.append("x")
    assert b.blind == [] and b.problems == []


def test_the_cloud_rows_run_on_their_cloud_with_its_preset() -> None:
    got = {n: (make_fault(n, 1).lb, make_fault(n, 1).scenario) for n in FAULTS if n[:3] == "lb-"}
    assert got == {
        "lb-alibaba": ("alibaba", "alibaba-slb"),
        "lb-tencent": ("tencent", "tencent-clb-grace"),
        "lb-huawei": ("huawei", "seed-3node"),
    }
    assert make_fault("sigkill", 1).lb is None


def test_an_unknown_load_balancer_is_refused_before_anything_starts() -> None:
    from typer.testing import CliRunner

    from gapwatch.dashboard.cli import app

    result = CliRunner().invoke(app, ["lab", "--lb", "gcp"])
    assert result.exit_code == 2
    assert "'gcp': one of aws, alibaba, tencent, huawei" in result.output
