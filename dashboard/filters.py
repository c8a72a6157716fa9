"""The filters every page shares, and their round trip through URL query parameters.

A dashboard URL is shareable: `?page=rollout&cluster=prod&service=istio-system/gw&since=...&
until=...&rollout=ID&node=NODE` opens the same view (the rollout, and the window on that node)
for whoever follows it. Times in URLs are RFC 3339.
Pure: the app hands `st.query_params` in and writes `to_params()` back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from gapwatch.recorder.timefmt import format_time, parse_time, to_micros
from gapwatch.replay.model import ServiceRef

PAGES: tuple[str, ...] = ("overview", "rollout", "whatif", "sql")
PAGE_TITLES: dict[str, str] = {
    "overview": "Overview",
    "rollout": "Rollout",
    "whatif": "What-if",
    "sql": "SQL console",
}


@dataclass(frozen=True, slots=True)
class Filters:
    page: str = "overview"
    cluster: str | None = None
    service: str | None = None  # namespace/name
    since: datetime | None = None
    until: datetime | None = None
    rollout: str | None = None
    node: str | None = None
    live: bool = False

    @property
    def since_us(self) -> int | None:
        return None if self.since is None else to_micros(self.since)

    @property
    def until_us(self) -> int | None:
        return None if self.until is None else to_micros(self.until)

    def with_(self, **changes: object) -> Filters:
        return replace(self, **changes)  # type: ignore[arg-type]

    def matches(self, service: ServiceRef) -> bool:
        """Whether a service passes the cluster and service filters."""
        if self.cluster is not None and service.cluster != self.cluster:
            return False
        return self.service is None or service.key == self.service

    def to_params(self) -> dict[str, str]:
        """Query parameters for this view (only those that differ from the defaults)."""
        out: dict[str, str] = {"page": self.page}
        if self.cluster:
            out["cluster"] = self.cluster
        if self.service:
            out["service"] = self.service
        if self.since:
            out["since"] = format_time(self.since)
        if self.until:
            out["until"] = format_time(self.until)
        if self.rollout:
            out["rollout"] = self.rollout
        if self.node:
            out["node"] = self.node
        if self.live:
            out["live"] = "1"
        return out


def _time_param(params: Mapping[str, str], key: str, problems: list[str]) -> datetime | None:
    raw = (params.get(key) or "").strip()
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError as exc:
        problems.append(f"{key}: {exc}")
        return None


def from_params(params: Mapping[str, str]) -> tuple[Filters, list[str]]:
    """Filters from query parameters, and what was wrong with them (bad values are ignored)."""
    problems: list[str] = []
    page = params.get("page") or "overview"
    if page not in PAGES:
        problems.append(f"page: unknown page {page!r}")
        page = "overview"
    service = (params.get("service") or "").strip() or None
    if service is not None and service.count("/") != 1:
        problems.append(f"service: {service!r} is not namespace/name")
        service = None
    since = _time_param(params, "since", problems)
    until = _time_param(params, "until", problems)
    if since and until and since >= until:
        problems.append("since: not before until; the time range is ignored")
        since = until = None
    filters = Filters(
        page=page,
        cluster=(params.get("cluster") or "").strip() or None,
        service=service,
        since=since,
        until=until,
        rollout=(params.get("rollout") or "").strip() or None,
        node=(params.get("node") or "").strip() or None,
        live=params.get("live", "") in ("1", "true", "yes", "on"),
    )
    return filters, problems


def pick_service(services: list[ServiceRef], filters: Filters) -> ServiceRef | None:
    """The service the filters name, else the first one they allow (None when none)."""
    allowed = [s for s in services if filters.matches(s)]
    return allowed[0] if allowed else None


def match_rollout(wanted: str | None, ids: list[str]) -> tuple[str | None, str | None]:
    """The id of `ids` the URL's (or the session's) rollout names: itself, or the one id it is a
    prefix of (`gapwatch rollouts` prints the shortest unique prefix, `report --rollout` takes
    it); else None and what was wrong, for the page to say before it shows another rollout."""
    if wanted is None or wanted in ids:
        return wanted, None
    prefixed = [i for i in ids if i.startswith(wanted)]
    if len(prefixed) == 1:
        return prefixed[0], None
    if prefixed:
        return None, f"rollout {wanted!r} is the start of {len(prefixed)} ids: " + ", ".join(
            sorted(prefixed)
        )
    return None, (
        f"rollout {wanted!r} is none of the {len(ids)} rollouts and node disruptions in this "
        "range and filter (`gapwatch rollouts` lists them)"
    )
