"""The replay engine's vocabulary (docs/semantics.md), as frozen dataclasses.

Times inside the engine are integer microseconds since the Unix epoch (`recorder.timefmt`
converts); durations handed to people are seconds. Every transition and window boundary carries
`[earliest, latest]`: the instant lies somewhere in there, given how the source sampled.
The dashboard and the CLI consume these types; they never look inside the fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# the one wording of a class (recorder/wording.py: the lab's reports use it too)
from gapwatch.recorder.wording import class_text as class_text

Lane = Literal["endpoints", "proxy", "lb", "pod", "node"]
Provenance = Literal["measured", "inferred"]
WindowClass = Literal[
    "registered-before-forwarding",
    "closed-before-deregistered",
    "pod-gone-before-deregistered",
    "node-not-ready",
]
WINDOW_CLASSES: tuple[WindowClass, ...] = (
    "registered-before-forwarding",
    "closed-before-deregistered",
    "pod-gone-before-deregistered",
    "node-not-ready",
)

#: Lane values (what a Segment's `state` may be, per lane).
ENDPOINT_STATES = ("ready", "serving-terminating", "none")
#: UNKNOWN: between the look that saw the old value and the one that saw the new (probes), or a
#: change kube-proxy may not have programmed yet (no probes); REFUSED: a NodePort look refused
#: or reset (rules to no live pod)
PROXY_STATES = ("OPEN", "REFUSED", "CLOSED", "DOWN", "UNKNOWN")
LB_STATES = (
    "ABSENT",
    "INITIAL",
    "HEALTHY",
    "UNHEALTHY",
    "DRAINING",
    "UNUSED",
    # CloudTrail membership (no poller): registered with unknown health, deregistered
    "REGISTERED",
    "DEREGISTERED",
    # between the poll that saw the old state and the one that saw the new
    "UNKNOWN",
)
POD_STATES = ("serving", "terminating", "unready", "gone")


@dataclass(frozen=True, order=True)
class ServiceRef:
    """An LB-facing Service in one cluster.

    Its hash is computed once (a slot beside the fields, not a field): it keys most of the
    fold's and detection's dicts, alone and in (Service, node) tuples, and a dataclass's own
    `__hash__` builds and hashes the fields' tuple on every lookup (8-9 % of a refresh's CPU
    went to such hashes, benchmarks/README.md "Session 24"). Pickled by its fields, so the
    hash is computed again where it is loaded (string hashes differ between processes)."""

    __slots__ = ("_hash", "cluster", "name", "namespace")

    cluster: str
    namespace: str
    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.cluster, self.namespace, self.name)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined,no-any-return]  # set by __post_init__, no field

    def __reduce__(self) -> tuple[type[ServiceRef], tuple[str, str, str]]:
        return (ServiceRef, (self.cluster, self.namespace, self.name))

    @property
    def key(self) -> str:
        """`namespace/name`, the form the CLI and JSON use."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Segment:
    """One lane of one (service, node) holding one state from `start` until `end`.

    `start_earliest..start_latest` bounds when the state really began (sampling); `end` is None
    while the state still holds at the end of the data.
    """

    service: ServiceRef
    node: str
    lane: Lane
    state: str
    start_us: int
    end_us: int | None
    start_earliest_us: int
    start_latest_us: int
    provenance: Provenance
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """A gap window: the LB routes to `node` while the node does not serve `service`."""

    service: ServiceRef
    node: str
    cls: WindowClass
    start_us: int
    end_us: int
    start_earliest_us: int
    start_latest_us: int
    end_earliest_us: int
    end_latest_us: int
    provenance: Provenance
    opened_by: tuple[int, ...] = ()
    closed_by: tuple[int, ...] = ()
    rollout: str | None = None
    failed_requests: int | None = None
    #: False when the samples allow this window but do not prove it (duration_min_s is 0)
    certain: bool = True
    #: other causes the samples allow as well as `cls` (docs/semantics.md, "Undecided
    #: classes"): empty when the evidence decides; `cls` is then the likelier reading, not a
    #: proven one
    also: tuple[WindowClass, ...] = ()

    @property
    def class_text(self) -> str:
        """The class as people read it, alternatives beside it (`class_text`)."""
        return class_text(self.cls, self.also)

    @property
    def duration_s(self) -> float:
        return (self.end_us - self.start_us) / 1e6

    @property
    def duration_min_s(self) -> float:
        return max(0, self.end_earliest_us - self.start_latest_us) / 1e6

    @property
    def duration_max_s(self) -> float:
        return (self.end_latest_us - self.start_earliest_us) / 1e6


@dataclass(frozen=True, slots=True)
class Rollout:
    """A revision change of the workload behind a Service, or a node disruption."""

    id: str
    service: ServiceRef
    kind: Literal["rollout", "node-disruption"]
    workload: str
    revision_from: str | None
    revision_to: str | None
    start_us: int
    end_us: int
    windows: tuple[Window, ...] = ()
    nodes: tuple[str, ...] = ()

    @property
    def gap_seconds(self) -> float:
        return sum(w.duration_s for w in self.windows)


@dataclass(frozen=True, slots=True)
class WhatIf:
    """Settings to replay the recorded timeline under. None means "as recorded"."""

    prestop_s: float | None = None
    termination_grace_s: float | None = None
    proxy_terminating_endpoints: bool | None = None
    ccm_register_delay_s: float | None = None
    hc_interval_s: float | None = None
    hc_healthy_threshold: int | None = None
    hc_unhealthy_threshold: int | None = None
    deregistration_delay_s: float | None = None


@dataclass(frozen=True, slots=True)
class LagStats:
    """A measured lag distribution (seconds)."""

    name: str
    samples: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class Advice:
    """Measured lags, the smallest settings that close every observed window, and the proof."""

    service: ServiceRef
    lags: tuple[LagStats, ...]
    settings: WhatIf
    windows_before: int
    windows_after: int
    notes: tuple[str, ...] = field(default=())
    #: each recommended setting as the real knob that sets it on this Service's platform, with
    #: how many measurements its number rests on
    knobs: tuple[str, ...] = field(default=())
