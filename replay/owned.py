"""Which windows one rollout (or node disruption) owns, for a what-if or an advice over its range.

A rollout's range (replay.rollout_range) is its start to its end plus `settle_s`; a neighbouring
group's windows can start inside it, and counting every window there as the rollout's made the
What-if page and `whatif --rollout` say "3 windows left, against 3 recorded" of a rollout that
owns none (issue #13). Ownership is replay's grouping (replay.group: the group whose change
opened the window): a recorded window carries it (`Window.rollout`, as the projections stored
it); a window the what-if re-simulated is grouped here the same way, against the groups of the
scoped state (`group.spans_of`, `group.pod_changes`, `group.assign`). The scoped state names a
group as the whole history does when the pods give the same workload; else the group with the
rollout's kind, revisions and start is taken. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gapwatch.replay.assumptions import DetectSettings, seconds_us
from gapwatch.replay.fold import FoldState
from gapwatch.replay.group import assign, pod_changes, pods_of, rollout_parts, spans_of
from gapwatch.replay.model import Rollout, Window


@dataclass(frozen=True, slots=True)
class Owner:
    """One group's windows among any the what-if gives for its Service."""

    #: the group's id as the projections store it (recorded windows carry it)
    rollout: str
    #: the same group's id among `spans` (None: the scoped state has no such group)
    scoped: str | None
    spans: tuple[Rollout, ...]
    changes: dict[tuple[str, str], list[tuple[int, str]]]
    settle_us: int
    #: the recorded windows: their stored `rollout` stands
    recorded: frozenset[Window]

    def owned(self, windows: Sequence[Window]) -> list[Window]:
        """Those of `windows` (any order) the group owns, in their order."""
        fresh = sorted((w for w in windows if w not in self.recorded), key=_start)
        grouped = assign(fresh, self.spans, self.changes, self.settle_us)
        mine = {id(w) for w, g in zip(fresh, grouped, strict=True) if g.rollout == self.scoped}
        out = []
        for w in windows:
            if w in self.recorded:
                if w.rollout == self.rollout:
                    out.append(w)
            elif self.scoped is not None and id(w) in mine:
                out.append(w)
        return out


def owner(
    state: FoldState,
    rollout: Rollout,
    recorded: Sequence[Window],
    settings: DetectSettings,
) -> Owner:
    """The Owner of `rollout` on `state` (folded from the facts around its range, or all);
    `recorded`: the Service's recorded windows the what-if may hand back unchanged."""
    svc = rollout.service
    pods = pods_of(state, svc)
    spans = spans_of(state, svc, rollout_parts(svc, pods))
    scoped = next((s.id for s in spans if s.id == rollout.id), None)
    if scoped is None:
        same = [s for s in spans if _same_group(s, rollout)]
        scoped = same[0].id if same else None
    return Owner(
        rollout.id,
        scoped,
        tuple(spans),
        pod_changes(state, svc, pods),
        seconds_us(settings.settle_s),
        frozenset(recorded),
    )


def _same_group(a: Rollout, b: Rollout) -> bool:
    """The same group, named apart: a rollout's workload is read from its ReplicaSet's owner,
    which the scoped state may not hold (then the name is the ReplicaSet's minus the hash)."""
    if a.kind != b.kind or a.start_us != b.start_us:
        return False
    if a.kind == "rollout":
        return (a.revision_from, a.revision_to) == (b.revision_from, b.revision_to)
    return a.workload == b.workload


def _start(w: Window) -> int:
    return w.start_us
