"""Hand-built replay.model objects for the dashboard's pure tests."""

from __future__ import annotations

from gapwatch.replay.model import Rollout, Segment, ServiceRef, Window, WindowClass

SVC = ServiceRef("c1", "istio-system", "istio-ingressgateway")
T0 = 1_795_000_000_000_000  # 2026-11-18T11:06:40Z in epoch microseconds
S = 1_000_000


def seg(
    node: str,
    lane: str,
    state: str,
    start_s: float,
    end_s: float | None,
    *,
    provenance: str = "measured",
    jitter_s: float = 0.0,
) -> Segment:
    start = T0 + int(start_s * S)
    return Segment(
        service=SVC,
        node=node,
        lane=lane,  # type: ignore[arg-type]
        state=state,
        start_us=start,
        end_us=None if end_s is None else T0 + int(end_s * S),
        start_earliest_us=start - int(jitter_s * S),
        start_latest_us=start,
        provenance=provenance,  # type: ignore[arg-type]
    )


def win(
    node: str,
    cls: WindowClass,
    start_s: float,
    end_s: float,
    *,
    slack_s: float = 0.0,
    failed: int | None = None,
    rollout: str | None = None,
    provenance: str = "measured",
    also: tuple[WindowClass, ...] = (),
) -> Window:
    start, end, slack = T0 + int(start_s * S), T0 + int(end_s * S), int(slack_s * S)
    return Window(
        service=SVC,
        node=node,
        cls=cls,
        start_us=start,
        end_us=end,
        start_earliest_us=start - slack,
        start_latest_us=start + slack,
        end_earliest_us=end - slack,
        end_latest_us=end + slack,
        provenance=provenance,  # type: ignore[arg-type]
        opened_by=(1, 2),
        closed_by=(3,),
        rollout=rollout,
        failed_requests=failed,
        also=also,
    )


def rollout(rid: str, start_s: float, end_s: float, windows: tuple[Window, ...]) -> Rollout:
    return Rollout(
        id=rid,
        service=SVC,
        kind="rollout",
        workload="Deployment/istio-system/istio-ingressgateway",
        revision_from="aaa",
        revision_to="bbb",
        start_us=T0 + int(start_s * S),
        end_us=T0 + int(end_s * S),
        windows=windows,
        nodes=tuple(sorted({w.node for w in windows})),
    )
