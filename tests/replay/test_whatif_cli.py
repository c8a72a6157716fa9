"""`gapwatch whatif`: the dashboard's what-if from the command line, on the demo store. With no
setting changed it answers the recorded windows; under `advise`'s recommendation, the count
`advise` promises."""

from __future__ import annotations

import orjson
import pytest

from gapwatch.dashboard.demo import DemoStore, build_demo_store
from tests.test_cli_honest import run


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return build_demo_store(tmp_path_factory.mktemp("whatif") / "demo.db")


def _key(w: dict[str, object]) -> tuple[object, ...]:
    return (w["node"], w["class"], w["start"], w["end"])


@pytest.mark.parametrize("cluster", ["seed", "aws"])
def test_nothing_changed_is_the_recorded_windows(demo: DemoStore, cluster: str) -> None:
    code, out, err = run("whatif", "--db", demo.url, "--cluster", cluster, "--json")
    assert code == 0, err
    doc = orjson.loads(out)
    code, gaps, err = run("gaps", "--db", demo.url, "--cluster", cluster, "--json")
    recorded = orjson.loads(gaps)
    assert doc["settings"] == {} and doc["windows_recorded"] == len(recorded)
    assert sorted(map(_key, doc["windows"])) == sorted(map(_key, recorded))


def test_the_advice_applied_leaves_what_advise_promised(demo: DemoStore) -> None:
    code, out, err = run("advise", "--db", demo.url, "--cluster", "seed", "--json")
    assert code == 0, err
    advice = orjson.loads(out)
    s = advice["settings"]
    args = ["--prestop", str(s["prestop_s"]), "--grace", str(s["termination_grace_s"])]
    args += ["--pte" if s["proxy_terminating_endpoints"] else "--no-pte"]
    if "ccm_register_delay_s" in s:
        args += ["--register-delay", str(s["ccm_register_delay_s"])]
    code, out, err = run("whatif", "--db", demo.url, "--cluster", "seed", *args, "--json")
    assert code == 0, err
    assert len(orjson.loads(out)["windows"]) == advice["windows_after"]
    code, table, err = run("whatif", "--db", demo.url, "--cluster", "seed", *args)
    assert f"{advice['windows_after']} window(s) left, against {advice['windows_before']}" in table


def test_a_rollout_sets_the_span(demo: DemoStore) -> None:
    code, out, err = run("rollouts", "--db", demo.url, "--cluster", "seed", "--json")
    (rollout,) = [r for r in orjson.loads(out) if r["kind"] == "rollout"]
    code, out, err = run("whatif", "--db", demo.url, "--rollout", rollout["id"][:8], "--json")
    assert code == 0, err
    assert orjson.loads(out)["windows_recorded"] == rollout["windows"]
    code, _out, err = run(
        "whatif", "--db", demo.url, "--rollout", rollout["id"], "--since", "2026-01-01T00:00:00Z"
    )
    assert code == 2 and "--rollout sets the span" in err


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--register-delay", "1e308"),
        ("--prestop", "nan"),
        ("--grace", "inf"),
        ("--prestop", "86401"),
    ],
)
def test_a_setting_past_a_day_or_no_number_is_a_usage_error(
    demo: DemoStore, option: str, value: str
) -> None:
    """--register-delay 1e308 printed an OverflowError traceback (cannot convert float infinity
    to integer), --prestop nan a ValueError one, --grace inf ran."""
    code, out, err = run("whatif", "--db", demo.url, "--cluster", "seed", option, value)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "Error:" not in err, err
    assert f"Invalid value for {option}:" in err, err
    said = " ".join(err.replace("│", " ").split())  # Typer's box, wrapped at 80 columns
    assert "is not a number of seconds up to 86,400 (a day)" in said, err
    code, out, err = run("whatif", "--db", demo.url, "--cluster", "seed", option, "86400")
    assert code == 0, err
