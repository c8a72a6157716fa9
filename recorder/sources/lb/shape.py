"""The shared shape every LB poller maps its cloud's answer to, and the observations it becomes.

A target is reported in ELBv2's `TargetHealthDescription` vocabulary (docs/observation.md,
`TargetHealth`): `Target.Id/Port`, `HealthCheckPort`, `TargetHealth.State/Reason/Description`,
plus `TargetGroupArn` (the group's id, whatever the cloud calls it). Other clouds add `Weight`
(endpoint-driven CCMs steer by membership and weight, not only health), `Cloud` and `Native`
(the member exactly as the cloud's API returned it), so nothing the cloud said is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gapwatch.recorder.errors import SourceError

#: ELBv2 target states (AWS docs "Target health status", samples/aws-elb/*reason-codes.md).
STATES = (
    "initial",
    "healthy",
    "unhealthy",
    "unhealthy.draining",
    "unused",
    "draining",
    "unavailable",
)

#: Reason gapwatch writes for a member a non-AWS LB keeps with weight 0 (Tencent's
#: `enable-grace-shutdown`, Alibaba's CCM during a drain): the LB sends it no new connections,
#: which is what ELBv2 calls `draining`. Not an AWS reason code; documented in docs/observation.md.
WEIGHT_ZERO_REASON = "Target.WeightZero"


#: Characters of an SDK's message kept in an error: its text may hold the whole answer.
MAX_REASON = 200
#: What reading an answer that is not of the cloud's shape raises: a key missing, a list where
#: an object was, a number that is text. Before session 36 they went past the poller's
#: `LbApiError` handling and stopped the recorder (Huawei's `KeyError: 'members'`).
SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError)


def members_field(answer: Mapping[str, Any], name: str) -> Any:
    """The field of a members answer that holds the members: absent or null, the answer is
    not the cloud's (`KeyError`, a failed look through `SHAPE_ERRORS`), never a group of no
    members. Alibaba answers an empty vServer group `"BackendServers": {"BackendServer": []}`
    and Tencent's `DescribeTargets.Listeners` is not among the fields its API says may be null;
    read as empty, an endpoint answering `{"RequestId": ..}` made every member look removed
    (session 37)."""
    value = answer.get(name)
    if value is None:
        raise KeyError(name)
    return value


class LbApiError(SourceError):
    """A cloud LB API call failed; `code` is the cloud's error code when it sent one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Throttled(LbApiError):
    """The cloud asked us to slow down (AWS `Throttling`, Alibaba `Throttling.User`, ...)."""


def sdk_error(
    cloud: str, operation: str, exc: Exception, *, code: str, message: object, throttled: bool
) -> LbApiError:
    """What a cloud SDK's exception becomes: `CLOUD OPERATION: CODE: MESSAGE` (the exception's
    type when the cloud sent no code), a `Throttled` when the cloud asked us to slow down."""
    cls = Throttled if throttled else LbApiError
    text = str(message)[:MAX_REASON]  # an SDK's message may hold the whole answer
    return cls(f"{cloud} {operation}: {code or type(exc).__name__}: {text}", code=code or None)


def answer_error(cloud: str, operation: str, exc: Exception) -> LbApiError:
    """What an answer refused (lb/intime.py) or not of the cloud's shape (`SHAPE_ERRORS` while
    it is read) becomes: a failed look naming the call, never the answer itself."""
    if isinstance(exc, SHAPE_ERRORS):
        why = f"not {cloud}'s answer: {type(exc).__name__}: {str(exc)[:MAX_REASON]}"
        return LbApiError(f"{cloud} {operation}: {why}")
    return LbApiError(f"{cloud} {operation}: {exc}")


class MissingExtra(SourceError):
    """The cloud's SDK is not installed: `extra` names the install extra that brings it (None:
    a core dependency, missing from a broken install). deploy/'s recorder image has no pip, so
    the message names its build argument too."""

    def __init__(self, cloud: str, extra: str | None, exc: ImportError) -> None:
        if extra is None:
            how = "reinstall gapwatch, which depends on it"
        else:
            how = (
                f"pip install 'gapwatch[{extra}]', or build deploy/'s recorder image (it has no "
                f"pip) with --build-arg EXTRAS={extra}"
            )
        super().__init__(f"the {cloud} poller needs its SDK ({exc.msg}): {how}")


@dataclass(frozen=True, slots=True)
class Target:
    """One member of an LB group as one look saw it."""

    id: str
    port: int | None
    state: str
    reason: str | None = None
    description: str | None = None
    ip: str | None = None
    weight: int | None = None
    #: extra ELBv2 `Target` fields (AvailabilityZone) kept as returned
    target_extra: Mapping[str, Any] = field(default_factory=dict)
    #: the member as the cloud returned it (for ELBv2: the TargetHealthDescription itself)
    native: Mapping[str, Any] | None = None

    @property
    def key(self) -> str:
        """Identity inside the group: a target is (id, port), as in ELBv2."""
        return f"{self.id}:{'' if self.port is None else self.port}"


@dataclass(frozen=True, slots=True)
class GroupLook:
    """One look at one group: its members and the settings that decide LB timing."""

    group: str
    targets: tuple[Target, ...]
    health_check_port: str | None = None
    #: timing attributes (deregistration delay, health-check interval, thresholds), as strings
    attributes: Mapping[str, str] = field(default_factory=dict)
    cloud: str = "aws"


def target_payload(look: GroupLook, target: Target) -> dict[str, Any]:
    """The `TargetHealth` payload of one target (docs/observation.md)."""
    if look.cloud == "aws" and target.native is not None:
        # ELBv2's own TargetHealthDescription, untouched, plus the group it belongs to
        payload = {**dict(target.native), "TargetGroupArn": look.group}
        if look.health_check_port is not None:
            payload.setdefault("HealthCheckPort", look.health_check_port)
        return payload
    tgt: dict[str, Any] = {"Id": target.id, **dict(target.target_extra)}
    if target.port is not None:
        tgt["Port"] = target.port
    health: dict[str, Any] = {"State": target.state}
    if target.reason:
        health["Reason"] = target.reason
    if target.description:
        health["Description"] = target.description
    out: dict[str, Any] = {"Target": tgt, "TargetHealth": health, "TargetGroupArn": look.group}
    if look.health_check_port is not None:
        out["HealthCheckPort"] = look.health_check_port
    if look.cloud != "aws":
        out["Cloud"] = look.cloud
        if target.ip is not None:
            out["Ip"] = target.ip
        if target.weight is not None:
            out["Weight"] = target.weight
        if target.native is not None:
            out["Native"] = dict(target.native)
    return out


def attributes_payload(look: GroupLook) -> dict[str, Any]:
    """The `TargetGroupAttributes` payload of one group (docs/observation.md)."""
    payload: dict[str, Any] = {
        "TargetGroupArn": look.group,
        "Attributes": dict(sorted(look.attributes.items())),
        "Cloud": look.cloud,
    }
    if look.health_check_port is not None:
        payload["HealthCheckPort"] = look.health_check_port
    return payload


def weighted_state(state: str, weight: int | None, reason: str | None) -> tuple[str, str | None]:
    """A registered member with weight 0 gets no new connections: ELBv2's `draining`."""
    if weight == 0 and state in ("healthy", "initial", "unhealthy", "unavailable"):
        return "draining", WEIGHT_ZERO_REASON
    return state, reason


def as_int(value: Any) -> int | None:
    """Clouds send ports and weights as numbers or strings ("80"); None when neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def split_endpoint(endpoint: str | None, default_protocol: str = "https") -> tuple[str | None, str]:
    """`http://host:port` or `host[:port]` -> (host[:port], protocol), for SDKs that take both."""
    if endpoint is None:
        return None, default_protocol
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        return endpoint.rstrip("/"), default_protocol
    return rest.rstrip("/"), scheme.lower()
