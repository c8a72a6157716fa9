"""An LB state that ended before the poller's first look is unobservable, not lost; one that
lasted past it is expected, and a stored one taken away is lost (recorder/lab/ledger.py,
`first_look_s`). Session 24's traced soak at load 5-7 printed `lb: expected 24, lost 2`: the
first instant is named once the replicas have started, not once they look, and its LB states
that ended first (82.2 and 90.1 s) ended before any poller's first answer. Here the fake ELBv2
answers `Throttling` to every call until 40 s (simulated) so that the first look comes after
two states have ended, as a slow start did there. In-process (open_lab, record_run, the
ledger): real recorders, moto, PostgreSQL; no replay, no baseline."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from gapwatch.recorder.lab.compare import score, unseen
from gapwatch.recorder.lab.pg import LabStore
from gapwatch.recorder.lab.procs import gaps_json
from gapwatch.recorder.lab.run import (
    LB_FIRST_LOOK,
    count_transitions,
    first_look_s,
    sampling_bound,
    start_blind,
)
from gapwatch.recorder.lab.session import LabSettings, open_lab, record_run
from gapwatch.recorder.store import make_engine
from gapwatch.recorder.timefmt import parse_time
from tests.lab.labcli import SPEED

#: The aws-nlb preset with two rollouts: the LB changes at 22.2 s (ip-10-0-1-13's target
#: healthy) and 30.1 s (ip-10-0-1-10's unhealthy), then at 80.1 s (ip-10-0-1-10's healthy) and
#: 92.2 s (ip-10-0-1-13's unhealthy)
SCENARIO = {
    "preset": "aws-nlb",
    "name": "first-look",
    "duration_s": 110,
    "events": [
        {"at_s": 5, "action": "rollout", "workload": "ingress"},
        {"at_s": 60, "action": "rollout", "workload": "ingress"},
    ],
}
#: Until this simulated second every ELBv2 call is throttled
UNTHROTTLED_AT_S = 40.0


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_lb_states_before_the_first_look_are_unobservable_and_a_dropped_row_is_lost(
    pg_empty_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "first-look.yaml"
    path.write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    settings = LabSettings(scenario=str(path), speed=float(SPEED))
    with open_lab(settings, LabStore(given=pg_empty_url), lambda _line: None) as lab:
        elb = lab.world.elb
        assert elb is not None
        elb.throttle(10**9)
        record_run(lab, [(UNTHROTTLED_AT_S, elb.stop_throttling)], lambda _line: None)
        first = first_look_s(lab, LB_FIRST_LOOK)
        counts = count_transitions(lab, None)
        ends = _state_ends(lab.world.target_log)
        origin = parse_time(lab.scenario.start)
        # the windows: the true one at 19.6-30.1 s (ip-10-0-1-10) lies before the first look
        bound = sampling_bound(lab.settings, lab.late_s)
        recorded = gaps_json(lab.db, lab.cluster)
        windows = score(lab.result.truth.windows, recorded, origin, bound, lab.scenario.duration_s)
        hidden = [p for p in windows.pairs if unseen(p, start_blind(lab), bound)]
        # take every stored `healthy` of ip-10-0-1-10's target after the second rollout away
        back = next(ident for at, ident, state in lab.world.target_log if 60 < at < 85)
        engine = make_engine(lab.db)
        try:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "DELETE FROM events WHERE cluster = :c AND kind = 'TargetHealth' "
                        "AND payload->'Target'->>'Id' = :t AND observed_at > :after "
                        "AND op <> 'DELETED' AND payload->'TargetHealth'->>'State' = 'healthy'"
                    ),
                    {"c": lab.cluster, "t": back, "after": origin + timedelta(seconds=60)},
                )
        finally:
            engine.dispose()
        after = count_transitions(lab, None)["lb"]
    assert first is not None and first >= UNTHROTTLED_AT_S
    lb = counts["lb"]
    ended_before = sorted(end for end in ends if end <= first)
    assert ended_before == [22.2, 30.1], (first, ends)  # the two the throttle hid
    assert lb.lost == [] and lb.duplicated == [], lb
    assert len(lb.unobservable) == 2 and all("before the first look" in u for u in lb.unobservable)
    assert lb.expected > 0
    for kind in ("k8s", "kube-proxy"):
        assert counts[kind].lost == [] and counts[kind].duplicated == [], (kind, counts[kind])
    # no LB look saw the first window: unseen (need not be found, class not judged), and
    # replay must not claim it certain; the later two are judged as ever
    assert [round(p.true_start, 1) for p in hidden] == [19.6], windows.pairs
    assert not any(p.certain for p in hidden), hidden
    assert len(windows.pairs) == 3
    # a real loss is still one
    assert after.lost == [f"{back} -> healthy at 80.1 s"], after
    assert after.expected == lb.expected


def _state_ends(log: list[tuple[float, str, str]]) -> list[float]:
    """When each scripted LB state ended (the next change of its target), rounded to 0.1 s."""
    last: dict[str, float] = {}
    ends: list[float] = []
    for at, ident, _state in sorted(log):
        if ident in last:
            ends.append(round(at, 1))
        last[ident] = at
    return ends
