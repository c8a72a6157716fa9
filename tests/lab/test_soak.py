"""The soak's parts (recorder/lab/soak.py, benchmarks/soak.py) without a long run: the faults
in turn, each in its own slot; their findings merged for the verdict; the memory fit; the
baseline observing what the lab's recorders record (recorder/lab/run.py)."""

from __future__ import annotations

import os
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.lab.faults import make_fault
from gapwatch.recorder.lab.run import kinds_not_recorded
from gapwatch.recorder.lab.soak import Sample, Soak, growth, read_proc, slots
from gapwatch.recorder.sim import load_scenario

CYCLE = ("watch-drop", "gone-410", "elb-throttle")


def _lab(duration_s: float) -> Any:
    """What scheduling reads of a Lab: the scenario's length (the faults' actions, which touch
    the fakes, are not run here)."""
    return SimpleNamespace(scenario=SimpleNamespace(duration_s=duration_s, events=[]))


def test_slots_cover_the_run_after_one_quiet_slot() -> None:
    assert slots(1000, 300) == [300, 600]
    assert slots(1200, 300) == [300, 600, 900]
    assert slots(500, 300) == []
    with pytest.raises(ValueError):
        slots(1000, 0)


def test_each_fault_strikes_in_its_own_slot_in_turn() -> None:
    soak = Soak(name="soak", seed=7, cycle=CYCLE, slot_s=100)
    events = soak.prepare(_lab(1000))
    assert [c.name for c in soak.children] == [*CYCLE, *CYCLE, *CYCLE]  # slots 100-900
    for child, lo in zip(soak.children, slots(1000, 100), strict=True):
        assert child.span == (lo, lo + 50)  # the first half: a fault ends before the next
        assert child.until_s == lo + 100  # its effects are read up to the next slot
    # every moment lies in its fault's slot: watch-drop 3, gone-410 2, elb-throttle 2 a slot
    assert len(events) == 3 * (3 + 2 + 2)
    for child, lo in zip(soak.children, slots(1000, 100), strict=True):
        own = child.pick(_lab(1000), 5)
        assert all(lo <= at <= lo + 50 for at in own)
    # seeded: the same soak draws the same moments
    again = Soak(name="soak", seed=7, cycle=CYCLE, slot_s=100)
    assert [at for at, _ in again.prepare(_lab(1000))] == [at for at, _ in events]


def test_a_fault_outside_a_soak_draws_in_the_busy_stretch() -> None:
    fault = make_fault("watch-drop", 3)
    lab: Any = SimpleNamespace(
        scenario=SimpleNamespace(duration_s=1000, events=[SimpleNamespace(at_s=200)])
    )
    assert all(190 <= at <= 260 for at, _ in fault.prepare(lab))


def test_the_soak_merges_what_its_faults_leave_for_the_verdict() -> None:
    soak = Soak(name="soak", seed=1, cycle=CYCLE, slot_s=100)
    lab = _lab(400)
    soak.prepare(lab)
    first, second, third = soak.children
    first.gaps["Pod"] = [(10, 20)]
    second.gaps["Pod"] = [(30, 40)]
    second.gaps["Node"] = [(50, 60)]
    first.blind.append((1.0, 2.0))
    third.unknown.append((3.0, 4.0))
    third.problems.append("lost a change")
    first.notes.append("dropped")
    notes = soak.finish(lab)
    assert soak.gaps == {"Pod": [(10, 20), (30, 40)], "Node": [(50, 60)]}
    assert soak.blind == [(1.0, 2.0)] and soak.unknown == [(3.0, 4.0)]
    assert soak.problems == ["lost a change"]
    assert "watch-drop (seed 1000): dropped" in notes


@pytest.mark.parametrize("name", ["takeover", "sigkill-all", "clock-jump"])
def test_faults_that_leave_fewer_replicas_or_act_once_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Soak(name="soak", seed=1, cycle=("watch-drop", name)).prepare(_lab(1000))


def test_an_empty_cycle_is_a_soak_without_faults() -> None:
    soak = Soak(name="soak", seed=1, cycle=())
    assert soak.prepare(_lab(1000)) == [] and soak.children == []


def _samples(pid: int, start: float, minutes: int, mb_per_h: float) -> list[Sample]:
    return [
        Sample(start + 60 * m, pid, int((100 + mb_per_h * m / 60) * 1024), 30 + m % 3, 6)
        for m in range(minutes)
    ]


def test_growth_fits_memory_after_each_process_warm_up() -> None:
    samples = _samples(1, 0, 61, 12.0) + _samples(2, 600, 31, 0.0) + _samples(3, 0, 2, 500.0)
    # a warm-up spike the fit must leave out
    samples[0] = replace(samples[0], rss_kb=900 * 1024)
    by_pid = {g.pid: g for g in growth(samples, warmup_s=60)}
    assert set(by_pid) == {1, 2}  # pid 3: too few samples after its warm-up
    assert by_pid[1].slope_mb_per_h == pytest.approx(12.0, rel=0.01)
    assert by_pid[1].rss_max_mb < 200 and by_pid[1].minutes == pytest.approx(59)
    assert by_pid[2].slope_mb_per_h == pytest.approx(0.0, abs=1e-9)
    assert by_pid[2].fds == (30, 32) and by_pid[2].threads == (6, 6)


def test_read_proc_reads_a_live_process_and_not_a_gone_one() -> None:
    me = read_proc(os.getpid(), 0.0)
    assert me is not None and me.rss_kb > 10_000 and me.fds >= 3 and me.threads >= 1
    assert read_proc(2**22 + 12345, 0.0) is None  # above pid_max's default: no such process


def test_the_baseline_leaves_out_what_the_recorders_do_not_probe() -> None:
    """The simulator's prober connects to every Service's NodePort; the recorder's (default
    `nodeport: fallback`, docs/kubeproxy.md) only where a Service has no health-check node
    port. The lab's baseline observes what its recorders observe."""
    lb = load_scenario("aws-nlb").service
    node_port = replace(lb, type="NodePort")
    assert kinds_not_recorded({}, lb) == {"NodePortProbe"}
    assert kinds_not_recorded({}, node_port) == frozenset()
    assert kinds_not_recorded({"nodeport": "always"}, lb) == frozenset()
    assert kinds_not_recorded({"nodeport": "never"}, node_port) == {"NodePortProbe"}


def test_a_restart_in_a_soak_reads_only_the_relists_of_its_own_slot() -> None:
    """A recorder restarted by a later fault lists every kind again: an apiserver restart's
    relist gaps and its relisted stretch must not reach over it (the 20-minute soak of session
    23 marked windows 2,000 s later as 'a relist passed over it')."""
    fault: Any = make_fault("apiserver-restart", 1)
    fault.back_wall, fault.down_s = 100.0, 500.0
    fault.points = {"Pod": "10", "Node": "12"}
    served = [
        ("pods", 20, 101.0),
        ("nodes", 21, 102.0),
        ("pods", 90, 300.0),
        ("services", 95, 300.0),
    ]
    lab: Any = SimpleNamespace(
        world=SimpleNamespace(api=SimpleNamespace(lists_served=served)),
        t0=0.0,
        settings=SimpleNamespace(speed=5.0),
        wall_at=lambda sim_s: sim_s / 5.0,
    )
    fault.until_s = 1000.0  # wall 200: the lists at wall 300 belong to a later fault
    fault.finish(lab)
    assert fault.gaps == {"Pod": [(10, 20)], "Node": [(12, 21)]}
    assert fault.unknown == [(500.0, 510.0)]
    unbounded: Any = make_fault("apiserver-restart", 1)
    unbounded.back_wall, unbounded.down_s, unbounded.points = 100.0, 500.0, fault.points
    unbounded.finish(lab)
    assert unbounded.gaps["Service"] == [(0, 95)] and unbounded.unknown == [(500.0, 1500.0)]


def test_a_soak_poisons_more_than_once() -> None:
    """The poison fault's objects are named by its seed: the second poison slot of a soak made
    the same Pod again and the fake apiserver refused it (the soak stopped with a KeyError)."""
    from gapwatch.recorder.lab.fakes.fakestore import FakeStore

    api = FakeStore()
    lab: Any = SimpleNamespace(
        world=SimpleNamespace(api=api),
        scenario=SimpleNamespace(duration_s=1000, events=[]),
        sim_now=lambda: 1.0,
    )
    soak = Soak(name="soak", seed=1, cycle=("poison",), slot_s=200)
    for _at, action in soak.prepare(lab):
        action()
    assert len(soak.children) == 4
    made = [c for c in api.log if c.key[0] == "lab-poison"]
    assert len(made) == 8 and len({c.key for c in made}) == 8
