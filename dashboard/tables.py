"""Rows for the dashboard's tables: pure functions from replay.model objects to plain dicts.

Window rows carry the same fields as a gap window in the CLI's `--json` (replay.cli.window_dict,
listed in docs/semantics.md), so what the dashboard shows, downloads and what `gapwatch gaps
--json` prints agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gapwatch.dashboard.figures import rank_rollouts, rollout_label
from gapwatch.recorder.timefmt import format_time, from_micros
from gapwatch.replay.cli import window_dict
from gapwatch.replay.model import WINDOW_CLASSES, LagStats, Rollout, Window

WINDOW_COLUMNS: tuple[str, ...] = (
    "cluster",
    "service",
    "node",
    "class",
    "also",
    "start",
    "end",
    "duration_s",
    "duration_min_s",
    "duration_max_s",
    "provenance",
    "certain",
    "rollout",
    "failed_requests",
)


def _t(micros: int) -> str:
    return format_time(from_micros(micros))


def also_cell(also: Sequence[str]) -> str:
    """The `also` column of a dashboard table: the other classes the samples allow, `or`-joined
    (`class_text` without the class); "" when the evidence decides."""
    return " or ".join(also)


def window_row(win: Window) -> dict[str, Any]:
    """The window as `gapwatch gaps --json` prints it."""
    return window_dict(win)


def window_rows(windows: Sequence[Window]) -> list[dict[str, Any]]:
    """One row per window, by start time then node."""
    return [window_row(w) for w in sorted(windows, key=lambda w: (w.start_us, w.node))]


def class_summary(windows: Sequence[Window]) -> list[dict[str, Any]]:
    """Per class: windows, how many of them are undecided (another class is as likely: their
    `also`), gap-seconds (best, lowest, highest), longest window, failed requests.

    `failed_requests` is None when no window of the class has impact data.
    """
    rows = []
    for cls in WINDOW_CLASSES:
        mine = [w for w in windows if w.cls == cls]
        impact = [w.failed_requests for w in mine if w.failed_requests is not None]
        rows.append(
            {
                "class": cls,
                "windows": len(mine),
                "undecided": sum(1 for w in mine if w.also),
                "gap_s": round(sum(w.duration_s for w in mine), 6),
                "gap_min_s": round(sum(w.duration_min_s for w in mine), 6),
                "gap_max_s": round(sum(w.duration_max_s for w in mine), 6),
                "longest_s": round(max((w.duration_s for w in mine), default=0.0), 6),
                "failed_requests": sum(impact) if impact else None,
            }
        )
    return rows


def rollout_rows(rollouts: Sequence[Rollout]) -> list[dict[str, Any]]:
    """Rollouts worst first, with their damage."""
    rows = []
    for r in rank_rollouts(rollouts):
        impact = [w.failed_requests for w in r.windows if w.failed_requests is not None]
        rows.append(
            {
                "id": r.id,
                "rollout": rollout_label(r),
                "cluster": r.service.cluster,
                "service": r.service.key,
                "kind": r.kind,
                "start": _t(r.start_us),
                "end": _t(r.end_us),
                "windows": len(r.windows),
                "gap_s": round(r.gap_seconds, 6),
                "nodes": ", ".join(r.nodes),
                "failed_requests": sum(impact) if impact else None,
            }
        )
    return rows


def unowned_window_rows(windows: Sequence[Window], margin_us: int) -> list[dict[str, Any]]:
    """Windows that belong to no rollout or node disruption, by start time then node, with the
    range (`since`, `until`: the window and `margin_us` either side) a link opens them over."""
    return [
        {
            "cluster": w.service.cluster,
            "service": w.service.key,
            "node": w.node,
            "class": w.cls,
            "also": also_cell(w.also),
            "start": _t(w.start_us),
            "duration_s": round(w.duration_s, 6),
            "proven": "proven" if w.certain else "possible",
            "since": _t(w.start_us - margin_us),
            "until": _t(w.end_us + margin_us),
        }
        for w in sorted(windows, key=lambda w: (w.start_us, w.node))
        if w.rollout is None
    ]


def worst_nodes(wins: list[Window], count: int) -> list[str]:
    """The `count` nodes with the most gap-seconds (then most windows), sorted by name."""
    damage: dict[str, tuple[float, int]] = {}
    for w in wins:
        seconds, n = damage.get(w.node, (0.0, 0))
        damage[w.node] = (seconds + w.duration_s, n + 1)
    ranked = sorted(damage, key=lambda node: (-damage[node][0], -damage[node][1], node))
    return sorted(ranked[:count])


def _tenth(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def lag_rows(lags: Sequence[LagStats]) -> list[dict[str, Any]]:
    """The measured lags as the what-if page lists them: seconds to a tenth, the unit in each
    column's name as in the other tables (`gap_s`); `samples` says how much each rests on. The
    page showed p50, p90, p99 and max as bare numbers, no unit on the page or in its captions."""
    return [
        {
            "lag": lag.name,
            "samples": lag.samples,
            "p50_s": _tenth(lag.p50),
            "p90_s": _tenth(lag.p90),
            "p99_s": _tenth(lag.p99),
            "max_s": _tenth(lag.max),
        }
        for lag in lags
    ]
