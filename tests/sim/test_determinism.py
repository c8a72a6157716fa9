"""Same scenario and seed: the same bytes, observations and truth alike."""

from __future__ import annotations

import io

import pytest

from gapwatch.recorder.ndjson import dumps
from gapwatch.recorder.sim import load_scenario, run


def render(name: str, seed: int) -> tuple[bytes, bytes]:
    result = run(load_scenario(name), seed)
    observations = "".join(dumps(o) + "\n" for o in result.observations).encode()
    truth = io.BytesIO()
    result.truth.write(truth)
    return observations, truth.getvalue()


@pytest.mark.parametrize("name", ["seed-3node", "aws-nlb"])
def test_same_seed_same_bytes(name: str) -> None:
    first = render(name, 7)
    second = render(name, 7)
    assert first[0] == second[0]
    assert first[1] == second[1]
    assert len(first[0]) > 10_000


def test_another_seed_gives_another_run() -> None:
    assert render("seed-3node", 1) != render("seed-3node", 2)


def test_traffic_does_not_change_the_cluster() -> None:
    """Requests use their own random stream: turning traffic off keeps the same windows."""
    with_traffic = run(load_scenario("seed-3node"), 3).truth
    quiet = run(load_scenario("seed-3node", {"traffic.rps": 0}), 3).truth
    assert with_traffic.windows == quiet.windows
    assert with_traffic.requests and not quiet.requests
