"""benchmarks/uncertain_false.py (session 31): the uncertain false windows by cause in the three
modes the accuracy figures are given in (with the NodePort probes, `--without-nodeport`,
`--without-nodeport --with-configz`), and by the kube-proxy lag bound each window's Service read
(the assumed `proxy_lag_max_s` or a measured one: what the widest cause waits on). The script is
run as a reader runs it, on a few development seeds, in a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "uncertain_false.py"


def _run(*args: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--random",
            "30",
            "--first-seed",
            "100",
            "--jobs",
            "1",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _table(out: str, title: str) -> dict[str, int]:
    """The rows (label -> count) of the table printed under `title`."""
    lines = out.splitlines()
    start = lines.index(f"{title}:") + 1
    rows: dict[str, int] = {}
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        label, count = re.match(r"  (.+?)\s+(\d+)\s+\d", line).groups()  # type: ignore[union-attr]
        rows[label] = int(count)
    return rows


def test_the_configz_mode_runs_and_every_window_has_its_lag_bound() -> None:
    out = _run("--without-nodeport", "--with-configz")
    total = int(re.match(r"seeds 100-129: (\d+) uncertain false windows", out).group(1))  # type: ignore[union-attr]
    assert total > 0
    bounds = _table(out, "cause / kube-proxy lag bound of its Service (mean width)")
    assert sum(bounds.values()) == total
    assert all("lag bound assumed (60 s)" in k or "lag bound measured" in k for k in bounds)
    sides = _table(out, "side / class (count, share, mean width)")
    assert sum(sides.values()) == total


def test_the_no_probes_mode_reads_no_probe_and_says_how_many_lags_each_bound_had() -> None:
    """`--no-probes` (session 33; accuracy.py's mode without any kube-proxy probe): every window's
    F is inferred from the endpoints, no probe lane is left; each window whose Service assumes the
    lag bound says whether any lag was measured there (what a smaller `min_measurements` would
    have to go on)."""
    out = _run("--no-probes")
    total = int(re.match(r"seeds 100-129: (\d+) uncertain false windows", out).group(1))  # type: ignore[union-attr]
    assert total > 0
    sources = _table(out, "side / F source / R source")
    assert sum(sources.values()) == total
    assert all(label.split(" / ")[1] == "inferred" for label in sources)
    bounds = _table(out, "cause / kube-proxy lag bound of its Service (mean width)")
    assert sum(bounds.values()) == total
    assigned = [k for k in bounds if "lag bound assumed" in k]
    assert assigned
    assert all(k.endswith(("none measured", "1-4 measured")) for k in assigned)


def _pairs(out: str, title: str) -> dict[str, tuple[int, int]]:
    """The rows (label -> (false, holding a true window)) of an `_against` table."""
    lines = out.splitlines()
    start = lines.index(f"{title}: uncertain false / uncertain holding a true window:") + 1
    rows: dict[str, tuple[int, int]] = {}
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        label, f, t = re.match(r"  (.+?)\s+(\d+)\s+(\d+)$", line).groups()  # type: ignore[union-attr]
        rows[label] = (int(f), int(t))
    return rows


def test_each_cause_is_set_beside_the_uncertain_windows_that_hold_a_true_one() -> None:
    """Session 38: the uncertain false windows of a cause (or a shape: cause, side, class, CCM
    mode, PTE) beside the uncertain windows of the same cause that hold a true window, which a
    rule removing the cause would lose with them (issue 13's bound: how many no rule reading
    those columns can remove without recall lost). Every uncertain window is counted once: the
    false ones as the first line says, the others as the second; the shape table splits the
    false ones into those sharing a shape with a true one and those in a shape of their own."""
    out = _run()
    total = int(re.search(r"seeds 100-129: (\d+) uncertain false windows", out).group(1))  # type: ignore[union-attr]
    held = int(re.search(r"uncertain windows holding a true window: (\d+)", out).group(1))  # type: ignore[union-attr]
    assert total > 0
    assert held > 0
    for title in ("cause", "cause / side", "cause / what would have decided it"):
        pairs = _pairs(out, title)
        assert sum(f for f, _t in pairs.values()) == total
        assert sum(t for _f, t in pairs.values()) == held
    lines = out.splitlines()
    start = lines.index(
        "cause: uncertain false sharing its shape with a true one / in a shape of its own:"
    )
    last = next(line for line in lines[start + 1 :] if line.startswith("  all "))
    shared, alone = (int(x) for x in last.split()[-2:])
    assert shared + alone == total


def test_the_ceilings_say_which_false_window_an_exact_clock_or_a_10_s_bound_takes() -> None:
    """Session 39 (`--ceilings`): each false window is detected again as if every node's clock
    were exact (`node_clock_s` 0) and kube-proxy's lag bound 10 s (`proxy_lag_max_s`), settings
    no recording shows, and says which takes it. Development seeds 35,000,500-35,000,501: a
    0.6 ms `pod-gone-before-deregistered` window at 35,000,500 node-003 hangs on the old pod's
    death known to its kubelet's second, so only the exact clock takes it; 35,000,501 node-002's
    5.7 s window hangs on the replacement's programming bounded by the assumed 60 s, so only
    the 10 s bound takes it; 35,000,500 node-006's 4.4 s window survives both (`left`). Every
    false window is counted once across the tags."""
    out = _run("--random", "2", "--first-seed", "35000500", "--ceilings", "--list")
    total = int(re.search(r"seeds 35000500-35000501: (\d+) uncertain false windows", out).group(1))  # type: ignore[union-attr]
    taken = _table(out, "cause / what the ceilings take (`CEILINGS`)")
    assert sum(taken.values()) == total == 3
    left = int(re.search(r"left by both ceilings: (\d+) of (\d+)", out).group(1))  # type: ignore[union-attr]
    assert left == sum(n for k, n in taken.items() if k.endswith(" / left")) == 1
    listed = {
        " ".join(line.split()[1:3]): line.rsplit(" | ", 1)[1]
        for line in out.splitlines()
        if line.startswith("  window ")
    }
    assert listed == {
        "35000500 node-003": "the node clock alone",
        "35000500 node-006": "left",
        "35000501 node-002": "the lag bound alone",
    }
